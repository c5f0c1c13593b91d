package dev.tfcodec.core;

import java.io.ByteArrayOutputStream;

/**
 * Encoder for tensorflow-compression 2.14's range-coded strings, bit for bit what TFC's
 * {@code entropy_encode_index} and tfcodec's Python coder ({@code tfcodec/rangecoder.py}) write;
 * the counterpart of {@link RangeDecoder}. The app uses it to compress photos on the device.
 *
 * <p>Encode values one at a time ({@link #encode(CdfTable, int, int)}) in the order they are to
 * be decoded, then {@link #finish()}. Rows with a negative precision use overflow coding: values
 * outside {@code 0 .. n-2} are written as the escape symbol, an Elias-gamma code of the
 * magnitude and a sign bit (magnitudes up to 2^30 - 1, TFC's limit). An instance writes one
 * string and is not thread-safe.
 */
public final class RangeEncoder {
    private static final long MASK = 0xFFFFFFFFL;

    private long base = 0;
    private long sizeMinus1 = MASK;
    private long delay = 0;
    private boolean finished;
    private final ByteArrayOutputStream sink = new ByteArrayOutputStream();

    /** Encodes {@code values[i]} with row {@code index[i]} for every i, and finishes the string. */
    public static byte[] encodeIndex(CdfTable table, int[] index, int[] values) {
        if (index.length != values.length) {
            throw new IllegalArgumentException(index.length + " indexes for " + values.length + " values");
        }
        RangeEncoder encoder = new RangeEncoder();
        for (int i = 0; i < index.length; i++) {
            encoder.encode(table, index[i], values[i]);
        }
        return encoder.finish();
    }

    /**
     * Encodes one value with row {@code row} of {@code table}.
     *
     * @throws IllegalArgumentException for a row outside the table, a value outside a plain
     *     (non-overflow) row, or an overflow magnitude of 2^30 or more
     */
    public void encode(CdfTable table, int row, int value) {
        if (finished) {
            throw new IllegalStateException("the string is finished");
        }
        if (row < 0 || row >= table.size()) {
            throw new IllegalArgumentException("index=" + row + " not in range [0, " + table.size()
                    + ") of the CDF lookup table");
        }
        int[] cdf = table.cdfUnsafe(row);
        int precision = table.precision(row);
        if (precision > 0) {
            if (value < 0 || value >= cdf.length - 1) {
                throw new IllegalArgumentException("value " + value + " outside row " + row
                        + " (0.." + (cdf.length - 2) + ", no overflow coding)");
            }
            encodeInterval(cdf[value], cdf[value + 1], precision);
            return;
        }
        precision = -precision;
        final int maxValue = cdf.length - 2;
        long gamma = 0;
        int sign = 0;
        int symbol = value;
        if (value < 0) {
            sign = 1;
            gamma = -(long) value;
            symbol = maxValue;
        } else if (value >= maxValue) {
            gamma = (long) value - maxValue + 1;
            symbol = maxValue;
        }
        if (symbol == maxValue && gamma >= (1L << 30)) {
            throw new IllegalArgumentException("value " + value + " is too far outside row " + row
                    + " for overflow coding (magnitude " + gamma + " >= 2^30)");
        }
        encodeInterval(cdf[symbol], cdf[symbol + 1], precision);
        if (symbol != maxValue) {
            return;
        }
        int n = 1;
        while (gamma >= (1L << n)) {
            encodeInterval(0, 1, 1);
            n++;
        }
        while (--n >= 0) {
            int bit = (int) ((gamma >> n) & 1);
            encodeInterval(bit, bit + 1, 1);
        }
        encodeInterval(sign, sign + 1, 1);
    }

    private void encodeInterval(int lower, int upper, int precision) {
        if (!(0 <= lower && lower < upper && upper <= (1 << precision))) {
            // A zero-probability symbol: TFC refuses it too.
            throw new IllegalArgumentException("cannot encode a symbol of zero probability (interval ["
                    + lower + ", " + upper + ") at precision " + precision + ")");
        }
        final long size = sizeMinus1 + 1;
        final long a = (size * lower) >>> precision;
        final long b = ((size * upper) >>> precision) - 1;
        base = (base + a) & MASK;
        sizeMinus1 = b - a;
        final boolean baseOverflow = base < a;
        if (((base + sizeMinus1) & MASK) < base) {
            // The interval straddles 2^32: the pending digit stays in `delay`.
            if ((sizeMinus1 >>> 16) == 0) {
                base = (base << 16) & MASK;
                sizeMinus1 = (sizeMinus1 << 16) | 0xFFFF;
                delay += 0x20000;
            }
            return;
        }
        if (delay != 0) {
            if (baseOverflow) {
                write(delay >>> 8);
                write(delay);
                for (long i = delay >>> 16; i > 0; i--) {
                    write(0);
                }
            } else {
                delay--;
                write(delay >>> 8);
                write(delay);
                for (long i = delay >>> 16; i > 0; i--) {
                    write(0xFF);
                }
            }
            delay = 0;
        }
        if ((sizeMinus1 >>> 16) == 0) {
            final long top = base >>> 16;
            base = (base << 16) & MASK;
            sizeMinus1 = (sizeMinus1 << 16) | 0xFFFF;
            if (base <= ((base + sizeMinus1) & MASK)) {
                write(top >>> 8);
                write(top);
            } else {
                delay = top + 1;
            }
        }
    }

    /** Ends the string (TFC's {@code Finalize}) and returns it; the encoder is done afterwards. */
    public byte[] finish() {
        if (finished) {
            throw new IllegalStateException("the string is finished");
        }
        finished = true;
        if (delay != 0) {
            write(delay >>> 8);
            if ((delay & 0xFF) != 0) {
                write(delay);
            }
        } else if (base != 0) {
            final long upper = (base + sizeMinus1) & MASK;
            long mid = ((base - 1) >>> 24) + 1;
            if (mid <= (upper >>> 24)) {
                write(mid);
            } else {
                mid = ((base - 1) >>> 16) + 1;
                write(mid >>> 8);
                if ((mid & 0xFF) != 0) {
                    write(mid);
                }
            }
        }
        return sink.toByteArray();
    }

    private void write(long b) {
        sink.write((int) (b & 0xFF));
    }
}
