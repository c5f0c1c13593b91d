package dev.tfcodec.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.Test;

/**
 * The integer entropy-parameter nets against {@code tfcodec.entropy.integer_net} (vectors:
 * {@code net} records of latents.txt): every output value, bit for bit, for the four tiny
 * models' hyper-synthesis and slice nets (tiny-import's with LeakyReLU layers, its input at
 * 2^-8) and a stress net (1x1/5x5 kernels, left shifts, saturation, 3x3 depth-to-space, a
 * LeakyReLU that floors), on inputs that include values beyond the activation limit.
 */
public class IntegerNetVectorsTest {
    private static void check(ExecutorService pool) throws Exception {
        int checked = 0;
        Map<String, IntegerNet> nets = new HashMap<>();
        for (Vectors.Record r : LatentVectors.records()) {
            if (!r.type.equals("net")) {
                continue;
            }
            String model = r.text("model").trim();
            String prefix = r.text("prefix").trim();
            IntegerNet net = nets.get(model + prefix);
            if (net == null) {
                net = IntegerNet.fromArrays(LatentVectors.coding(model), prefix);
                nets.put(model + prefix, net);
            }
            int[] shape = r.ints("shape");
            int[] input = r.ints("input");
            int[] copy = input.clone();
            IntTensor out = net.apply(new IntTensor(shape[0], shape[1], shape[2], input), pool);
            assertArrayEquals(r + ": the input must not change", copy, input);
            int[] expectedShape = r.ints("output_shape");
            assertArrayEquals(r.toString(), expectedShape, new int[] {out.height, out.width, out.channels});
            int[] expected = r.ints("output");
            if (!Arrays.equals(expected, out.data)) {
                for (int i = 0; i < expected.length; i++) {
                    if (expected[i] != out.data[i]) {
                        fail(r + ": output " + i + " is " + out.data[i] + ", Python has " + expected[i]);
                    }
                }
            }
            checked++;
        }
        assertTrue("net records: " + checked, checked >= 39);
    }

    /** The vectors do run LeakyReLU layers: the stress net's and tiny-import's hyper synthesis. */
    @Test
    public void vectorsCoverLeakyRelu() throws Exception {
        String[][] nets = {{"stress", "int/stress"}, {"tiny-import", "int/hyper_synthesis"}};
        for (String[] n : nets) {
            Map<String, NdArray> arrays = LatentVectors.coding(n[0]);
            int leaky = 0;
            long layers = arrays.get(n[1] + "/io").getLong(2);
            for (int i = 0; i < layers; i++) {
                long[] kind = arrays.get(n[1] + "/" + i + "/kind").toLongs();
                if (kind[0] == 3) {
                    assertTrue(n[1] + " slope " + kind[1], kind[1] > 0 && kind[1] < 1 << IntegerNet.SLOPE_EXPONENT);
                    leaky++;
                }
            }
            assertTrue(n[0] + ": " + leaky + " LeakyReLU layers", leaky >= 1);
        }
        assertEquals(8, IntegerNet.fromArrays(LatentVectors.coding("tiny-import"), "int/hyper_synthesis")
                .inputExponent);
    }

    /** numpy's {@code (x * slope) >> 16} floors: -1 * (1/3) is -1, not 0 as a division gives. */
    @Test
    public void leakyReluFloors() throws Exception {
        Map<String, NdArray> arrays = new HashMap<>();
        arrays.put("n/io", NdArray.ofLongs(new long[] {0, 0, 1}, 3));
        arrays.put("n/0/kind", NdArray.ofLongs(new long[] {3, 21845}, 2));
        IntegerNet net = IntegerNet.fromArrays(arrays, "n");
        int limit = IntegerNet.ACTIVATION_LIMIT;
        int[] in = {-1, -2, -3, -4, -65536, -65537, 0, 1, 5, -limit, limit, Integer.MIN_VALUE};
        IntTensor out = net.apply(new IntTensor(1, in.length, 1, in));
        long[] expected = new long[in.length];
        for (int i = 0; i < in.length; i++) {
            long x = Math.max(-limit, Math.min(limit, in[i]));  // the input saturates first
            expected[i] = x < 0 ? Math.floorDiv(x * 21845, 65536) : x;
        }
        assertEquals(-1, expected[0]);
        assertEquals(-21846, expected[5]);  // -65537 * 21845 / 65536 = -21845.33
        for (int i = 0; i < in.length; i++) {
            assertEquals("x = " + in[i], expected[i], out.data[i]);
        }
        // Slopes 0 (ReLU) and 2^16 (identity) are the ends of the range.
        arrays.put("n/0/kind", NdArray.ofLongs(new long[] {3, 0}, 2));
        assertArrayEquals(new int[] {0, 0, 7}, IntegerNet.fromArrays(arrays, "n")
                .apply(new IntTensor(1, 3, 1, new int[] {-5, 0, 7})).data);
        arrays.put("n/0/kind", NdArray.ofLongs(new long[] {3, 1 << 16}, 2));
        assertArrayEquals(new int[] {-5, 0, 7}, IntegerNet.fromArrays(arrays, "n")
                .apply(new IntTensor(1, 3, 1, new int[] {-5, 0, 7})).data);
    }

