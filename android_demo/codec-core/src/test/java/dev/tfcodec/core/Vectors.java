package dev.tfcodec.core;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Reader for the plain-text test vectors written by {@code tools/make_java_vectors.py}.
 *
 * <p>A file is a list of records. A record starts with a line {@code <type> <name>}, holds
 * lines {@code <key> <value>} (keys may repeat; the value is the rest of the line) and ends with
 * a line {@code end}. Blank lines and lines starting with {@code #} are ignored. Integers are
 * decimal and space-separated; byte strings are lowercase hex, {@code -} for no bytes.
 */
final class Vectors {
    static final class Field {
        final String key;
        final String value;

        Field(String key, String value) {
            this.key = key;
            this.value = value;
        }
    }

    static final class Record {
        final String type;
        final String name;
        final int line;
        final List<Field> fields = new ArrayList<>();

        Record(String type, String name, int line) {
            this.type = type;
            this.name = name;
            this.line = line;
        }

        List<String> all(String key) {
            List<String> out = new ArrayList<>();
            for (Field f : fields) {
                if (f.key.equals(key)) {
                    out.add(f.value);
                }
            }
            return out;
        }

        boolean has(String key) {
            return !all(key).isEmpty();
        }

        String text(String key) {
            List<String> values = all(key);
            if (values.size() != 1) {
                throw new IllegalStateException(this + ": expected one '" + key + "', found "
                        + values.size());
            }
            return values.get(0);
        }

        int[] ints(String key) {
            return parseInts(text(key));
        }

        long longValue(String key) {
            return Long.parseLong(text(key).trim());
        }

        byte[] bytes(String key) {
            return parseHex(text(key));
        }

        @Override
        public String toString() {
            return type + " " + name + " (line " + line + ")";
        }
    }

    private Vectors() {
    }

    static List<Record> load(String resource) throws IOException {
        InputStream in = Vectors.class.getResourceAsStream(resource);
        if (in == null) {
            throw new IOException("test vector resource " + resource + " not on the classpath "
                    + "(run tools/make_java_vectors.py?)");
        }
        List<Record> records = new ArrayList<>();
        try (BufferedReader reader = new BufferedReader(
                new InputStreamReader(in, StandardCharsets.UTF_8))) {
            Record current = null;
            String line;
            int number = 0;
            while ((line = reader.readLine()) != null) {
                number++;
                if (line.isEmpty() || line.startsWith("#")) {
                    continue;
                }
                int space = line.indexOf(' ');
                String key = space < 0 ? line : line.substring(0, space);
                String value = space < 0 ? "" : line.substring(space + 1);
                if (current == null) {
                    current = new Record(key, value, number);
                } else if (key.equals("end")) {
                    records.add(current);
                    current = null;
                } else {
                    current.fields.add(new Field(key, value));
                }
            }
            if (current != null) {
                throw new IOException(resource + ": record " + current + " has no end");
            }
        }
        return Collections.unmodifiableList(records);
    }

    /** Records of one type, by name. */
    static Map<String, Record> byName(List<Record> records, String type) {
        Map<String, Record> out = new HashMap<>();
        for (Record r : records) {
            if (r.type.equals(type)) {
                out.put(r.name, r);
            }
        }
        return out;
    }

    static int[] parseInts(String text) {
        String trimmed = text.trim();
        if (trimmed.isEmpty()) {
            return new int[0];
        }
        String[] parts = trimmed.split(" +");
        int[] out = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            out[i] = Integer.parseInt(parts[i]);
        }
        return out;
    }

    static byte[] parseHex(String text) {
        String hex = text.trim();
        if (hex.equals("-")) {
            return new byte[0];
        }
        if (hex.length() % 2 != 0) {
            throw new IllegalArgumentException("odd-length hex: " + hex);
        }
        byte[] out = new byte[hex.length() / 2];
        for (int i = 0; i < out.length; i++) {
            out[i] = (byte) Integer.parseInt(hex.substring(2 * i, 2 * i + 2), 16);
        }
        return out;
    }

    /** A table record: {@code kind rows} with one {@code row} line per row, or {@code kind flat}. */
    static CdfTable table(Record record) throws TfcFormatException {
        List<String> rows = record.all("row");
        String kind = record.text("kind").trim();
        if (kind.equals("flat")) {
            return CdfTable.fromFlat(parseInts(rows.get(0)));
        }
        int[][] matrix = new int[rows.size()][];
        for (int i = 0; i < matrix.length; i++) {
            matrix[i] = parseInts(rows.get(i));
        }
        return CdfTable.fromRows(matrix);
    }
}
