package dev.tfcodec.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import org.junit.Test;

/** The Gaussian scale table's row choice against {@code tfcodec.entropy.tables}. */
public class ScaleTableTest {
    private static Vectors.Record record(String type) throws Exception {
        for (Vectors.Record r : LatentVectors.records()) {
            if (r.type.equals(type)) {
                return r;
            }
        }
        throw new AssertionError("no " + type + " record");
    }

    private static Vectors.Record record(String type, String name) throws Exception {
        Vectors.Record r = Vectors.byName(LatentVectors.records(), type).get(name);
        if (r == null) {
            throw new AssertionError("no " + type + " " + name + " record");
        }
        return r;
    }

    @Test
    public void thresholdsArePythons() throws Exception {
        Vectors.Record r = record("thresholds");
        assertArrayEquals(r.ints("values"), ScaleTable.thresholds());
        assertEquals(r.longValue("levels"), ScaleTable.LEVELS);
    }

    @Test
    public void indicesArePythons() throws Exception {
        Vectors.Record r = record("scales", "sweep");
        int[] logs = r.ints("log_scale");
        int[] expected = r.ints("index");
        for (int i = 0; i < logs.length; i++) {
            assertEquals("log-scale " + logs[i], expected[i], ScaleTable.index(logs[i]));
        }
        assertEquals(0, ScaleTable.index(Integer.MIN_VALUE));
        assertEquals(ScaleTable.LEVELS - 1, ScaleTable.index(Integer.MAX_VALUE));
    }

    /** An imported model's own thresholds (CompressAI: of scales, not log-scales). */
    @Test
    public void linearIndicesArePythons() throws Exception {
        Vectors.Record r = record("scales", "linear");
        int[] thresholds = r.ints("thresholds");
        assertEquals(ScaleTable.LEVELS - 1, thresholds.length);
        assertArrayEquals(thresholds, LatentVectors.coding("tiny-import").get("gaussian/thresholds")
                .toInts("thresholds"));
        int[] scales = r.ints("scale");
        int[] expected = r.ints("index");
        for (int i = 0; i < scales.length; i++) {
            assertEquals("scale " + scales[i], expected[i], ScaleTable.index(thresholds, scales[i]));
        }
        assertEquals(0, ScaleTable.index(thresholds, Integer.MIN_VALUE));
        assertEquals(ScaleTable.LEVELS - 1, ScaleTable.index(thresholds, Integer.MAX_VALUE));
    }

    @Test
    public void gainsArePythons() throws Exception {
        int checked = 0;
        for (Vectors.Record r : LatentVectors.records()) {
            if (!r.type.equals("gain")) {
                continue;
            }
            NdArray table = LatentVectors.coding(r.text("model").trim()).get("gains/" + r.text("table").trim());
            float[] got = Gains.gainVector(table, r.longValue("rate") / 1000.0);
            int[] bits = r.ints("bits");
            assertEquals(bits.length, got.length);
            for (int i = 0; i < bits.length; i++) {
                float want = Float.intBitsToFloat(bits[i]);
                // exp may differ in the last bit between numpy's float32 and Java's double exp.
                assertEquals(r + " channel " + i, want, got[i], 2 * Math.ulp(want));
            }
            checked++;
        }
        assertEquals(5 * 2 * 6, checked);  // models x tables x qualities
    }
}
