package dev.tfcodec.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/**
 * {@code .tfc} files written or judged by tfcodec's Python reference
 * ({@code vectors/containers.txt}, {@code vectors/bad_containers.txt}).
 */
public class ContainerVectorsTest {

    /** Whole files: the header fields and every string's decoded values match. */
    @Test
    public void readsPythonContainers() throws Exception {
        List<Vectors.Record> records = Vectors.load("/vectors/containers.txt");
        Map<String, Vectors.Record> tables = Vectors.byName(records, "table");
        int checked = 0;
        for (Vectors.Record r : records) {
            if (!r.type.equals("container")) {
                continue;
            }
            Container c = Container.parse(r.bytes("bytes"));
            assertEquals(r.toString(), r.text("model"), c.modelId());
            assertEquals(r.toString(), r.text("weights"), c.weightsHashHex());
            assertEquals(r.toString(), r.longValue("height"), c.height());
            assertEquals(r.toString(), r.longValue("width"), c.width());
            assertEquals(r.toString(), r.longValue("rate"), c.rate());
            assertEquals(r.toString(), r.longValue("count"), c.stringCount());
            c.requireModel(r.text("model"), Vectors.parseHex(r.text("weights")));

            CdfTable table = Vectors.table(tables.get(r.text("table").trim()));
            List<String> indexes = r.all("index");
            List<String> fills = r.all("index_fill");
            List<String> values = r.all("values");
            assertEquals(r.toString(), c.stringCount(), values.size());
            int fill = 0;
            int listed = 0;
            for (int i = 0; i < c.stringCount(); i++) {
                int[] expected = Vectors.parseInts(values.get(i));
                int[] index;
                if (listed < indexes.size() && fills.isEmpty()) {
                    index = Vectors.parseInts(indexes.get(listed++));
                } else {
                    int[] spec = Vectors.parseInts(fills.get(fill++));
                    index = new int[spec[1]];
                    Arrays.fill(index, spec[0]);
                }
                int[] decoded = RangeDecoder.decodeIndex(table, index, c.string(i));
                assertArrayEquals(r + " string " + i, expected, decoded);
            }
            checked++;
        }
        assertTrue(checked >= 5);
    }

    /**
     * Broken and edited files: Java refuses exactly those Python refuses, with the same
     * message, and reads the others to the same header and string lengths.
     */
    @Test
    public void judgesFilesAsPythonDoes() throws Exception {
        List<Vectors.Record> records = Vectors.load("/vectors/bad_containers.txt");
        int refused = 0;
        int accepted = 0;
        for (Vectors.Record r : records) {
            long maxPixels = r.has("max_pixels") ? r.longValue("max_pixels") : Container.MAX_PIXELS;
            byte[] data = r.bytes("bytes");
            if (r.has("error")) {
                try {
                    Container.parse(data, maxPixels);
                    fail(r + ": Python refused it with \"" + r.text("error")
                            + "\", Java accepted it");
                } catch (TfcFormatException e) {
                    assertEquals(r.toString(), r.text("error"), e.getMessage());
                }
                refused++;
            } else {
                Container c = Container.parse(data, maxPixels);
                assertEquals(r.toString(), r.text("model"), c.modelId());
                assertEquals(r.toString(), r.text("weights"), c.weightsHashHex());
                assertEquals(r.toString(), r.longValue("height"), c.height());
                assertEquals(r.toString(), r.longValue("width"), c.width());
                assertEquals(r.toString(), r.longValue("rate"), c.rate());
                int[] lengths = r.ints("lengths");
                assertEquals(r.toString(), lengths.length, c.stringCount());
                for (int i = 0; i < lengths.length; i++) {
                    assertEquals(r + " string " + i, lengths[i], c.stringLength(i));
                }
                accepted++;
            }
        }
        assertTrue("refused " + refused, refused >= 400);
        assertTrue("accepted " + accepted, accepted >= 10);
    }

    /** Each check of docs/format.md has at least one named case. */
    @Test
    public void everyCheckIsCovered() throws Exception {
        List<Vectors.Record> records = Vectors.load("/vectors/bad_containers.txt");
        String[] needed = {
            "stream is empty",
            "not a tfcodec stream",
            "stream format version",
            "CRC-32 mismatch",
            "model id is not ASCII",
            "header claims an image",
            "coded strings",
            "string lengths do not match",
            "is not a valid length",
            "ends inside the magic",
            "ends inside the version",
            "ends inside the header",
            "ends inside the model id",
            "ends inside the weights hash",
            "ends inside the string lengths",
        };
        for (String what : needed) {
            boolean found = false;
            for (Vectors.Record r : records) {
                if (r.type.equals("bad") && r.has("error") && r.text("error").contains(what)) {
                    found = true;
                    break;
                }
            }
            assertTrue("no named case for: " + what, found);
        }
    }
}
