package dev.tfcodec.core;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A small strict JSON reader for the export's {@code manifest.json} (the core has no
 * dependencies, and Android's {@code org.json} is not on a plain JVM).
 *
 * <p>Objects become {@code Map<String, Object>} (in file order), arrays {@code List<Object>},
 * strings {@code String}, numbers {@code Long} when written without fraction or exponent and
 * within range, {@code Double} otherwise (Python's {@code NaN}, {@code Infinity} and
 * {@code -Infinity} too), {@code true}/{@code false} {@code Boolean}, and {@code null} null.
 */
public final class Json {
    private final String text;
    private int pos;
    private int depth;
    private static final int MAX_DEPTH = 256;

    private Json(String text) {
        this.text = text;
    }

    /** Parses a whole document. */
    public static Object parse(String text) throws TfcFormatException {
        Json json = new Json(text);
        json.skipSpace();
        Object value = json.value();
        json.skipSpace();
        if (json.pos != text.length()) {
            throw json.error("unexpected text after the JSON value");
        }
        return value;
    }

    private TfcFormatException error(String what) {
        int line = 1;
        for (int i = 0; i < pos && i < text.length(); i++) {
            if (text.charAt(i) == '\n') {
                line++;
            }
        }
        return new TfcFormatException("bad JSON at line " + line + ": " + what);
    }