    @Test
    public void matchesPythonOnOneThread() throws Exception {
        check(null);
    }

    @Test
    public void matchesPythonOnAPool() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try {
            check(pool);
        } finally {
            pool.shutdown();
        }
    }

    @Test
    public void shiftRoundsHalfUp() {
        assertEquals(1, IntegerNet.shiftRound(1, 1));    // 0.5 -> 1
        assertEquals(0, IntegerNet.shiftRound(-1, 1));   // -0.5 -> 0
        assertEquals(-1, IntegerNet.shiftRound(-3, 1));  // -1.5 -> -1
        assertEquals(3, IntegerNet.shiftRound(5, 1));    // 2.5 -> 3
        assertEquals(-12, IntegerNet.shiftRound(-3, -2)); // negative shift: multiply by 4
        assertEquals(0, IntegerNet.shiftRound(7, 40));
    }

    @Test
    public void depthToSpaceIsDcr() {
        // One pixel with 4 channels -> 2x2 pixels with one channel, channel k at (k / 2, k % 2).
        IntTensor t = IntegerNet.depthToSpace(new IntTensor(1, 1, 4, new int[] {10, 11, 12, 13}), 2);
        assertArrayEquals(new int[] {10, 11, 12, 13}, t.data);
        assertEquals(2, t.height);
        // Two channels per output pixel keep their order.
        t = IntegerNet.depthToSpace(new IntTensor(1, 1, 8, new int[] {0, 1, 2, 3, 4, 5, 6, 7}), 2);
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6, 7}, t.data);
        assertEquals(2, t.channels);
    }

    @Test
    public void refusesBrokenNets() throws Exception {
        Map<String, NdArray> good = LatentVectors.coding("tiny-cw");
        Map<String, NdArray> arrays = new HashMap<>(good);
        arrays.remove("int/mean_0/2/bias");
        expectBad(arrays, "int/mean_0", "int/mean_0/2/bias");
        arrays = new HashMap<>(good);
        long[] shifts = new long[12];
        shifts[3] = 64;
        arrays.put("int/mean_0/0/shift", NdArray.ofLongs(shifts, 12));
        expectBad(arrays, "int/mean_0", "shift 64");
        arrays = new HashMap<>(good);
        arrays.put("int/mean_0/1/kind", NdArray.ofLongs(new long[] {7, 0}, 2));
        expectBad(arrays, "int/mean_0", "unknown layer kind 7");
        // The next kind Python may add, and a negative one, are refused as well.
        arrays.put("int/mean_0/1/kind", NdArray.ofLongs(new long[] {4, 0}, 2));
        expectBad(arrays, "int/mean_0", "int/mean_0/1: unknown layer kind 4");
        arrays.put("int/mean_0/1/kind", NdArray.ofLongs(new long[] {-1, 0}, 2));
        expectBad(arrays, "int/mean_0", "unknown layer kind -1");
        arrays.put("int/mean_0/1/kind", NdArray.ofLongs(new long[] {3, -1}, 2));
        expectBad(arrays, "int/mean_0", "LeakyReLU slope -1 outside [0, 2^16]");
        arrays.put("int/mean_0/1/kind", NdArray.ofLongs(new long[] {3, 65537}, 2));
        expectBad(arrays, "int/mean_0", "LeakyReLU slope 65537");
        arrays = new HashMap<>(good);
        arrays.put("int/mean_0/0/weights", NdArray.ofLongs(new long[2 * 2 * 16 * 12], 2, 2, 16, 12));
        expectBad(arrays, "int/mean_0", "odd");
        // A net whose layers do not chain is caught by outputChannels.
        IntegerNet net = IntegerNet.fromArrays(good, "int/mean_1");
        try {
            net.outputChannels(16);
            fail("mean_1 takes 20 channels");
        } catch (TfcFormatException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().contains("takes 20 channels, gets 16"));
        }
        assertEquals(4, net.outputChannels(20));
    }

    private static void expectBad(Map<String, NdArray> arrays, String prefix, String message) {
        try {
            IntegerNet.fromArrays(arrays, prefix);
            fail("accepted a broken " + prefix);
        } catch (TfcFormatException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().contains(message));
        }
    }
}
