package dev.tfcodec.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.Test;

/**
 * Whole latent streams against {@code tfcodec.codecs.latent_coding.LatentCoder} ({@code stream}
 * and {@code bad} records of latents.txt): Java decodes Python's files to the same fixed-point
 * latents, hyper-latent and mean features, and encodes Python's y and z to the same file, byte
 * for byte; streams Python refuses are refused. The five tiny models include two imported ones
 * ({@code tiny-import}: z's bin centres off the integers, linear scale thresholds, LeakyReLU in
 * its hyper synthesis; {@code tiny-tfc}: TFC's 12-bit Gaussian tables, rows rounded down).
 */
public class LatentStreamVectorsTest {
    private static List<Vectors.Record> streams() throws Exception {
        List<Vectors.Record> out = new ArrayList<>();
        for (Vectors.Record r : LatentVectors.records()) {
            if (r.type.equals("stream")) {
                out.add(r);
            }
        }
        assertTrue("stream records: " + out.size(), out.size() >= 9);
        return out;
    }

    private static void checkLatents(Vectors.Record r, LatentCoder.Latents got) {
        assertArrayEquals(r + " z", r.ints("z_int"), got.z.data);
        List<String> slices = r.all("slice");
        assertEquals(r.toString(), slices.size(), got.slices.size());
        for (int i = 0; i < slices.size(); i++) {
            assertArrayEquals(r + " slice " + i, Vectors.parseInts(slices.get(i)), got.slices.get(i).data);
        }
        String mean = r.text("mean_features").trim();
        if (mean.equals("-")) {
            assertNull(got.meanFeatures);
        } else {
            assertArrayEquals(r + " mean features", Vectors.parseInts(mean), got.meanFeatures.data);
        }
    }

    @Test
    public void decodesPythonStreams() throws Exception {
        Set<String> models = new HashSet<>();
        Set<Integer> streamCounts = new HashSet<>();
        for (Vectors.Record r : streams()) {
            LatentCoder coder = LatentVectors.coder(r.text("model").trim());
            Container c = Container.parse(r.bytes("file"));
            assertEquals(r.longValue("height"), c.height());
            assertEquals(r.longValue("rate"), c.rate());
            checkLatents(r, coder.decode(c));
            models.add(coder.modelId);
            streamCounts.add((int) r.longValue("streams"));
        }
        assertEquals(5, models.size());
        assertTrue(models.contains("tiny-import"));
        assertTrue(models.contains("tiny-tfc"));
        assertTrue("one and several streams per part: " + streamCounts, streamCounts.size() >= 3);
    }

    /**
     * The imported model's coding arrays matter: without its bin centres or its linear
     * thresholds, the same file decodes to other latents (or not at all).
     */
    @Test
    public void importedModelNeedsItsCentresAndThresholds() throws Exception {
        EdgeManifest m = LatentVectors.manifest("tiny-import");
        assertEquals("compressai", m.config.layout);
        for (Vectors.Record r : streams()) {
            if (!r.text("model").trim().equals("tiny-import")) {
                continue;
            }
            for (String drop : new String[] {"factorized/centres", "gaussian/thresholds"}) {
                Map<String, NdArray> arrays = plainCoding("tiny-import");
                arrays.remove(drop);
                LatentCoder coder = new LatentCoder(m.config, arrays, m.model, m.weightsHash());
                try {
                    LatentCoder.Latents got = coder.decode(Container.parse(r.bytes("file")));
                    boolean same = Arrays.equals(Vectors.parseInts(r.text("mean_features")), got.meanFeatures.data);
                    List<String> slices = r.all("slice");
                    for (int i = 0; i < slices.size(); i++) {
                        same &= Arrays.equals(Vectors.parseInts(slices.get(i)), got.slices.get(i).data);
                    }
                    assertFalse(r + " decodes the same without " + drop, same);
                } catch (TfcFormatException expected) {
                    assertTrue(expected.getMessage(), expected.getMessage().contains("corrupt"));
                }
            }
        }
    }

    private static Map<String, NdArray> plainCoding(String model) throws Exception {
        Map<String, NdArray> arrays = new HashMap<>(LatentVectors.coding(model));
        arrays.remove("gains/log_gain");
        arrays.remove("gains/log_inverse_gain");
        return arrays;
    }

