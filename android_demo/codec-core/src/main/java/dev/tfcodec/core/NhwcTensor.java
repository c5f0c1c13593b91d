package dev.tfcodec.core;

import java.lang.reflect.Array;

/**
 * What {@link IntTensor} and {@link FloatTensor} share: a {@code height x width x channels} map
 * in NHWC order (batch 1), its size checks, element offsets and channel slicing. Only the
 * element type differs: each subclass keeps its own typed {@code data} array (what the hot
 * loops index), and the copies here go through {@link System#arraycopy}, which takes either.
 *
 * @param <T> the tensor type itself, which channel slices and concatenations return
 */
abstract class NhwcTensor<T extends NhwcTensor<T>> {
    public final int height;
    public final int width;
    public final int channels;
    /** The subclass's {@code data} array, untyped, for the copies. */
    private final Object values;

    NhwcTensor(int height, int width, int channels, Object values) {
        int length = Array.getLength(values);
        if (length != size(height, width, channels)) {
            throw new IllegalArgumentException(length + " values for " + height + "x" + width + "x" + channels);
        }
        this.height = height;
        this.width = width;
        this.channels = channels;
        this.values = values;
    }

    /** The number of values of a tensor of that shape; refuses negative sides and overflow. */
    static int size(int height, int width, int channels) {
        long n = (long) height * width * channels;
        if (height < 0 || width < 0 || channels < 0 || n > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("bad tensor size " + height + "x" + width + "x" + channels);
        }
        return (int) n;
    }

    /** A new tensor of this type, filled with zeros. */
    abstract T zeros(int height, int width, int channels);

    /** Where element (y, x, c) is in the values array. */
    final int offset(int y, int x, int c) {
        return (y * width + x) * channels + c;
    }

    /** Channels {@code [from, to)} as a new tensor. */
    public final T channels(int from, int to) {
        if (from < 0 || to > channels || from > to) {
            throw new IllegalArgumentException("channels [" + from + ", " + to + ") of " + channels);
        }
        T out = zeros(height, width, to - from);
        copyChannels(this, from, out, 0, to - from);
        return out;
    }

    /** The tensors stacked along the channels (numpy's concatenate on the last axis). */
    static <T extends NhwcTensor<T>> T concat(T[] parts) {
        int c = 0;
        for (T t : parts) {
            if (t.height != parts[0].height || t.width != parts[0].width) {
                throw new IllegalArgumentException("cannot concatenate " + t.height + "x" + t.width
                        + " with " + parts[0].height + "x" + parts[0].width);
            }
            c += t.channels;
        }
        T out = parts[0].zeros(parts[0].height, parts[0].width, c);
        int offset = 0;
        for (T t : parts) {
            copyChannels(t, 0, out, offset, t.channels);
            offset += t.channels;
        }
        return out;
    }

    /**
     * Copies {@code count} channels of every pixel, from channel {@code from} of {@code src} to
     * channel {@code to} of {@code dst} (same height and width).
     */
    private static void copyChannels(NhwcTensor<?> src, int from, NhwcTensor<?> dst, int to, int count) {
        for (int p = 0, pixels = src.height * src.width; p < pixels; p++) {
            System.arraycopy(src.values, p * src.channels + from, dst.values, p * dst.channels + to, count);
        }
    }
}
