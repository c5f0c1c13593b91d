package dev.tfcodec.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.Test;

/** Reading an export folder: manifest.json (Json, EdgeManifest) and coding.npz (Npz, NdArray). */
public class ExportFilesTest {
    @Test
    public void readsNumpysNpz() throws Exception {
        Map<String, NdArray> coding = LatentVectors.coding("tiny-cw");
        EdgeManifest m = LatentVectors.manifest("tiny-cw");
        assertEquals("tiny-cw", m.model);
        // Every array the manifest lists, with the exporter's dtypes.
        List<Object> names = Json.list(Json.object(Json.object(Json.parse(text("tiny-cw/manifest.json")), "m")
                .get("coding"), "coding").get("arrays"), "arrays");
        assertEquals(names.size(), coding.size());
        for (Object name : names) {
            assertTrue(name.toString(), coding.containsKey(name.toString()));
        }
        assertEquals("int32", coding.get("gaussian/lookup").dtype);
        assertArrayEquals(new int[] {64, 3076}, coding.get("gaussian/lookup").shape());
        assertEquals("int16", coding.get("int/mean_0/0/weights").dtype);
        assertEquals("int64", coding.get("int/hyper_synthesis/io").dtype);
        assertEquals("float32", coding.get("gains/log_gain").dtype);
        assertEquals(65536, coding.get("gaussian/lookup").getLong(3075));
        assertEquals(-16, coding.get("gaussian/lookup").getLong(0));
    }

    private static String text(String path) throws Exception {
        return new String(EdgeCodec.readAll(LatentVectors.open(path), 1 << 20), StandardCharsets.UTF_8);
    }

    @Test
    public void readsManifests() throws Exception {
        EdgeManifest cw = LatentVectors.manifest("tiny-cw");
        assertTrue(cw.config.channelwise());
        assertEquals(4, cw.config.numSlices);
        assertEquals(16, cw.config.latentChannels);
        assertArrayEquals(new String[] {"analysis", "hyper_analysis", "lrp_0", "lrp_1", "lrp_2", "lrp_3",
            "synthesis"}, cw.roles());
        assertEquals("coding.npz", cw.codingFile);
        assertEquals(16, cw.weightsHashHex().length());
        assertEquals(0, cw.inputHeight);
        EdgeManifest scale = LatentVectors.manifest("tiny-scale");
        assertFalse(scale.config.predictMeans);
        assertArrayEquals(new String[] {"analysis", "hyper_analysis", "synthesis"}, scale.roles());
        assertTrue(LatentVectors.manifest("tiny-mean").config.predictMeans);
        assertEquals("tfcodec", cw.config.layout);
        // An imported model: its layout is read; what it changes is in its coding arrays.
        EdgeManifest imported = LatentVectors.manifest("tiny-import");
        assertEquals("compressai", imported.config.layout);
        assertTrue(imported.config.predictMeans);
        assertEquals(2, imported.config.gainLevels);
        assertTrue(imported.config.toString(), imported.config.toString().contains("compressai layout"));
        assertArrayEquals(new String[] {"analysis", "hyper_analysis", "synthesis"}, imported.roles());
        Map<String, NdArray> coding = LatentVectors.coding("tiny-import");
        assertEquals("int64", coding.get("factorized/centres").dtype);
        assertArrayEquals(new int[] {6}, coding.get("factorized/centres").shape());
        assertEquals("int64", coding.get("gaussian/thresholds").dtype);
        assertArrayEquals(new int[] {63}, coding.get("gaussian/thresholds").shape());
        assertEquals(new LatentCoder(imported.config, coding, imported.model, imported.weightsHash()).config,
                imported.config);
        assertFalse(LatentVectors.coding("tiny-mean").containsKey("factorized/centres"));
    }

