package dev.tfcodec.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.Arrays;
import java.util.Random;
import org.junit.Test;

/**
 * Unit and property tests of {@link RangeDecoder} and {@link CdfTable}. The property tests'
 * strings come from {@link RangeEncoder}, which {@link RangeEncoderTest} holds to Python's bytes.
 */
public class RangeDecoderTest {

    /** A random CDF over {@code symbols} symbols at {@code precision}, with some zero entries. */
    static int[] randomCdf(Random rng, int symbols, int precision, boolean allowZero) {
        int total = 1 << precision;
        int[] cdf = new int[symbols + 1];
        // Every symbol (except, optionally, some before the last) gets at least one count; the
        // rest is spread with decaying random weights, like a real distribution.
        int[] counts = new int[symbols];
        double[] weights = new double[symbols];
        double weightSum = 0;
        int used = 0;
        for (int i = 0; i < symbols; i++) {
            boolean zero = allowZero && i < symbols - 1 && rng.nextInt(5) == 0;
            counts[i] = zero ? 0 : 1;
            weights[i] = zero ? 0 : rng.nextDouble() * Math.exp(-3.0 * i / symbols);
            weightSum += weights[i];
            used += counts[i];
        }
        if (used > total) {
            throw new IllegalArgumentException("too many symbols for the precision");
        }
        int left = total - used;
        int spread = 0;
        for (int i = 0; i < symbols && weightSum > 0; i++) {
            int extra = (int) Math.floor(left * weights[i] / weightSum);
            counts[i] += extra;
            spread += extra;
        }
        counts[symbols - 1] += left - spread;
        for (int i = 0; i < symbols; i++) {
            cdf[i + 1] = cdf[i] + counts[i];
        }
        return cdf;
    }

    static int[] row(int precision, int[] cdf, int padding) {
        int p = Math.abs(precision);
        int[] row = new int[1 + cdf.length + padding];
        row[0] = precision;
        System.arraycopy(cdf, 0, row, 1, cdf.length);
        Arrays.fill(row, 1 + cdf.length, row.length, 1 << p);
        return row;
    }

    /** A random table: rows of random precision, symbol count and overflow flag. */
    static CdfTable randomTable(Random rng, int rows, boolean overflow) throws TfcFormatException {
        int[][] matrix = new int[rows][];
        int width = 0;
        for (int r = 0; r < rows; r++) {
            int precision = 1 + rng.nextInt(16);
            int maxSymbols = Math.min(1 << precision, 40);
            int symbols = 1 + rng.nextInt(maxSymbols);
            matrix[r] = row(overflow && rng.nextBoolean() ? -precision : precision,
                    randomCdf(rng, symbols, precision, true), 0);
            width = Math.max(width, matrix[r].length);
        }
        for (int r = 0; r < rows; r++) {
            int p = Math.abs(matrix[r][0]);
            int[] padded = Arrays.copyOf(matrix[r], width);
            Arrays.fill(padded, matrix[r].length, width, 1 << p);
            matrix[r] = padded;
        }
        return CdfTable.fromRows(matrix);
    }

    /** A value that has non-zero probability in the row (or any value for overflow rows). */
    static int randomValue(Random rng, CdfTable table, int row) {
        int[] cdf = table.cdf(row);
        if (table.isOverflow(row) && rng.nextInt(4) == 0) {
            int escape = cdf.length - 2;
            switch (rng.nextInt(4)) {
                case 0:
                    return -1 - rng.nextInt(5);
                case 1:
                    return escape + rng.nextInt(5);
                case 2:
                    return -(1 + rng.nextInt((1 << 30) - 1));
                default:
                    return escape - 1 + 1 + rng.nextInt((1 << 30) - 1);
            }
        }
        int limit = table.isOverflow(row) ? cdf.length - 2 : cdf.length - 1;
        int[] possible = new int[limit];
        int count = 0;
        for (int v = 0; v < limit; v++) {
            if (cdf[v] != cdf[v + 1]) {
                possible[count++] = v;
            }
        }
        if (count == 0) {
            // Only the escape has mass: the escape's own index is coded through it.
            return cdf.length - 2;
        }
        return possible[rng.nextInt(count)];
    }

    @Test
    public void emptyStringDecodesNothing() throws Exception {
        CdfTable table = CdfTable.fromRows(new int[][] {{8, 0, 100, 256}});
        assertEquals(0, RangeDecoder.decodeIndex(table, new int[0], new byte[0]).length);
        assertArrayEquals(new byte[0], RangeEncoder.encodeIndex(table, new int[0], new int[0]));
    }

