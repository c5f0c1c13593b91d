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
 * {@code net} records of latents.txt): every output value, bit for bit, for the three tiny
 * models' hyper-synthesis and slice nets and a stress net (1x1/5x5 kernels, left shifts,
 * saturation, 3x3 depth-to-space), on inputs that include values beyond the activation limit.
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
        assertTrue("net records: " + checked, checked >= 36);
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
