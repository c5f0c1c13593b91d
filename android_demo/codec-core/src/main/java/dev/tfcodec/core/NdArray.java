package dev.tfcodec.core;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * One array read from a numpy {@code .npy} entry (see {@link Npz}): its dtype, its shape and its
 * elements in C order, kept as the little-endian bytes of the file and converted on request.
 *
 * <p>Supported dtypes: {@code int8}, {@code uint8}, {@code int16}, {@code int32}, {@code int64},
 * {@code float16}, {@code float32} and {@code float64}. Instances are immutable.
 */
public final class NdArray {
    /** The numpy dtype name ({@code "int16"}, {@code "float32"}, ...). */
    public final String dtype;
    private final int[] shape;
    private final int itemSize;
    private final boolean floating;
    private final ByteBuffer data;

    NdArray(String dtype, int itemSize, boolean floating, int[] shape, ByteBuffer data) {
        this.dtype = dtype;
        this.itemSize = itemSize;
        this.floating = floating;
        this.shape = shape.clone();
        this.data = data.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** An int64 array (for tests and callers that build coding arrays in memory). */
    public static NdArray ofLongs(long[] values, int... shape) {
        ByteBuffer buffer = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : values) {
            buffer.putLong(v);
        }
        buffer.flip();
        checkCount(values.length, shape);
        return new NdArray("int64", 8, false, shape, buffer);
    }

    /** A float32 array. */
    public static NdArray ofFloats(float[] values, int... shape) {
        ByteBuffer buffer = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            buffer.putFloat(v);
        }
        buffer.flip();
        checkCount(values.length, shape);
        return new NdArray("float32", 4, true, shape, buffer);
    }

    private static void checkCount(int count, int[] shape) {
        long n = 1;
        for (int d : shape) {
            n *= d;
        }
        if (n != count) {
            throw new IllegalArgumentException(count + " values for shape " + Arrays.toString(shape));
        }
    }

    /** The shape (a copy); {@code []} for a scalar. */
    public int[] shape() {
        return shape.clone();
    }

    /** Number of dimensions. */
    public int rank() {
        return shape.length;
    }

    /** Size of dimension {@code axis}. */
    public int dim(int axis) {
        return shape[axis];
    }

    /** Number of elements. */
    public int size() {
        return data.limit() / itemSize;
    }

    public boolean isFloating() {
        return floating;
    }

    /** Element {@code i} (C order) as a long; floats are refused. */
    public long getLong(int i) {
        int at = i * itemSize;
        switch (dtype) {
            case "int8":
                return data.get(at);
            case "uint8":
                return data.get(at) & 0xFF;
            case "int16":
                return data.getShort(at);
            case "int32":
                return data.getInt(at);
            case "int64":
                return data.getLong(at);
            default:
                throw new IllegalStateException("a " + dtype + " array has no integer elements");
        }
    }

    /** Element {@code i} (C order) as a double (exact for every supported dtype but int64). */
    public double getDouble(int i) {
        if (!floating) {
            return getLong(i);
        }
        int at = i * itemSize;
        switch (itemSize) {
            case 2:
                return halfToFloat(data.getShort(at));
            case 4:
                return data.getFloat(at);
            default:
                return data.getDouble(at);
        }
    }

    /** IEEE 754 binary16 to float (exact). */
    static float halfToFloat(short half) {
        int h = half & 0xFFFF;
        int sign = (h & 0x8000) << 16;
        int exponent = (h >>> 10) & 0x1F;
        int mantissa = h & 0x3FF;
        if (exponent == 0x1F) {
            return Float.intBitsToFloat(sign | 0x7F800000 | mantissa << 13);
        }
        if (exponent == 0) {
            float value = mantissa * (1.0f / (1 << 24));  // subnormal: m * 2^-24
            return sign != 0 ? -value : value;
        }
        return Float.intBitsToFloat(sign | (exponent + 112) << 23 | mantissa << 13);
    }

    /** All elements as longs; integer dtypes only. */
    public long[] toLongs() {
        long[] out = new long[size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = getLong(i);
        }
        return out;
    }

    /**
     * All elements as ints; integer dtypes only.
     *
     * @throws TfcFormatException if an element does not fit 32 bits
     */
    public int[] toInts(String what) throws TfcFormatException {
        int[] out = new int[size()];
        for (int i = 0; i < out.length; i++) {
            long v = getLong(i);
            if (v != (int) v) {
                throw new TfcFormatException(what + ": element " + i + " = " + v
                        + " does not fit 32 bits");
            }
            out[i] = (int) v;
        }
        return out;
    }

    /** All elements as floats (rounded from float64 if that is the dtype). */
    public float[] toFloats() {
        float[] out = new float[size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = (float) getDouble(i);
        }
        return out;
    }

    /** Checks the shape, {@code -1} matching any size; throws naming {@code what} otherwise. */
    public NdArray requireShape(String what, int... expected) throws TfcFormatException {
        boolean ok = expected.length == shape.length;
        for (int i = 0; ok && i < expected.length; i++) {
            ok = expected[i] < 0 || expected[i] == shape[i];
        }
        if (!ok) {
            throw new TfcFormatException(what + " has shape " + Arrays.toString(shape)
                    + ", expected " + Arrays.toString(expected).replace("-1", "*"));
        }
        return this;
    }

    /** Requires an integer dtype. */
    public NdArray requireInteger(String what) throws TfcFormatException {
        if (floating) {
            throw new TfcFormatException(what + " is " + dtype + ", expected integers");
        }
        return this;
    }

    @Override
    public String toString() {
        return "NdArray(" + dtype + ", " + Arrays.toString(shape) + ")";
    }
}