    @Test
    public void roundTripsRandomData() throws Exception {
        Random rng = new Random(20240611);
        for (int trial = 0; trial < 300; trial++) {
            CdfTable table = randomTable(rng, 1 + rng.nextInt(6), trial % 2 == 1);
            int n = rng.nextInt(400);
            int[] index = new int[n];
            int[] values = new int[n];
            for (int i = 0; i < n; i++) {
                index[i] = rng.nextInt(table.size());
                values[i] = randomValue(rng, table, index[i]);
            }
            byte[] string = RangeEncoder.encodeIndex(table, index, values);
            int[] decoded = RangeDecoder.decodeIndex(table, index, string);
            assertArrayEquals("trial " + trial, values, decoded);
        }
    }

    @Test
    public void streamingMatchesOneShot() throws Exception {
        Random rng = new Random(7);
        CdfTable table = randomTable(rng, 4, true);
        int[] index = new int[500];
        int[] values = new int[500];
        for (int i = 0; i < index.length; i++) {
            index[i] = i % 4;
            values[i] = randomValue(rng, table, index[i]);
        }
        byte[] string = RangeEncoder.encodeIndex(table, index, values);
        byte[] framed = new byte[string.length + 10];
        Arrays.fill(framed, (byte) 0x5A);
        System.arraycopy(string, 0, framed, 3, string.length);
        RangeDecoder decoder = new RangeDecoder(framed, 3, string.length);
        int[] out = new int[500];
        decoder.decode(table, index, out, 0, 100);
        for (int i = 100; i < 200; i++) {
            out[i] = decoder.decode(table, index[i]);
        }
        decoder.decode(table, index, out, 200, 300);
        assertTrue(decoder.endCheck());
        decoder.finish();
        assertArrayEquals(values, out);
        assertArrayEquals(values, RangeDecoder.decodeChannel(table, 500, string));
    }

    @Test
    public void everyPrecisionAndExtremeCdfs() throws Exception {
        for (int p = 1; p <= 16; p++) {
            int total = 1 << p;
            // Most skewed: one symbol with all but one count, one with a single count.
            int[][] rows = {
                {p, 0, total - 1, total},
                {p, 0, 1, total},
                {-p, 0, total},  // escape only
                {p, 0, total, total, total},  // one symbol, padded
            };
            CdfTable table = CdfTable.fromRows(rows);
            int[] index = new int[400];
            int[] values = new int[400];
            Random rng = new Random(p);
            for (int i = 0; i < index.length; i++) {
                index[i] = rng.nextInt(4);
                values[i] = randomValue(rng, table, index[i]);
            }
            byte[] string = RangeEncoder.encodeIndex(table, index, values);
            assertArrayEquals("precision " + p, values,
                    RangeDecoder.decodeIndex(table, index, string));
        }
    }

    @Test
    public void overflowExtremes() throws Exception {
        CdfTable table = CdfTable.fromRows(new int[][] {{-4, 0, 5, 9, 16}});
        int big = (1 << 30) - 1;
        // Largest magnitudes TFC's encoder can write: gamma = 2^30 - 1 either way.
        int[] values = {0, 1, 2, 3, -1, -big, big + 1, 1000, -1000, 2, 0};
        int[] index = new int[values.length];
        byte[] string = RangeEncoder.encodeIndex(table, index, values);
        assertArrayEquals(values, RangeDecoder.decodeIndex(table, index, string));
    }

