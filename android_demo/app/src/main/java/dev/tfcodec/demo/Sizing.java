package dev.tfcodec.demo;

import java.util.Locale;

/** Plain-Java helpers of the demo (no Android types), unit-tested on the JVM. */
final class Sizing {
    /** Images are padded to multiples of this before the analysis transform. */
    static final int STRIDE = 64;

    private Sizing() {
    }

    /**
     * The size to scale a {@code width x height} photo to before compressing: at most
     * {@code maxSide} on its long side, never enlarged (a static-shape export takes any size: the
     * codec core runs it in tiles). Returns {@code {width, height}}.
     */
    static int[] fit(int width, int height, int maxSide) {
        double scale = Math.min(1.0, maxSide / (double) Math.max(width, height));
        // The epsilon keeps 3024 * (512 / 3024) at 512, not 511.
        int w = Math.max(1, (int) Math.floor(width * scale + 1e-9));
        int h = Math.max(1, (int) Math.floor(height * scale + 1e-9));
        return new int[] {w, h};
    }

    /** The power-of-two subsampling BitmapFactory can apply while still decoding at least {@code target} pixels on the long side. */
    static int sampleSize(int width, int height, int target) {
        int sample = 1;
        while (Math.max(width, height) / (sample * 2) >= target) {
            sample *= 2;
        }
        return sample;
    }

    /** Bits per pixel of a file of {@code bytes} for an image of {@code width x height}. */
    static double bpp(long bytes, int width, int height) {
        return bytes * 8.0 / ((long) width * height);
    }

    /** "123 ms" / "1.23 s". */
    static String millis(long nanos) {
        double ms = nanos / 1e6;
        return ms < 1000 ? String.format(Locale.US, "%.0f ms", ms) : String.format(Locale.US, "%.2f s", ms / 1000);
    }

    /** The stats line of a decoded or encoded file. */
    static String describe(int width, int height, long bytes, long entropyNanos, long networkNanos, String what) {
        return String.format(Locale.US, "%d x %d, %,d bytes, %.3f bpp%n%s in %s (entropy decoding %s, networks %s)",
                width, height, bytes, bpp(bytes, width, height), what, millis(entropyNanos + networkNanos),
                millis(entropyNanos), millis(networkNanos));
    }
}