    private void skipSpace() {
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
                return;
            }
            pos++;
        }
    }

    private Object value() throws TfcFormatException {
        if (pos >= text.length()) {
            throw error("unexpected end");
        }
        char c = text.charAt(pos);
        switch (c) {
            case '{':
                return object();
            case '[':
                return array();
            case '"':
                return string();
            case 't':
                return literal("true", Boolean.TRUE);
            case 'f':
                return literal("false", Boolean.FALSE);
            case 'n':
                return literal("null", null);
            case 'N':
                return literal("NaN", Double.NaN);
            case 'I':
                return literal("Infinity", Double.POSITIVE_INFINITY);
            default:
                if (c == '-' && text.startsWith("-Infinity", pos)) {
                    return literal("-Infinity", Double.NEGATIVE_INFINITY);
                }
                if (c == '-' || (c >= '0' && c <= '9')) {
                    return number();
                }
                throw error("unexpected character '" + c + "'");
        }
    }

    private Object literal(String word, Object value) throws TfcFormatException {
        if (!text.startsWith(word, pos)) {
            throw error("expected " + word);
        }
        pos += word.length();
        return value;
    }

    private Map<String, Object> object() throws TfcFormatException {
        if (++depth > MAX_DEPTH) {
            throw error("nested too deeply");
        }
        Map<String, Object> out = new LinkedHashMap<>();
        pos++;
        skipSpace();
        if (pos < text.length() && text.charAt(pos) == '}') {
            pos++;
            depth--;
            return out;
        }
        while (true) {
            skipSpace();
            if (pos >= text.length() || text.charAt(pos) != '"') {
                throw error("expected a string key");
            }
            String key = string();
            skipSpace();
            expect(':');
            skipSpace();
            out.put(key, value());
            skipSpace();
            if (pos < text.length() && text.charAt(pos) == ',') {
                pos++;
                continue;
            }
            expect('}');
            depth--;
            return out;
        }
    }

    private List<Object> array() throws TfcFormatException {
        if (++depth > MAX_DEPTH) {
            throw error("nested too deeply");
        }
        List<Object> out = new ArrayList<>();
        pos++;
        skipSpace();
        if (pos < text.length() && text.charAt(pos) == ']') {
            pos++;
            depth--;
            return out;
        }
        while (true) {
            skipSpace();
            out.add(value());
            skipSpace();
            if (pos < text.length() && text.charAt(pos) == ',') {
                pos++;
                continue;
            }
            expect(']');
            depth--;
            return out;
        }
    }

    private void expect(char c) throws TfcFormatException {
        if (pos >= text.length() || text.charAt(pos) != c) {
            throw error("expected '" + c + "'");
        }
        pos++;
    }

    private String string() throws TfcFormatException {
        pos++;
        StringBuilder out = new StringBuilder();
        while (true) {
            if (pos >= text.length()) {
                throw error("unterminated string");
            }
            char c = text.charAt(pos++);
            if (c == '"') {
                return out.toString();
            }
            if (c < 0x20) {
                throw error("control character in a string");
            }
            if (c != '\\') {
                out.append(c);
                continue;
            }
            if (pos >= text.length()) {
                throw error("unterminated string");
            }
            char e = text.charAt(pos++);
            switch (e) {
                case '"':
                case '\\':
                case '/':
                    out.append(e);
                    break;
                case 'b':
                    out.append('\b');
                    break;
                case 'f':
                    out.append('\f');
                    break;
                case 'n':
                    out.append('\n');
                    break;
                case 'r':
                    out.append('\r');
                    break;
                case 't':
                    out.append('\t');
                    break;
                case 'u':
                    if (pos + 4 > text.length()) {
                        throw error("bad \\u escape");
                    }
                    try {
                        out.append((char) Integer.parseInt(text.substring(pos, pos + 4), 16));
                    } catch (NumberFormatException ex) {
                        throw error("bad \\u escape");
                    }
                    pos += 4;
                    break;
                default:
                    throw error("bad escape \\" + e);
            }
        }
    }

    private Object number() throws TfcFormatException {
        int start = pos;
        boolean integral = true;
        if (text.charAt(pos) == '-') {
            pos++;
        }
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c >= '0' && c <= '9') {
                pos++;
            } else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
                integral = false;
                pos++;
            } else {
                break;
            }
        }
        String s = text.substring(start, pos);
        try {
            if (integral) {
                try {
                    return Long.parseLong(s);
                } catch (NumberFormatException tooLong) {
                    return Double.parseDouble(s);
                }
            }
            return Double.parseDouble(s);
        } catch (NumberFormatException e) {
            throw error("bad number " + s);
        }
    }

    // -- typed access for the manifest -------------------------------------------------------

    /** {@code map.get(key)} as an object, or an error naming {@code where}. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> object(Object value, String where) throws TfcFormatException {
        if (!(value instanceof Map)) {
            throw new TfcFormatException(where + ": expected a JSON object");
        }
        return (Map<String, Object>) value;
    }

    @SuppressWarnings("unchecked")
    public static List<Object> list(Object value, String where) throws TfcFormatException {
        if (!(value instanceof List)) {
            throw new TfcFormatException(where + ": expected a JSON array");
        }
        return (List<Object>) value;
    }

    public static String string(Object value, String where) throws TfcFormatException {
        if (!(value instanceof String)) {
            throw new TfcFormatException(where + ": expected a string");
        }
        return (String) value;
    }

    public static long integer(Object value, String where) throws TfcFormatException {
        if (!(value instanceof Long)) {
            throw new TfcFormatException(where + ": expected an integer");
        }
        return (Long) value;
    }

    public static double number(Object value, String where) throws TfcFormatException {
        if (!(value instanceof Number)) {
            throw new TfcFormatException(where + ": expected a number");
        }
        return ((Number) value).doubleValue();
    }

    public static boolean bool(Object value, String where) throws TfcFormatException {
        if (!(value instanceof Boolean)) {
            throw new TfcFormatException(where + ": expected true or false");
        }
        return (Boolean) value;
    }

    /** A list of integers as an int array. */
    public static int[] ints(Object value, String where) throws TfcFormatException {
        List<Object> items = list(value, where);
        int[] out = new int[items.size()];
        for (int i = 0; i < out.length; i++) {
            long v = integer(items.get(i), where + "[" + i + "]");
            if (v != (int) v) {
                throw new TfcFormatException(where + "[" + i + "]: " + v + " out of range");
            }
            out[i] = (int) v;
        }
        return out;
    }
}
