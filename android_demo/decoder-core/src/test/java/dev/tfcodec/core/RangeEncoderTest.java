package dev.tfcodec.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.Test;

/** The app's range encoder writes Python's (and TFC's) strings, and the decoder reads them back. */
public class RangeEncoderTest {
    @Test
    public void writesPythonsStrings() throws Exception {
        List<Vectors.Record> records = Vectors.load("/vectors/rangecoder.txt");
        Map<String, Vectors.Record> tables = Vectors.byName(records, "table");
        int checked = 0;
        for (Vectors.Record c : records) {
            if (!c.type.equals("case") || !c.has("reencode")) {
                continue;
            }
            CdfTable table = Vectors.table(tables.get(c.text("table").trim()));
            byte[] ours = RangeEncoder.encodeIndex(table, c.ints("index"), c.ints("values"));
            assertEquals(c.toString(), Container.hex(c.bytes("string")), Container.hex(ours));
            checked++;
        }
        assertTrue(checked > 50);
    }

    @Test
    public void roundTripsRandomData() throws Exception {
        Random random = new Random(5);
        for (int trial = 0; trial < 200; trial++) {
            int rows = 1 + random.nextInt(5);
            int[][] lookup = new int[rows][];
            for (int r = 0; r < rows; r++) {
                int precision = 1 + random.nextInt(16);
                boolean overflow = random.nextBoolean();
                int total = 1 << precision;
                // n symbols (for an overflow row, the last is the escape), each of frequency >= 1.
                int n = Math.min(total, (overflow ? 2 : 1) + random.nextInt(40));
                long[] weight = new long[n];
                long sum = 0;
                for (int k = 0; k < n; k++) {
                    weight[k] = 1 + random.nextInt(1000);
                    sum += weight[k];
                }
                lookup[r] = new int[n + 2];
                lookup[r][0] = overflow ? -precision : precision;
                long cumulative = 0;
                for (int k = 0; k < n; k++) {
                    lookup[r][1 + k] = (int) (cumulative * (total - n) / sum) + k;
                    cumulative += weight[k];
                }
                lookup[r][1 + n] = total;
            }
            CdfTable table = CdfTable.fromRows(lookup);
            int count = random.nextInt(300);
            int[] index = new int[count];
            int[] values = new int[count];
            for (int i = 0; i < count; i++) {
                index[i] = random.nextInt(rows);
                int n = table.symbolCount(index[i]);
                if (table.isOverflow(index[i])) {
                    int pick = random.nextInt(10);
                    values[i] = pick == 0 ? -random.nextInt(1 << random.nextInt(30))
                            : pick == 1 ? n - 1 + random.nextInt(1 << random.nextInt(29)) : random.nextInt(Math.max(1, n - 1));
                } else {
                    values[i] = random.nextInt(n);
                }
            }
            byte[] ours = RangeEncoder.encodeIndex(table, index, values);
            assertEquals("trial " + trial, Container.hex(TestRangeEncoder.encodeIndex(table, index, values)),
                    Container.hex(ours));
            assertArrayEquals("trial " + trial, values, RangeDecoder.decodeIndex(table, index, ours));
        }
    }

    @Test
    public void refusesWhatItCannotCode() throws Exception {
        CdfTable plain = CdfTable.fromRows(new int[][] {{2, 0, 1, 4}});
        CdfTable overflow = CdfTable.fromRows(new int[][] {{-2, 0, 1, 3, 4}});
        CdfTable zero = CdfTable.fromRows(new int[][] {{2, 0, 0, 4}});
        expectRefused(plain, 0, 2);
        expectRefused(plain, 0, -1);
        expectRefused(plain, 1, 0);
        expectRefused(overflow, 0, (1 << 30) + 1);
        expectRefused(overflow, 0, -(1 << 30));
        expectRefused(zero, 0, 0);
        RangeEncoder e = new RangeEncoder();
        e.encode(overflow, 0, (1 << 30) - 1);
        e.encode(overflow, 0, -((1 << 30) - 1));
        byte[] s = e.finish();
        assertArrayEquals(new int[] {(1 << 30) - 1, -((1 << 30) - 1)},
                RangeDecoder.decodeIndex(overflow, new int[] {0, 0}, s));
        try {
            e.finish();
            fail("finished twice");
        } catch (IllegalStateException expected) {
            // one string per encoder
        }
    }

    private static void expectRefused(CdfTable table, int row, int value) {
        try {
            new RangeEncoder().encode(table, row, value);
            fail("encoded " + value + " with row " + row);
        } catch (IllegalArgumentException expected) {
            // refused before anything is written
        }
    }
}
