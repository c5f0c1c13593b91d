package dev.tfcodec.core;

/**
 * A fixed-point activation map: {@code height x width x channels} ints in NHWC order (batch 1),
 * as the integer entropy-parameter nets take and give them. Mutable and not thread-safe; the
 * methods that make new tensors never share the array.
 */
public final class IntTensor extends NhwcTensor<IntTensor> {
    public final int[] data;

    public IntTensor(int height, int width, int channels) {
        this(height, width, channels, new int[size(height, width, channels)]);
    }

    public IntTensor(int height, int width, int channels, int[] data) {
        super(height, width, channels, data);
        this.data = data;
    }

    @Override
    IntTensor zeros(int height, int width, int channels) {
        return new IntTensor(height, width, channels);
    }

    public int get(int y, int x, int c) {
        return data[offset(y, x, c)];
    }

    /** The tensors stacked along the channels (numpy's concatenate on the last axis). */
    public static IntTensor concat(IntTensor... parts) {
        return NhwcTensor.concat(parts);
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
