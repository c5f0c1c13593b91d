package dev.tfcodec.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assume.assumeTrue;

import java.io.File;
import java.io.FileInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/**
 * The shipped model's real tables and integer nets ({@code tfcodec/weights/cw2020-small-full-range.npz},
 * read from the checkout: a weights bundle is an npz too) decode and encode a stream exactly as
 * Python does ({@code shipped} record of latents.txt). Skipped when the checkout is not beside
 * the tests (a copied module) or when the bundle was retrained after the vectors were written.
 */
public class ShippedModelTest {
    private static File findBundle(String relative) {
        File dir = new File("").getAbsoluteFile();
        for (int up = 0; dir != null && up < 6; up++, dir = dir.getParentFile()) {
            File f = new File(dir, relative);
            if (f.isFile()) {
                return f;
            }
        }
        return null;
    }

    @Test
    public void decodesAndEncodesLikePython() throws Exception {
        Vectors.Record r = null;
        for (Vectors.Record x : LatentVectors.records()) {
            if (x.type.equals("shipped")) {
                r = x;
            }
        }
        assertEquals("a shipped record", true, r != null);
        File file = findBundle(r.text("bundle").trim());
        assumeTrue("bundle " + r.text("bundle") + " not found above " + new File("").getAbsolutePath(), file != null);
        byte[] bytes;
        try (InputStream in = new FileInputStream(file)) {
            bytes = EdgeCodec.readAll(in, 1 << 30);
        }
        String hash = EdgeCodec.sha256Hex(bytes).substring(0, 16);
        assumeTrue("the bundle was retrained (" + hash + ", vectors have " + r.text("hash").trim()
                + "): run tools/make_java_latent_vectors.py", hash.equals(r.text("hash").trim()));
        Map<String, NdArray> all = Npz.read(new java.io.ByteArrayInputStream(bytes));
        Map<String, NdArray> coding = new HashMap<>();
        for (Map.Entry<String, NdArray> e : all.entrySet()) {
            if (e.getKey().startsWith("coding/")) {
                coding.put(e.getKey().substring("coding/".length()), e.getValue());
            }
        }
        NdArray meta = all.get("__meta__");
        byte[] json = new byte[meta.size()];
        for (int i = 0; i < json.length; i++) {
            json[i] = (byte) meta.getLong(i);
        }
        Map<String, Object> m = Json.object(Json.parse(new String(json, StandardCharsets.UTF_8)), "meta");
        HyperpriorConfig config = HyperpriorConfig.fromJson(Json.object(m.get("config"), "config"));
        // Keras weights are float16 in the bundle: the reader takes them too.
        for (Map.Entry<String, NdArray> e : all.entrySet()) {
            if (e.getKey().startsWith("keras/")) {
                assertEquals(e.getKey(), "float16", e.getValue().dtype);
                e.getValue().toFloats();
            }
        }
        LatentCoder coder = new LatentCoder(config, coding, r.text("model").trim(),
                EdgeManifest.parseHex(hash, 8, "hash"));

        LatentCoder.Latents got = coder.decode(Container.parse(r.bytes("file")));
        assertArrayEquals(r.ints("z_int"), got.z.data);
        List<String> slices = r.all("slice");
        for (int i = 0; i < slices.size(); i++) {
            assertArrayEquals("slice " + i, Vectors.parseInts(slices.get(i)), got.slices.get(i).data);
        }
        assertArrayEquals(Vectors.parseInts(r.text("mean_features")), got.meanFeatures.data);

        LatentCoder.Encoded e = coder.encode(LatentVectors.floatTensor(r, "y_shape", "y"),
                LatentVectors.floatTensor(r, "z_shape", "z"));
        byte[] ours = ContainerWriter.pack(coder.modelId, coder.weightsHash(), (int) r.longValue("height"),
                (int) r.longValue("width"), (int) r.longValue("rate"), e.strings);
        assertEquals(Container.hex(r.bytes("file")), Container.hex(ours));
    }

    @Test
    public void halfFloatsConvertExactly() {
        assertEquals(1.0f, NdArray.halfToFloat((short) 0x3C00), 0);
        assertEquals(-2.0f, NdArray.halfToFloat((short) 0xC000), 0);
        assertEquals(65504f, NdArray.halfToFloat((short) 0x7BFF), 0);
        assertEquals((float) Math.pow(2, -24), NdArray.halfToFloat((short) 0x0001), 0);
        assertEquals(Float.POSITIVE_INFINITY, NdArray.halfToFloat((short) 0x7C00), 0);
        assertEquals(true, Float.isNaN(NdArray.halfToFloat((short) 0x7E00)));
        assertEquals(-0.0f, NdArray.halfToFloat((short) 0x8000), 0);
    }
}