    @Test
    public void refusesBrokenImportArrays() throws Exception {
        EdgeManifest m = LatentVectors.manifest("tiny-import");
        Map<String, NdArray> good = plainCoding("tiny-import");
        Map<String, NdArray> arrays = new HashMap<>(good);
        arrays.put("factorized/centres", NdArray.ofLongs(new long[5], 5));
        expectBad(m, arrays, "factorized/centres has shape [5]");
        arrays = new HashMap<>(good);
        arrays.put("factorized/centres", NdArray.ofFloats(new float[6], 6));
        expectBad(m, arrays, "factorized/centres is float32");
        arrays = new HashMap<>(good);
        arrays.put("gaussian/thresholds", NdArray.ofLongs(new long[64], 64));
        expectBad(m, arrays, "gaussian/thresholds has shape [64]");
        long[] thresholds = good.get("gaussian/thresholds").toLongs();
        long swap = thresholds[10];
        thresholds[10] = thresholds[11];
        thresholds[11] = swap;
        arrays.put("gaussian/thresholds", NdArray.ofLongs(thresholds, 63));
        expectBad(m, arrays, "gaussian/thresholds are not sorted (element 11");
        thresholds[11] = 1L << 40;
        arrays.put("gaussian/thresholds", NdArray.ofLongs(thresholds, 63));
        expectBad(m, arrays, "32 bits");
        arrays = new HashMap<>(good);
        arrays.put("int/hyper_synthesis/io", NdArray.ofLongs(new long[] {21, 8, 7}, 3));
        expectBad(m, arrays, "input exponent 21 outside [0, 20]");
        arrays.put("int/hyper_synthesis/io", NdArray.ofLongs(new long[] {-1, 8, 7}, 3));
        expectBad(m, arrays, "input exponent -1 outside");
        // The same arrays read: centres and exponent are the model's, not the tfcodec defaults.
        new LatentCoder(m.config, good, m.model, m.weightsHash());
    }

    private static void expectBad(EdgeManifest m, Map<String, NdArray> arrays, String message) {
        try {
            new LatentCoder(m.config, arrays, m.model, m.weightsHash());
            fail("accepted arrays with " + message);
        } catch (TfcFormatException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().contains(message));
        }
    }

    @Test
    public void decodesWithAThreadPool() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            for (Vectors.Record r : streams()) {
                LatentCoder coder = LatentVectors.coder(r.text("model").trim());
                coder.setExecutor(pool);
                checkLatents(r, coder.decode(Container.parse(r.bytes("file"))));
            }
        } finally {
            pool.shutdown();
        }
    }

    @Test
    public void encodesPythonsFiles() throws Exception {
        for (Vectors.Record r : streams()) {
            LatentCoder coder = LatentVectors.coder(r.text("model").trim());
            FloatTensor y = LatentVectors.floatTensor(r, "y_shape", "y");
            FloatTensor z = LatentVectors.floatTensor(r, "z_shape", "z");
            LatentCoder.Encoded e = coder.encode(y, z);
            assertEquals(r + " streams", r.longValue("streams"), e.streamsPerPart);
            byte[] file = ContainerWriter.pack(coder.modelId, coder.weightsHash(), (int) r.longValue("height"),
                    (int) r.longValue("width"), (int) r.longValue("rate"), e.strings);
            assertEquals(r.toString(), Container.hex(r.bytes("file")), Container.hex(file));
            // What the encoder keeps is what the decoder rebuilds.
            checkLatents(r, e.latents);
        }
    }

    @Test
    public void refusesWhatPythonRefuses() throws Exception {
        int refused = 0;
        for (Vectors.Record r : LatentVectors.records()) {
            if (!r.type.equals("bad")) {
                continue;
            }
            LatentCoder coder = LatentVectors.coder(r.text("model").trim());
            Container c = Container.parse(r.bytes("file"));
            if (r.text("verdict").trim().equals("ok")) {
                LatentCoder.Latents got = coder.decode(c);
                List<String> slices = r.all("slice");
                for (int i = 0; i < slices.size(); i++) {
                    assertArrayEquals(r + " slice " + i, Vectors.parseInts(slices.get(i)), got.slices.get(i).data);
                }
                continue;
            }
            try {
                coder.decode(c);
                fail(r + ": Python refused it (" + r.text("error") + "), Java decoded it");
            } catch (TfcFormatException expected) {
                String python = r.text("error");
                // The header and layout checks say what Python says; range-coder failures
                // name the string in both. How to pick another model is each front end's hint:
                // Python's CLIs add theirs, Java adds its own.
                if (python.startsWith("corrupt stream") || python.startsWith("stream was made")) {
                    String hint = python.startsWith("stream was made by model") ? ": decode it with that model's export"
                            : "";
                    assertEquals(r.toString(), python + hint, expected.getMessage());
                }
                refused++;
            }
        }
        assertTrue("refused: " + refused, refused >= 20);
    }

    @Test
    public void refusesUncodableLatents() throws Exception {
        LatentCoder coder = LatentVectors.coder("tiny-mean");
        FloatTensor y = new FloatTensor(4, 4, 12);
        FloatTensor z = new FloatTensor(1, 1, 6);
        coder.encode(y, z);
        y.data[5] = Float.NaN;
        try {
            coder.encode(y, z);
            fail("NaN encoded");
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.getMessage().contains("NaN"));
        }
        try {
            coder.encode(new FloatTensor(4, 8, 12), z);
            fail("mismatched z encoded");
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.getMessage().contains("do not fit"));
        }
    }

    @Test
    public void streamCountFollowsPython() {
        assertEquals(1, LatentCoder.streamsFor(100, 64));
        assertEquals(2, LatentCoder.streamsFor(320, 64));
        assertEquals(1, LatentCoder.streamsFor(320, 3));
        assertEquals(32, LatentCoder.streamsFor(1e9, 64));
        assertEquals(4, LatentCoder.streamsFor(1e9, 4));
        assertEquals(4, LatentCoder.latentSize(1));
        assertEquals(4, LatentCoder.latentSize(64));
        assertEquals(8, LatentCoder.latentSize(65));
    }
}
