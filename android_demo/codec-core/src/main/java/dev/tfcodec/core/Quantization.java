package dev.tfcodec.core;

/**
 * int8/uint8 quantisation of model inputs and outputs, as {@code tfcodec.edge.runtime} does it:
 * {@code q = clip(rint(x / scale) + zero_point)} and {@code x = (q - zero_point) * scale}, in
 * float arithmetic.
 */
public final class Quantization {
    private Quantization() {
    }

    /** Quantises into {@code out} (signed int8: -128..127). */
    public static void quantizeInt8(float[] x, float scale, int zeroPoint, byte[] out) {
        for (int i = 0; i < x.length; i++) {
            double q = Math.rint(x[i] / scale) + zeroPoint;
            out[i] = (byte) (q < -128 ? -128 : q > 127 ? 127 : (int) q);
        }
    }

    /** Quantises into {@code out} as unsigned uint8 (0..255), stored in bytes. */
    public static void quantizeUint8(float[] x, float scale, int zeroPoint, byte[] out) {
        for (int i = 0; i < x.length; i++) {
            double q = Math.rint(x[i] / scale) + zeroPoint;
            out[i] = (byte) (q < 0 ? 0 : q > 255 ? 255 : (int) q);
        }
    }

    /** Dequantises signed int8 values. */
    public static void dequantizeInt8(byte[] q, float scale, int zeroPoint, float[] out) {
        for (int i = 0; i < q.length; i++) {
            out[i] = (float) (q[i] - zeroPoint) * scale;
        }
    }

    /** Dequantises unsigned uint8 values (stored in bytes). */
    public static void dequantizeUint8(byte[] q, float scale, int zeroPoint, float[] out) {
        for (int i = 0; i < q.length; i++) {
            out[i] = (float) ((q[i] & 0xFF) - zeroPoint) * scale;
        }
    }
}
