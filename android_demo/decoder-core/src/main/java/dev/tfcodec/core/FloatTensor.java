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
