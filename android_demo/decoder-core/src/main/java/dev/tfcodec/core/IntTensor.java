package dev.tfcodec.core;

/**
 * A fixed-point activation map: {@code height x width x channels} ints in NHWC order (batch 1),
 * as the integer entropy-parameter nets take and give them. Mutable and not thread-safe; the
 * methods that make new tensors never share the array.
 */
public final class IntTensor {
    public final int height;
    public final int width;
    public final int channels;
    public final int[] data;

    public IntTensor(int height, int width, int channels) {
        this(height, width, channels, new int[checkedSize(height, width, channels)]);
    }

    public IntTensor(int height, int width, int channels, int[] data) {
        if (data.length != checkedSize(height, width, channels)) {
            throw new IllegalArgumentException(data.length + " values for " + height + "x" + width + "x" + channels);
        }
        this.height = height;
        this.width = width;
        this.channels = channels;
        this.data = data;
    }

    static int checkedSize(int height, int width, int channels) {
        long n = (long) height * width * channels;
        if (height < 0 || width < 0 || channels < 0 || n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("bad tensor size " + height + "x" + width + "x" + channels);
        }
        return (int) n;
    }

    public int get(int y, int x, int c) {
        return data[(y * width + x) * channels + c];
    }

    /** Channels {@code [from, to)} as a new tensor. */
    public IntTensor channels(int from, int to) {
        if (from < 0 || to > channels || from > to) {
            throw new IllegalArgumentException("channels [" + from + ", " + to + ") of " + channels);
        }
        int n = to - from;
        IntTensor out = new IntTensor(height, width, n);
        for (int p = 0, pixels = height * width; p < pixels; p++) {
            System.arraycopy(data, p * channels + from, out.data, p * n, n);
        }
        return out;
    }

    /** The tensors stacked along the channels (numpy's concatenate on the last axis). */
    public static IntTensor concat(IntTensor... parts) {
        int c = 0;
        for (IntTensor t : parts) {
            if (t.height != parts[0].height || t.width != parts[0].width) {
                throw new IllegalArgumentException("cannot concatenate " + t.height + "x" + t.width
                        + " with " + parts[0].height + "x" + parts[0].width);
            }
            c += t.channels;
        }
        IntTensor out = new IntTensor(parts[0].height, parts[0].width, c);
        int offset = 0;
        for (IntTensor t : parts) {
            for (int p = 0, pixels = t.height * t.width; p < pixels; p++) {
                System.arraycopy(t.data, p * t.channels, out.data, p * c + offset, t.channels);
            }
            offset += t.channels;
        }
        return out;
    }

    /** Every value divided by {@code 2^exponent}, as floats (exact below 2^24 * 2^-exponent). */
    public FloatTensor toFloat(int exponent) {
        float scale = 1.0f / (1 << exponent);
        FloatTensor out = new FloatTensor(height, width, channels);
        for (int i = 0; i < data.length; i++) {
            out.data[i] = data[i] * scale;
        }
        return out;
    }
}
