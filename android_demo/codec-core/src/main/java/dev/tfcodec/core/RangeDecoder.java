package dev.tfcodec.core;

/**
 * Decoder for strings written by tensorflow-compression 2.14's range coder
 * ({@code create_range_encoder} + {@code entropy_encode_index}) and by tfcodec's Python port
 * ({@code tfcodec/rangecoder.py}), bit for bit.
 *
 * <p>The coder keeps a 32-bit interval {@code [base, base + size)} with {@code 2^16 <= size <=
 * 2^32}; each symbol narrows it by the symbol's CDF interval at the row's precision, and whenever
 * the size drops to {@code 2^16} or below the interval is shifted left by 16 bits and two more
 * bytes of input are read. Bytes past the end of the string read as zero (the encoder leaves
 * trailing zeros out). Rows with a negative precision use overflow coding: the last symbol is an
 * escape, followed by the value's magnitude as an Elias-gamma code (a run of 0 bits giving the
 * length, then the bits below the leading 1) and a sign bit, each bit coded with the uniform
 * binary CDF {@code [0, 1, 2]} at precision 1.
 *
 * <p>Use it in one of two ways:
 * <ul>
 *   <li>{@link #decodeIndex(CdfTable, int[], byte[])}: decodes one value per entry of
 *       {@code index} (the row of the table to use) and checks that the string ended where it
 *       should;</li>
 *   <li>streaming: {@code new RangeDecoder(bytes)}, then {@link #decode(CdfTable, int)} (or
 *       {@link #decode(CdfTable, int[], int[], int, int)}) as often as there are values, in the
 *       order they were encoded, then {@link #finish()}.</li>
 * </ul>
 *
 * <p>Errors: every problem with the input (an index outside the table, a corrupt overflow code,
 * a string that fails the final check, a bad table) is a {@link TfcFormatException}. Decoding
 * always terminates and never reads outside the string. Note that a range coder carries no
 * redundancy: a corrupt string usually decodes to wrong values without any error until
 * {@link #finish()}, and some corruptions cannot be detected at all. That is why the container
 * carries a CRC-32.
 *
 * <p>An instance is not thread-safe; tables are, and can be shared.
 */
public final class RangeDecoder {
    private static final long MASK = 0xFFFFFFFFL;
    /** The uniform binary CDF used for the bits of overflow codes, at precision 1. */
    private static final int[] BINARY_UNIFORM_CDF = {0, 1, 2};
    /**
     * Most leading zeros an overflow code may have. TFC's encoder computes {@code 1 << n} in
     * 32-bit ints and so can only write Elias-gamma magnitudes below 2^30 (29 zeros at most);
     * tfcodec's Python coder refuses to write or read anything longer, and so does this decoder.
     * (TFC's own decoder would still read 30 zeros, a code no encoder writes.)
     */
    static final int MAX_GAMMA_ZEROS = 29;

    private final byte[] data;
    private int pos;
    private final int end;

    // Unsigned 32-bit quantities held in longs.
    private long base = 0;
    private long sizeMinus1 = MASK;
    private long value = 0;

    /** A decoder reading all of {@code data}. */
    public RangeDecoder(byte[] data) {
        this(data, 0, data.length);
    }

    /** A decoder reading {@code data[offset .. offset + length)}; the array is not copied. */
    public RangeDecoder(byte[] data, int offset, int length) {
        if (offset < 0 || length < 0 || offset > data.length - length) {
            throw new IndexOutOfBoundsException("range [" + offset + ", " + offset + " + "
                    + length + ") outside an array of " + data.length + " bytes");
        }
        this.data = data;
        this.pos = offset;
        this.end = offset + length;
        read16();
        read16();
    }

    /**
     * Decodes one value per entry of {@code index} from {@code string}, using row
     * {@code index[i]} of {@code table} for value {@code i}, and checks the end of the string
     * (see {@link #finish()}). This is TFC's {@code entropy_decode_index} on one string
     * followed by its {@code entropy_decode_finalize} check.
     */
    public static int[] decodeIndex(CdfTable table, int[] index, byte[] string)
            throws TfcFormatException {
        RangeDecoder decoder = new RangeDecoder(string);
        int[] out = new int[index.length];
        decoder.decode(table, index, out, 0, index.length);
        decoder.finish();
        return out;
    }

    /** {@link #decodeIndex(CdfTable, int[], byte[])} with the table given as padded rows. */
    public static int[] decodeIndex(int[][] lookupRows, int[] index, byte[] string)
            throws TfcFormatException {
        return decodeIndex(CdfTable.fromRows(lookupRows), index, string);
    }

    /**
     * Decodes {@code count} values where value {@code i} uses row {@code i mod table.size()}
     * (TFC's {@code entropy_decode_channel} on one string of shape {@code [count]}), then checks
     * the end of the string.
     */
    public static int[] decodeChannel(CdfTable table, int count, byte[] string)
            throws TfcFormatException {
        if (table.size() == 0) {
            throw new TfcFormatException("cannot decode with an empty CDF lookup table");
        }
        RangeDecoder decoder = new RangeDecoder(string);
        int[] out = new int[count];
        for (int i = 0, row = 0; i < count; i++) {
            out[i] = decoder.decode(table, row);
            row = (row + 1 == table.size()) ? 0 : row + 1;
        }
        decoder.finish();
        return out;
    }

