package dev.tfcodec.core;

/**
 * A float activation map: {@code height x width x channels} in NHWC order (batch 1), what the
 * TFLite models take and give. Mutable and not thread-safe.
 */
public final class FloatTensor extends NhwcTensor<FloatTensor> {
    public final float[] data;

    public FloatTensor(int height, int width, int channels) {
        this(height, width, channels, new float[size(height, width, channels)]);
    }

    public FloatTensor(int height, int width, int channels, float[] data) {
        super(height, width, channels, data);
        this.data = data;
    }

    @Override
    FloatTensor zeros(int height, int width, int channels) {
        return new FloatTensor(height, width, channels);
    }

    public float get(int y, int x, int c) {
        return data[offset(y, x, c)];
    }

    /** The tensors stacked along the channels. */
    public static FloatTensor concat(FloatTensor... parts) {
        return NhwcTensor.concat(parts);
    }

    /** Rows {@code [0, h)} and columns {@code [0, w)} as a new tensor. */
    public FloatTensor crop(int h, int w) {
        return window(0, 0, h, w);
    }

    /** Rows {@code [y, y + h)} and columns {@code [x, x + w)} as a new tensor. */
    public FloatTensor window(int y, int x, int h, int w) {
        if (h < 0 || w < 0 || y < 0 || x < 0 || y + h > height || x + w > width) {
            throw new IllegalArgumentException("no " + h + "x" + w + " window at (" + y + ", " + x + ") in "
                    + height + "x" + width);
        }
        FloatTensor out = new FloatTensor(h, w, channels);
        for (int r = 0; r < h; r++) {
            System.arraycopy(data, ((y + r) * width + x) * channels, out.data, r * w * channels, w * channels);
        }
        return out;
    }

    /** Copies {@code part} (same channels) into this tensor with its top-left corner at (y, x). */
    public void paste(FloatTensor part, int y, int x) {
        if (part.channels != channels || y < 0 || x < 0 || y + part.height > height || x + part.width > width) {
            throw new IllegalArgumentException("cannot paste " + part.height + "x" + part.width + "x" + part.channels
                    + " at (" + y + ", " + x + ") into " + height + "x" + width + "x" + channels);
        }
        for (int r = 0; r < part.height; r++) {
            System.arraycopy(part.data, r * part.width * channels, data, ((y + r) * width + x) * channels,
                    part.width * channels);
        }
    }

    /** How {@link #pad} fills the new rows and columns (numpy's np.pad modes of the same names). */
    public enum Padding {
        /** Zeros. */
        CONSTANT,
        /** Copies of the last row/column. */
        EDGE,
        /** The rows/columns mirrored about the last one, repeatedly where the pad is wider. */
        REFLECT
    }

    /** Padded at the bottom and right to {@code h x w}. */
    public FloatTensor pad(int h, int w, Padding fill) {
        if (h < height || w < width) {
            throw new IllegalArgumentException("cannot pad " + height + "x" + width + " to " + h + "x" + w);
        }
        FloatTensor out = new FloatTensor(h, w, channels);
        if (height == 0 || width == 0) {
            return out;
        }
        for (int y = 0; y < h; y++) {
            if (y >= height && fill == Padding.CONSTANT) {
                break;
            }
            int sy = source(y, height, fill);
            System.arraycopy(data, sy * width * channels, out.data, y * w * channels, width * channels);
            if (fill != Padding.CONSTANT) {
                for (int x = width; x < w; x++) {
                    System.arraycopy(data, (sy * width + source(x, width, fill)) * channels,
                            out.data, (y * w + x) * channels, channels);
                }
            }
        }
        return out;
    }

    /** The row/column that padded index {@code i} copies, for an axis of length {@code n}. */
    private static int source(int i, int n, Padding fill) {
        if (i < n) {
            return i;
        }
        if (fill == Padding.EDGE || n == 1) {
            return n - 1;
        }
        int period = 2 * (n - 1);  // reflection: 0, 1, .., n - 1, n - 2, .., 1, 0, 1, ..
        int m = i % period;
        return m < n ? m : period - m;
    }
}
