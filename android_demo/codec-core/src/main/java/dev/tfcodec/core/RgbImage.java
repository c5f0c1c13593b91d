package dev.tfcodec.core;

/**
 * An RGB image as packed {@code 0xAARRGGBB} ints, row by row: the layout of Android's
 * {@code Bitmap.getPixels}/{@code setPixels}, so the app converts without copying channel by
 * channel. Alpha is ignored on input and set to 255 on output.
 */
public final class RgbImage {
    public final int width;
    public final int height;
    public final int[] argb;

    public RgbImage(int width, int height, int[] argb) {
        if (width < 1 || height < 1 || (long) width * height != argb.length) {
            throw new IllegalArgumentException(argb.length + " pixels for " + width + "x" + height);
        }
        this.width = width;
        this.height = height;
        this.argb = argb;
    }

    /** From 8-bit RGB triplets (row by row). */
    public static RgbImage fromRgb(int width, int height, byte[] rgb) {
        if ((long) width * height * 3 != rgb.length) {
            throw new IllegalArgumentException(rgb.length + " bytes for " + width + "x" + height + " RGB");
        }
        int[] argb = new int[width * height];
        for (int i = 0; i < argb.length; i++) {
            argb[i] = 0xFF000000 | (rgb[3 * i] & 0xFF) << 16 | (rgb[3 * i + 1] & 0xFF) << 8 | (rgb[3 * i + 2] & 0xFF);
        }
        return new RgbImage(width, height, argb);
    }

    /** The image in [0, 1] (uint8 / 255 in float), edge-padded at the bottom/right to {@code h x w}. */
    public FloatTensor toFloat(int h, int w) {
        FloatTensor t = new FloatTensor(height, width, 3);
        for (int i = 0; i < argb.length; i++) {
            int p = argb[i];
            t.data[3 * i] = ((p >> 16) & 0xFF) / 255.0f;
            t.data[3 * i + 1] = ((p >> 8) & 0xFF) / 255.0f;
            t.data[3 * i + 2] = (p & 0xFF) / 255.0f;
        }
        return h == height && w == width ? t : t.pad(h, w, FloatTensor.Padding.EDGE);
    }

    /**
     * A synthesis output in [0, 1] (padded) to an image of {@code width x height}: Python's
     * {@code to_uint8}, {@code clip(floor(x * 255 + 0.5), 0, 255)} in float.
     */
    public static RgbImage fromFloat(FloatTensor x, int width, int height) {
        if (x.channels != 3 || x.height < height || x.width < width) {
            throw new IllegalArgumentException("a " + x.height + "x" + x.width + "x" + x.channels
                    + " output cannot make a " + width + "x" + height + " RGB image");
        }
        int[] argb = new int[width * height];
        for (int y = 0; y < height; y++) {
            for (int xx = 0; xx < width; xx++) {
                int at = (y * x.width + xx) * 3;
                argb[y * width + xx] = 0xFF000000 | byteOf(x.data[at]) << 16 | byteOf(x.data[at + 1]) << 8
                        | byteOf(x.data[at + 2]);
            }
        }
        return new RgbImage(width, height, argb);
    }

    private static int byteOf(float v) {
        float f = (float) Math.floor(v * 255.0f + 0.5f);
        if (!(f >= 0)) {
            return 0;  // also NaN
        }
        return f > 255 ? 255 : (int) f;
    }

    /** PSNR in dB against another image of the same size (RGB, peak 255). */
    public double psnr(RgbImage other) {
        if (other.width != width || other.height != height) {
            throw new IllegalArgumentException("images differ in size");
        }
        double sum = 0;
        for (int i = 0; i < argb.length; i++) {
            for (int shift = 0; shift <= 16; shift += 8) {
                int d = ((argb[i] >> shift) & 0xFF) - ((other.argb[i] >> shift) & 0xFF);
                sum += d * d;
            }
        }
        double mse = sum / (3.0 * argb.length);
        return mse == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(255.0 * 255.0 / mse);
    }
}