    @Test
    public void readsModelEntries() throws Exception {
        String json = "{\"format\": \"tfcodec-edge\", \"version\": 1, \"model\": \"m\", \"weights_hash\": "
                + "\"0123456789abcdef\", \"config\": {\"family\": \"cw2020\", \"latent_channels\": 8, "
                + "\"hyper_channels\": 4, \"predict_means\": true, \"num_slices\": 2, \"slice_hidden\": [4, 4], "
                + "\"gain_levels\": 8, \"lambda_min\": 0.0015}, \"input_size\": {\"height\": 512, \"width\": 768}, "
                + "\"models\": {\"analysis\": {\"file\": \"analysis.tflite\", \"sha256\": \"ab\", \"bytes\": 10, "
                + "\"inputs\": [{\"name\": \"serve_input:0\", \"dtype\": \"int8\", \"shape\": [1, 512, 768, 3], "
                + "\"shape_signature\": [1, 512, 768, 3], \"scale\": 0.00392156, \"zero_point\": -128}], "
                + "\"outputs\": [{\"name\": \"o\", \"dtype\": \"float32\", \"shape\": [1, 32, 48, 8], "
                + "\"shape_signature\": [1, -1, -1, 8]}]}}, \"coding\": {\"file\": \"coding.npz\"}, "
                + "\"edgetpu_check\": null}";
        EdgeManifest m = EdgeManifest.parse(json);
        assertEquals(512, m.inputHeight);
        assertEquals(768, m.inputWidth);
        EdgeManifest.ModelInfo a = m.models.get("analysis");
        assertEquals("analysis.tflite", a.file);
        EdgeManifest.TensorInfo in = a.inputs.get(0);
        assertTrue(in.quantized());
        assertEquals(-128, in.zeroPoint);
        assertFalse(in.dynamic());
        assertFalse(a.outputs.get(0).quantized());
        assertTrue(a.outputs.get(0).dynamic());
        assertNull(m.codingSha256);
        assertEquals("tfcodec", m.config.layout);  // manifests from before imports have none
        for (String layout : new String[] {"compressai", "tfc"}) {
            EdgeManifest withLayout = EdgeManifest.parse(json.replace("\"gain_levels\": 8,",
                    "\"gain_levels\": 8, \"layout\": \"" + layout + "\","));
            assertEquals(layout, withLayout.config.layout);
        }
        for (String bad : new String[] {
            json.replace("\"gain_levels\": 8,", "\"gain_levels\": 8, \"layout\": 3,"),
            json.replace("\"gain_levels\": 8,", "\"gain_levels\": 8, \"layout\": \"\","),
            json.replace("tfcodec-edge", "other"),
            json.replace("\"version\": 1", "\"version\": 2"),
            json.replace("0123456789abcdef", "0123"),
            json.replace("\"latent_channels\": 8", "\"latent_channels\": 7"),
            json.replace("\"model\": \"m\"", "\"model\": 5"),
            json.substring(0, json.length() - 1),
        }) {
            try {
                EdgeManifest.parse(bad);
                fail("accepted " + bad);
            } catch (TfcFormatException expected) {
                assertTrue(expected.getMessage(), expected.getMessage().length() > 10);
            }
        }
    }

    @Test
    public void parsesJson() throws Exception {
        Object v = Json.parse(" {\"a\": [1, -2.5e3, true, false, null, \"x\\u00e9\\n\\\"\"], \"b\": {}, \"c\": [],"
                + " \"d\": NaN, \"e\": -Infinity, \"f\": 12345678901234567890} ");
        Map<String, Object> m = Json.object(v, "top");
        List<Object> a = Json.list(m.get("a"), "a");
        assertEquals(1L, a.get(0));
        assertEquals(-2500.0, (Double) a.get(1), 0);
        assertEquals(Boolean.TRUE, a.get(2));
        assertNull(a.get(4));
        assertEquals("x\u00e9\n\"", a.get(5));
        assertTrue(Double.isNaN((Double) m.get("d")));
        assertEquals(Double.NEGATIVE_INFINITY, (Double) m.get("e"), 0);
        assertEquals(1.2345678901234567e19, (Double) m.get("f"), 1e4);
        for (String bad : new String[] {"", "{", "[1,]", "{\"a\" 1}", "\"abc", "tru", "{} x", "[\"\\q\"]", "01x"}) {
            try {
                Json.parse(bad);
                fail("parsed " + bad);
            } catch (TfcFormatException expected) {
                assertTrue(expected.getMessage().startsWith("bad JSON"));
            }
        }
        StringBuilder deep = new StringBuilder();
        for (int i = 0; i < 1000; i++) {
            deep.append('[');
        }
        try {
            Json.parse(deep.toString());
            fail("parsed 1000 nested arrays");
        } catch (TfcFormatException expected) {
            assertTrue(expected.getMessage().contains("deeply"));
        }
    }

