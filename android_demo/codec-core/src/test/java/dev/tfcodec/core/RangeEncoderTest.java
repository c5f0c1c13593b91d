package dev.tfcodec.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.List;
import java.util.Map;
import org.junit.Test;

/** The app's range encoder writes Python's (and TFC's) strings, and refuses what TFC refuses. */
public class RangeEncoderTest {
    /**
     * Byte for byte the strings of {@code vectors/rangecoder.txt}: every precision, overflow
     * coding, the coder's rare states and random tables. Python's coder is the reference (its
     * own tests hold it to TFC's); {@link RangeDecoderTest} round-trips what this encoder writes.
     */
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
        assertTrue("cases: " + checked, checked > 50);
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
