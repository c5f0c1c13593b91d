package dev.tfcodec.core;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.zip.CRC32;

/**
 * A parsed and checked {@code .tfc} file (format version 1, {@code docs/format.md}): one
 * compressed image's header and its range-coded strings.
 *
 * <p>{@link #parse(byte[])} makes the same checks as the Python reference
 * {@code tfcodec.container.unpack}, in the same order, with the same limits and the same
 * messages: empty input, wrong magic, unknown version, CRC-32 over everything before the last
 * four bytes, image size (each side 1..65536, at most {@code maxPixels} pixels), at most 4096
 * strings, string lengths (unsigned LEB128, at most 6 bytes each) adding up exactly to the bytes
 * present. Nothing is allocated from a header value before it is checked against the bytes
 * present. Matching the model id and weights hash against the decoding model is the caller's
 * last check: {@link #requireModel(String, byte[])}.
 *
 * <p>Instances are immutable.
 */
public final class Container {
    /** {@code 89 54 46 43}: "\x89TFC". */
    private static final byte[] MAGIC = {(byte) 0x89, 'T', 'F', 'C'};
    public static final int FORMAT_VERSION = 1;
    public static final int MAX_STRINGS = 4096;
    public static final int MAX_SIDE = 1 << 16;
    public static final long MAX_PIXELS = 1L << 28;
    /** Bytes in the weights fingerprint. */
    public static final int WEIGHTS_HASH_BYTES = 8;

    private final String modelId;
    private final byte[] weightsHash;
    private final int height;
    private final int width;
    private final int rate;
    private final byte[][] strings;

    private Container(String modelId, byte[] weightsHash, int height, int width, int rate,
                      byte[][] strings) {
        this.modelId = modelId;
        this.weightsHash = weightsHash;
        this.height = height;
        this.width = width;
        this.rate = rate;
        this.strings = strings;
    }

    /** The 4 magic bytes every stream starts with (a copy). */
    public static byte[] magic() {
        return MAGIC.clone();
    }

    /** Parses and checks a whole file with the default pixel limit {@link #MAX_PIXELS}. */
    public static Container parse(byte[] data) throws TfcFormatException {
        return parse(data, MAX_PIXELS);
    }

    /**
     * Parses and checks a whole file, refusing images of more than {@code maxPixels} pixels (a
     * phone may set a limit lower than {@link #MAX_PIXELS}).
     */
    public static Container parse(byte[] data, long maxPixels) throws TfcFormatException {
        if (data.length == 0) {
            throw new TfcFormatException("stream is empty (zero bytes)");
        }
        for (int i = 0; i < Math.min(4, data.length); i++) {
            if (data[i] != MAGIC[i]) {
                throw new TfcFormatException("not a tfcodec stream (wrong magic bytes)");
            }
        }
        Reader reader = new Reader(data);
        reader.skip(4, "magic");
        int version = reader.u8("version");
        if (version != FORMAT_VERSION) {
            throw new TfcFormatException("stream format version " + version + " is not supported "
                    + "(this tfcodec reads version " + FORMAT_VERSION + ")");
        }
        if (data.length < 4 + 4) {
            throw new TfcFormatException("stream is truncated (ends inside the header)");
        }
        CRC32 crc = new CRC32();
        crc.update(data, 0, data.length - 4);
        long stored = readU32(data, data.length - 4);
        if (crc.getValue() != stored) {
            throw new TfcFormatException("stream is corrupt or truncated (CRC-32 mismatch)");
        }
        int modelLength = reader.u8("model id");
        int modelStart = reader.take(modelLength, "model id");
        char[] model = new char[modelLength];
        for (int i = 0; i < modelLength; i++) {
            int c = data[modelStart + i] & 0xFF;
            if (c >= 0x80) {
                throw new TfcFormatException("corrupt stream: model id is not ASCII");
            }
            model[i] = (char) c;
        }
        int hashStart = reader.take(WEIGHTS_HASH_BYTES, "weights hash");
        byte[] weights = Arrays.copyOfRange(data, hashStart, hashStart + WEIGHTS_HASH_BYTES);
        int fields = reader.take(12, "header");
        long height = readU32(data, fields);
        long width = readU32(data, fields + 4);
        int rate = readU16(data, fields + 8);
        int count = readU16(data, fields + 10);
        // Sides are at most 2^32 - 1 here, so the product fits a long when both are checked
        // first; the same short-circuit order as the Python reference.
        if (!(0 < height && height <= MAX_SIDE && 0 < width && width <= MAX_SIDE)
                || height * width > maxPixels) {
            throw new TfcFormatException("header claims an image of " + height + "x" + width
                    + " pixels, outside what tfcodec decodes (at most " + maxPixels + " pixels)");
        }
        if (count > MAX_STRINGS) {
            throw new TfcFormatException("corrupt stream: header claims " + count
                    + " coded strings");
        }
        long[] lengths = new long[count];
        long total = 0;  // at most 4096 * 2^42: fits a long
        for (int i = 0; i < count; i++) {
            lengths[i] = reader.varint("string lengths");
            total += lengths[i];
        }
        long payloadEnd = data.length - 4;
        if (reader.pos + total != payloadEnd) {
            throw new TfcFormatException("stream is corrupt or truncated (string lengths do not "
                    + "match the file size)");
        }
        byte[][] strings = new byte[count][];
        for (int i = 0; i < count; i++) {
            int start = reader.take(lengths[i], "coded strings");
            strings[i] = Arrays.copyOfRange(data, start, start + (int) lengths[i]);
        }
        return new Container(new String(model), weights, (int) height, (int) width, rate,
                strings);
    }