    private static byte[] npy(String descr, String fortran, String shape, byte[] data, int version) {
        String header = "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }";
        StringBuilder padded = new StringBuilder(header);
        int prefix = version == 1 ? 10 : 12;
        while ((prefix + padded.length() + 1) % 64 != 0) {
            padded.append(' ');
        }
        padded.append('\n');
        byte[] h = padded.toString().getBytes(StandardCharsets.ISO_8859_1);
        ByteBuffer b = ByteBuffer.allocate(prefix + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', (byte) version, 0});
        if (version == 1) {
            b.putShort((short) h.length);
        } else {
            b.putInt(h.length);
        }
        b.put(h).put(data);
        return b.array();
    }

    private static byte[] zip(String name, byte[] content) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(out)) {
            z.putNextEntry(new ZipEntry(name));
            z.write(content);
            z.closeEntry();
        }
        return out.toByteArray();
    }

    @Test
    public void readsEveryDtypeAndShape() throws Exception {
        byte[] data = {1, 0, (byte) 0xFF, (byte) 0xFF, 2, 0, 3, 0};
        NdArray a = Npz.parseNpy(npy("<i2", "False", "(2, 2)", data, 1), "a");
        assertArrayEquals(new long[] {1, -1, 2, 3}, a.toLongs());
        NdArray u = Npz.parseNpy(npy("|u1", "False", "(8,)", data, 2), "u");
        assertEquals(255, u.getLong(2));
        assertEquals(1, u.rank());
        NdArray scalar = Npz.parseNpy(npy("<i4", "False", "()", new byte[] {7, 0, 0, 0}, 3), "s");
        assertEquals(0, scalar.rank());
        assertEquals(7, scalar.getLong(0));
        NdArray f = Npz.parseNpy(npy("<f4", "False", "(2,)", new byte[] {0, 0, (byte) 0x80, 0x3F, 0, 0, 0, (byte) 0xC0}, 1), "f");
        assertArrayEquals(new float[] {1.0f, -2.0f}, f.toFloats(), 0);
        Map<String, NdArray> z = Npz.read(new ByteArrayInputStream(zip("x/y.npy", npy("<i8", "False", "(1,)",
                new byte[] {5, 0, 0, 0, 0, 0, 0, 0}, 1))));
        assertEquals(5, z.get("x/y").getLong(0));
        try {
            NdArray.ofLongs(new long[] {1L << 40}, 1).toInts("big");
            fail("2^40 fits no int");
        } catch (TfcFormatException expected) {
            assertTrue(expected.getMessage().contains("32 bits"));
        }
    }

    @Test
    public void refusesWhatItCannotRead() throws Exception {
        byte[] four = new byte[4];
        String[][] cases = {
            {">i4", "False", "(1,)", "dtype >i4"},
            {"<c8", "False", "(1,)", "dtype <c8"},
            {"<i4", "True", "(1,)", "Fortran"},
            {"<i4", "False", "(2,)", "header says 8"},
            {"<i4", "False", "(-1,)", "bad shape"},
        };
        for (String[] c : cases) {
            try {
                Npz.parseNpy(npy(c[0], c[1], c[2], four, 1), "t");
                fail("read " + c[0] + " " + c[2]);
            } catch (TfcFormatException expected) {
                assertTrue(expected.getMessage(), expected.getMessage().contains(c[3]));
            }
        }
        for (byte[] bad : new byte[][] {new byte[0], "PK\u0003\u0004garbage".getBytes(StandardCharsets.ISO_8859_1),
            zip("a.npy", new byte[] {1, 2, 3}), zip("a.npy", "\u0093NUMPY\u0009\u0000".getBytes(StandardCharsets.ISO_8859_1))}) {
            try {
                Npz.read(new ByteArrayInputStream(bad));
                fail("read a broken npz");
            } catch (TfcFormatException expected) {
                assertTrue(expected.getMessage().length() > 5);
            }
        }
        try {
            Npz.read(new ByteArrayInputStream(zip("a.npy", npy("<i4", "False", "(1,)", four, 1))), 10);
            fail("read past the limit");
        } catch (TfcFormatException expected) {
            assertTrue(expected.getMessage().contains("larger"));
        }
    }
}