    /**
     * Streaming: decodes {@code count} values into {@code out[outOffset ..]}, value {@code i}
     * with row {@code index[outOffset + i]}.
     */
    public void decode(CdfTable table, int[] index, int[] out, int outOffset, int count)
            throws TfcFormatException {
        if (outOffset < 0 || count < 0 || outOffset > out.length - count
                || outOffset > index.length - count) {
            throw new IndexOutOfBoundsException("cannot decode " + count + " values at offset "
                    + outOffset + " (index has " + index.length + ", out has " + out.length + ")");
        }
        for (int i = outOffset; i < outOffset + count; i++) {
            out[i] = decode(table, index[i]);
        }
    }

    /** Streaming: decodes the next value with row {@code row} of {@code table}. */
    public int decode(CdfTable table, int row) throws TfcFormatException {
        if (row < 0 || row >= table.size()) {
            throw new TfcFormatException("index=" + row + " not in range [0, " + table.size()
                    + ") of the CDF lookup table");
        }
        int[] cdf = table.cdfUnsafe(row);
        int precision = table.precision(row);
        if (precision > 0) {
            return decodeSymbol(cdf, precision);
        }
        return decodeOverflow(cdf, -precision);
    }

    private int decodeOverflow(int[] cdf, int precision) throws TfcFormatException {
        final int maxValue = cdf.length - 2;  // the escape symbol
        int symbol = decodeSymbol(cdf, precision);
        if (symbol != maxValue) {
            return symbol;
        }
        int n = 0;
        while (decodeSymbol(BINARY_UNIFORM_CDF, 1) == 0) {
            n++;
            if (n > MAX_GAMMA_ZEROS) {
                throw new TfcFormatException("corrupt range-coded string: an overflow code has "
                        + "more than " + MAX_GAMMA_ZEROS + " leading zeros");
            }
        }
        long magnitude = 1L << n;
        while (--n >= 0) {
            magnitude |= ((long) decodeSymbol(BINARY_UNIFORM_CDF, 1)) << n;
        }
        int sign = decodeSymbol(BINARY_UNIFORM_CDF, 1);
        long result = (sign != 0) ? -magnitude : magnitude + maxValue - 1;
        if (result > Integer.MAX_VALUE) {
            throw new TfcFormatException("corrupt range-coded string: an overflow code decodes "
                    + "to " + result + ", outside the 32-bit range");
        }
        return (int) result;
    }

    /**
     * Decodes one symbol with {@code cdf} ({@code cdf[0] == 0}, non-decreasing, last entry
     * {@code 2^precision}, as {@link CdfTable} guarantees). Returns the index {@code k} with
     * {@code cdf[k] <= target < cdf[k + 1]}.
     */
    private int decodeSymbol(int[] cdf, int precision) throws TfcFormatException {
        final long size = sizeMinus1 + 1;
        // (value - base + 1) << precision: at most 2^32 << 16, fits a long.
        final long target = (((value - base) & MASK) + 1) << precision;
        // Smallest j >= 1 with target <= size * cdf[j] (size * cdf[j] <= 2^48).
        int lo = 1;
        int len = cdf.length - 1;
        while (len > 0) {
            int half = len >>> 1;
            int mid = lo + half;
            if (target <= size * cdf[mid]) {
                len = half;
            } else {
                lo = mid + 1;
                len -= half + 1;
            }
        }
        if (lo >= cdf.length) {
            // Cannot happen with a checked table (its last entry is 2^precision and the decoder
            // keeps value - base < size); kept so that no input can index past the CDF.
            throw new TfcFormatException("corrupt range-coded string: no symbol matches");
        }
        final long a = (size * cdf[lo - 1]) >>> precision;
        final long b = ((size * cdf[lo]) >>> precision) - 1;
        base = (base + a) & MASK;
        sizeMinus1 = b - a;
        if ((sizeMinus1 >>> 16) == 0) {
            base = (base << 16) & MASK;
            sizeMinus1 = (sizeMinus1 << 16) | 0xFFFF;
            read16();
        }
        return lo - 1;
    }

    private void read16() {
        value = (value << 8) & MASK;
        if (pos != end) {
            value |= data[pos++] & 0xFF;
        }
        value = (value << 8) & MASK;
        if (pos != end) {
            value |= data[pos++] & 0xFF;
        }
    }

    /**
     * TFC's end-of-string check ({@code RangeDecoder::Finalize}): true if every byte was read and
     * the decoder stopped at the value the encoder picks to end a string. A false result proves
     * the string was corrupt, truncated, padded, or decoded with the wrong tables or the wrong
     * number of values; a true result proves nothing (the check is weak). Does not change state.
     */
    public boolean endCheck() {
        if (pos != end) {
            return false;
        }
        final long upper = (base + sizeMinus1) & MASK;
        if (base == 0 || upper < base) {
            return value == 0;
        }
        final int shift = (((base - 1) >>> 24) < (upper >>> 24)) ? 24 : 16;
        final long mid = ((base - 1) >>> shift) + 1;
        return ((mid << shift) & MASK) == value;
    }

    /** Throws if {@link #endCheck()} fails; call after the last value. */
    public void finish() throws TfcFormatException {
        if (!endCheck()) {
            throw new TfcFormatException("range-coded string failed the end check: it is corrupt "
                    + "or truncated, or was decoded with other tables or another number of values");
        }
    }

    /** Bytes of the string not yet read into the decoder's 32-bit window. */
    public int remaining() {
        return end - pos;
    }
}
