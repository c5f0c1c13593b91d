package dev.tfcodec.core;

/**
 * A float activation map: {@code height x width x channels} in NHWC order (batch 1), what the
 * TFLite models take and give. Mutable and not thread-safe.
 */
public final class FloatTensor {
    public final int height;
    public final int width;
    public final int channels;
    public final float[] data;

    public FloatTensor(int height, int width, int channels) {
        this(height, width, channels, new float[IntTensor.checkedSize(height, width, channels)]);
    }

    public FloatTensor(int height, int width, int channels, float[] data) {
        if (data.length != IntTensor.checkedSize(height, width, channels)) {
            throw new IllegalArgumentException(data.length + " values for " + height + "x" + width + "x" + channels);
        }
        this.height = height;
        this.width = width;
        this.channels = channels;
        this.data = data;
    }

    public float get(int y, int x, int c) {
        return data[(y * width + x) * channels + c];
    }

    /** The tensors stacked along the channels. */
    public static FloatTensor concat(FloatTensor... parts) {
        int c = 0;
        for (FloatTensor t : parts) {
            if (t.height != parts[0].height || t.width != parts[0].width) {
                throw new IllegalArgumentException("cannot concatenate " + t.height + "x" + t.width
                        + " with " + parts[0].height + "x" + parts[0].width);
            }
            c += t.channels;
        }
        FloatTensor out = new FloatTensor(parts[0].height, parts[0].width, c);
        int offset = 0;
        for (FloatTensor t : parts) {
            for (int p = 0, pixels = t.height * t.width; p < pixels; p++) {
                System.arraycopy(t.data, p * t.channels, out.data, p * c + offset, t.channels);
            }
            offset += t.channels;
        }
        return out;
    }

    /** Channels {@code [from, to)} as a new tensor. */
    public FloatTensor channels(int from, int to) {
        if (from < 0 || to > channels || from > to) {
            throw new IllegalArgumentException("channels [" + from + ", " + to + ") of " + channels);
        }
        int n = to - from;
        FloatTensor out = new FloatTensor(height, width, n);
        for (int p = 0, pixels = height * width; p < pixels; p++) {
            System.arraycopy(data, p * channels + from, out.data, p * n, n);
        }
        return out;
    }

    /** Rows {@code [0, h)} and columns {@code [0, w)} as a new tensor. */
    public FloatTensor crop(int h, int w) {
        if (h > height || w > width || h < 0 || w < 0) {
            throw new IllegalArgumentException("cannot crop " + height + "x" + width + " to " + h + "x" + w);
        }
        FloatTensor out = new FloatTensor(h, w, channels);
        for (int y = 0; y < h; y++) {
            System.arraycopy(data, y * width * channels, out.data, y * w * channels, w * channels);
        }
        return out;
    }

    /**
     * Padded at the bottom and right to {@code h x w}: with copies of the last row/column
     * ({@code edge}, numpy's mode="edge") or with zeros.
     */
    public FloatTensor pad(int h, int w, boolean edge) {
        if (h < height || w < width) {
            throw new IllegalArgumentException("cannot pad " + height + "x" + width + " to " + h + "x" + w);
        }
        FloatTensor out = new FloatTensor(h, w, channels);
        if (height == 0 || width == 0) {
            return out;
        }
        for (int y = 0; y < h; y++) {
            if (y >= height && !edge) {
                break;
            }
            int sy = Math.min(y, height - 1);
            System.arraycopy(data, sy * width * channels, out.data, y * w * channels, width * channels);
            if (edge) {
                int last = (sy * width + width - 1) * channels;
                for (int x = width; x < w; x++) {
                    System.arraycopy(data, last, out.data, (y * w + x) * channels, channels);
                }
            }
        }
        return out;
    }
}