    /**
     * Reads a whole stream (a file, a content URI) and parses it, refusing streams longer than
     * {@code maxBytes} before reading them to the end. Does not close {@code in}.
     *
     * @throws TfcFormatException for a stream that is too long or fails {@link #parse(byte[])}
     * @throws IOException when reading fails
     */
    public static Container read(InputStream in, int maxBytes) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        long total = 0;
        int n;
        while ((n = in.read(buffer)) != -1) {
            total += n;
            if (total > maxBytes) {
                throw new TfcFormatException("stream is longer than " + maxBytes
                        + " bytes, the most this reader accepts");
            }
            out.write(buffer, 0, n);
        }
        return parse(out.toByteArray());
    }

    /**
     * The last check of {@code docs/format.md}: the stream must have been written by the model
     * that decodes it, with the same weights. Throws naming both otherwise.
     */
    public void requireModel(String expectedModelId, byte[] expectedWeightsHash)
            throws TfcFormatException {
        if (!modelId.equals(expectedModelId)
                || !Arrays.equals(weightsHash, expectedWeightsHash)) {
            throw new TfcFormatException("stream was written by model " + modelId
                    + " with weights " + hex(weightsHash) + ", but this decoder has model "
                    + expectedModelId + " with weights " + hex(expectedWeightsHash));
        }
    }

    public String modelId() {
        return modelId;
    }

    /** The 8-byte weights fingerprint (a copy). */
    public byte[] weightsHash() {
        return weightsHash.clone();
    }

    /** The weights fingerprint as 16 lowercase hex digits. */
    public String weightsHashHex() {
        return hex(weightsHash);
    }

    /** Image height in pixels before padding, 1..65536. */
    public int height() {
        return height;
    }

    /** Image width in pixels before padding, 1..65536. */
    public int width() {
        return width;
    }

    /** The rate parameter: quality x 1000 or the iteration count, 0..65535. */
    public int rate() {
        return rate;
    }

    /** Number of coded strings, 0..4096. */
    public int stringCount() {
        return strings.length;
    }

    /** The {@code i}-th coded string (a copy). */
    public byte[] string(int i) {
        return strings[i].clone();
    }

    /** Length in bytes of the {@code i}-th coded string. */
    public int stringLength(int i) {
        return strings[i].length;
    }

    static String hex(byte[] bytes) {
        if (bytes == null) {
            return "null";
        }
        StringBuilder out = new StringBuilder(bytes.length * 2);
        for (byte b : bytes) {
            out.append(Character.forDigit((b >> 4) & 0xF, 16));
            out.append(Character.forDigit(b & 0xF, 16));
        }
        return out.toString();
    }

    private static long readU32(byte[] data, int at) {
        return ((long) (data[at] & 0xFF) << 24) | ((data[at + 1] & 0xFF) << 16)
                | ((data[at + 2] & 0xFF) << 8) | (data[at + 3] & 0xFF);
    }

    private static int readU16(byte[] data, int at) {
        return ((data[at] & 0xFF) << 8) | (data[at + 1] & 0xFF);
    }

    /** Reads forward through the whole file, CRC included, like the Python reader. */
    private static final class Reader {
        final byte[] data;
        int pos;

        Reader(byte[] data) {
            this.data = data;
        }

        /** Checks that {@code n} bytes are present, moves past them, returns where they start. */
        int take(long n, String what) throws TfcFormatException {
            if (n > data.length - pos) {
                throw new TfcFormatException("stream is truncated (ends inside the " + what
                        + ")");
            }
            int start = pos;
            pos += (int) n;
            return start;
        }

        void skip(int n, String what) throws TfcFormatException {
            take(n, what);
        }

        int u8(String what) throws TfcFormatException {
            return data[take(1, what)] & 0xFF;
        }

        long varint(String what) throws TfcFormatException {
            long value = 0;
            int shift = 0;
            while (true) {
                int b = u8(what);
                value |= ((long) (b & 0x7F)) << shift;
                if ((b & 0x80) == 0) {
                    return value;
                }
                shift += 7;
                if (shift > 35) {
                    throw new TfcFormatException("corrupt stream: " + what
                            + " is not a valid length");
                }
            }
        }
    }
}
