package dev.tfcodec.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.List;
import java.util.Map;
import org.junit.BeforeClass;
import org.junit.Test;

/** Range-coded strings written by tfcodec's Python coder ({@code vectors/rangecoder.txt}). */
public class RangeCoderVectorsTest {
    private static List<Vectors.Record> records;
    private static Map<String, Vectors.Record> tables;

    @BeforeClass
    public static void load() throws Exception {
        records = Vectors.load("/vectors/rangecoder.txt");
        tables = Vectors.byName(records, "table");
    }

    private static CdfTable table(Vectors.Record c) throws TfcFormatException {
        Vectors.Record t = tables.get(c.text("table").trim());
        if (t == null) {
            throw new IllegalStateException(c + ": no table " + c.text("table"));
        }
        return Vectors.table(t);
    }

    @Test
    public void vectorsArePresent() {
        int cases = 0;
        int corrupt = 0;
        int random = 0;
        int precisions = 0;
        for (Vectors.Record r : records) {
            if (r.type.equals("case")) {
                cases++;
                if (r.name.startsWith("corrupt")) {
                    corrupt++;
                } else if (r.name.startsWith("random")) {
                    random++;
                }
            }
        }
        for (int p = 1; p <= 16; p++) {
            if (tables.containsKey("p" + p) && tables.containsKey("p" + p + "o")) {
                precisions++;
            }
        }
        assertTrue("cases: " + cases, cases >= 100);
        assertTrue("corrupt cases: " + corrupt, corrupt >= 30);
        assertTrue("random-table cases: " + random, random >= 40);
        assertEquals(16, precisions);
    }

    /** Every valid string decodes to exactly the values Python encoded. */
    @Test
    public void decodesPythonStrings() throws Exception {
        int checked = 0;
        for (Vectors.Record c : records) {
            if (!c.type.equals("case") || !c.has("reencode")) {
                continue;
            }
            int[] decoded = RangeDecoder.decodeIndex(table(c), c.ints("index"), c.bytes("string"));
            assertArrayEquals(c.toString(), c.ints("values"), decoded);
            checked++;
        }
        assertTrue(checked > 50);
    }

    /** On corrupted strings the Java decoder reaches the Python decoder's verdict. */
    @Test
    public void corruptStringsGetPythonsVerdict() throws Exception {
        for (Vectors.Record c : records) {
            if (!c.type.equals("case") || c.has("reencode")) {
                continue;
            }
            CdfTable table = table(c);
            if (c.has("error")) {
                try {
                    int[] out = RangeDecoder.decodeIndex(table, c.ints("index"), c.bytes("string"));
                    fail(c + " (" + c.text("note") + "): Python refused it (" + c.text("error")
                            + ") but Java decoded " + out.length + " values");
                } catch (TfcFormatException expected) {
                    // Messages differ between the languages; the verdict must not.
                }
            } else {
                int[] decoded = RangeDecoder.decodeIndex(table, c.ints("index"), c.bytes("string"));
                assertArrayEquals(c + " (" + c.text("note") + ")", c.ints("values"), decoded);
            }
        }
    }

    /** Every table record is accepted, and its rows read as Python reads them. */
    @Test
    public void tablesParse() throws Exception {
        for (Vectors.Record t : tables.values()) {
            CdfTable table = Vectors.table(t);
            assertTrue(t.toString(), table.size() > 0);
            for (int r = 0; r < table.size(); r++) {
                int[] cdf = table.cdf(r);
                assertEquals(0, cdf[0]);
                assertEquals(1 << Math.abs(table.precision(r)), cdf[cdf.length - 1]);
            }
        }
        assertEquals(3, Vectors.table(tables.get("flat")).size());
    }
}