    @Test
    public void overflowCodeTooLongIsAFormatError() throws Exception {
        // Only the escape symbol: every value goes through the Elias-gamma code, and an all-zero
        // string reads as an endless run of leading zeros.
        CdfTable table = CdfTable.fromRows(new int[][] {{-8, 0, 256}});
        try {
            RangeDecoder.decodeIndex(table, new int[] {0}, new byte[64]);
            fail("expected TfcFormatException");
        } catch (TfcFormatException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().contains("leading zeros"));
        }
    }

    @Test
    public void indexOutOfRangeIsAFormatError() throws Exception {
        CdfTable table = CdfTable.fromRows(new int[][] {{8, 0, 100, 256}});
        for (int bad : new int[] {-1, 1, Integer.MAX_VALUE, Integer.MIN_VALUE}) {
            try {
                RangeDecoder.decodeIndex(table, new int[] {0, bad}, new byte[] {1, 2, 3});
                fail("expected TfcFormatException for index " + bad);
            } catch (TfcFormatException expected) {
                assertTrue(expected.getMessage().contains("index=" + bad));
            }
        }
    }

    @Test
    public void endCheckCatchesExtraBytesAndWrongCounts() throws Exception {
        Random rng = new Random(99);
        CdfTable table = randomTable(rng, 3, false);
        int[] index = new int[300];
        int[] values = new int[300];
        for (int i = 0; i < index.length; i++) {
            index[i] = rng.nextInt(3);
            values[i] = randomValue(rng, table, index[i]);
        }
        byte[] string = RangeEncoder.encodeIndex(table, index, values);
        // Far more bytes than the values can explain: the decoder cannot reach the end.
        byte[] longer = Arrays.copyOf(string, string.length + 64);
        Arrays.fill(longer, string.length, longer.length, (byte) 0x77);
        assertThrows(table, index, longer);
        // Decoding far fewer values leaves bytes unread.
        if (string.length > 8) {
            assertThrows(table, Arrays.copyOf(index, 10), string);
        }
    }

    private static void assertThrows(CdfTable table, int[] index, byte[] string) {
        try {
            RangeDecoder.decodeIndex(table, index, string);
            fail("expected TfcFormatException");
        } catch (TfcFormatException expected) {
            assertTrue(expected.getMessage().contains("end check"));
        }
    }

    /**
     * Random bytes, truncations and bit flips must decode to something or throw
     * TfcFormatException: never another exception, never a hang.
     */
    @Test
    public void garbageNeverThrowsAnythingElse() throws Exception {
        Random rng = new Random(12345);
        int errors = 0;
        int trials = 3000;
        for (int trial = 0; trial < trials; trial++) {
            CdfTable table = randomTable(rng, 1 + rng.nextInt(4), true);
            int n = rng.nextInt(200);
            int[] index = new int[n];
            for (int i = 0; i < n; i++) {
                index[i] = rng.nextInt(table.size());
            }
            byte[] garbage = new byte[rng.nextInt(300)];
            if (trial % 3 == 0) {
                Arrays.fill(garbage, (byte) (trial % 2 == 0 ? 0 : 0xFF));
            } else {
                rng.nextBytes(garbage);
            }
            try {
                int[] out = RangeDecoder.decodeIndex(table, index, garbage);
                assertEquals(n, out.length);
            } catch (TfcFormatException expected) {
                errors++;
            }
        }
        assertTrue("most garbage should fail the end check", errors > trials / 2);
    }

    @Test
    public void tableChecks() {
        String[][] cases = {
            {"premature", "8 0"},
            {"precision", "0 0 1"},
            {"precision", "17 0 131072"},
            {"precision", "-17 0 131072"},
            {"start with 0", "4 1 16"},
            {"monotonic", "4 0 9 8 16"},
            {"end with", "4 0 9 15"},
            {"end with", "4 0 16 16 3"},  // not padding after the end
            {"end with", "4 0 17 18"},  // passes 2^p: never equals it again
        };
        for (String[] c : cases) {
            int[] row = Vectors.parseInts(c[1]);
            try {
                CdfTable.fromRows(new int[][] {row});
                fail("table " + c[1] + " should be refused");
            } catch (TfcFormatException expected) {
                assertTrue(c[1] + ": " + expected.getMessage(),
                        expected.getMessage().contains(c[0]));
            }
        }
    }

    @Test
    public void tableLayouts() throws Exception {
        CdfTable rows = CdfTable.fromRows(new int[][] {
            {3, 0, 2, 2, 5, 8, 8, 8},
            {-2, 0, 1, 4, 4, 4, 4, 4},
        });
        assertEquals(2, rows.size());
        assertArrayEquals(new int[] {0, 2, 2, 5, 8}, rows.cdf(0));
        assertEquals(4, rows.symbolCount(0));
        assertEquals(-2, rows.precision(1));
        assertTrue(rows.isOverflow(1));
        assertFalse(rows.isOverflow(0));
        // The same CDFs as one flat vector, padding and all.
        CdfTable flat = CdfTable.fromFlat(new int[] {3, 0, 2, 2, 5, 8, 8, 8, -2, 0, 1, 4, 4});
        assertEquals(2, flat.size());
        assertArrayEquals(rows.cdf(0), flat.cdf(0));
        assertArrayEquals(rows.cdf(1), flat.cdf(1));
        // An [n, 0] matrix is an empty table.
        assertEquals(0, CdfTable.fromRows(new int[3][0]).size());
    }

    @Test
    public void quirkyFlatTableStillFailsWhereTfcFails() {
        // TFC's quirk: in a flat vector, a next precision equal to the previous 2^p reads as
        // padding, so "2 0 1 2 4" loses its precision and "0 1 2 4" has precision 0.
        try {
            CdfTable.fromFlat(new int[] {1, 0, 1, 2, 2, 0, 1, 2, 4});
            fail();
        } catch (TfcFormatException expected) {
            assertTrue(expected.getMessage().contains("precision=0"));
        }
    }
}
