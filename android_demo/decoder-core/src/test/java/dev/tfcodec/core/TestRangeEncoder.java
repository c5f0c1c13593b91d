package dev.tfcodec.core;

import java.io.ByteArrayOutputStream;

/**
 * Test-only encoder: an independent Java rendering of tensorflow-compression's
 * {@code RangeEncoder::Encode/Finalize} and {@code OverflowEncode}, used to round-trip random
 * data through {@link RangeDecoder} and to check, byte for byte, that the strings written by
 * tfcodec's Python coder are the strings TFC's algorithm writes.
 */
final class TestRangeEncoder {
    private static final long MASK = 0xFFFFFFFFL;

    private long base = 0;
    private long sizeMinus1 = MASK;
    private long delay = 0;
    private final ByteArrayOutputStream sink = new ByteArrayOutputStream();

    /** Encodes one value with row {@code row} of {@code table} (with overflow coding if any). */
    void encode(CdfTable table, int row, int value) {
        int[] cdf = table.cdf(row);
        int precision = table.precision(row);
        if (precision > 0) {
            if (value < 0 || value >= cdf.length - 1) {
                throw new IllegalArgumentException("value " + value + " outside row " + row);
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
        encodeInterval(cdf[symbol], cdf[symbol + 1], precision);
        if (symbol != maxValue) {
            return;
        }
        if (gamma >= (1L << 30)) {
            throw new IllegalArgumentException("TFC cannot code an overflow of " + gamma);
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

    void encodeInterval(int lower, int upper, int precision) {
        if (!(0 <= lower && lower < upper && upper <= (1 << precision))) {
            throw new IllegalArgumentException("bad interval [" + lower + ", " + upper + ")");
        }
        final long size = sizeMinus1 + 1;
        final long a = (size * lower) >>> precision;
        final long b = ((size * upper) >>> precision) - 1;
        base = (base + a) & MASK;
        sizeMinus1 = b - a;
        final boolean baseOverflow = base < a;
        if (((base + sizeMinus1) & MASK) < base) {
            // State 1: the interval straddles 2^32; the pending digit stays in `delay`.
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

    /** Finishes the string and returns it. The encoder must not be used afterwards. */
    byte[] finish() {
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

    static byte[] encodeIndex(CdfTable table, int[] index, int[] values) {
        TestRangeEncoder encoder = new TestRangeEncoder();
        for (int i = 0; i < index.length; i++) {
            encoder.encode(table, index[i], values[i]);
        }
        return encoder.finish();
    }
}
