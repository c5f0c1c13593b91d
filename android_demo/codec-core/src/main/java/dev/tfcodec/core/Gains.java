package dev.tfcodec.core;

/**
 * The quality gains of {@code tfcodec.models.gains} / {@code tfcodec.edge.gain_vector}: the
 * latent y is multiplied by a per-channel gain before coding (and by the inverse gain before
 * synthesis); the gain for a quality in [0, 1] interpolates the rows of a learned table
 * log-linearly. Float arithmetic as in the Python edge runtime; the gains shape pixels only,
 * never a table choice, so a last-bit difference of {@code exp} is harmless.
 */
public final class Gains {
    private Gains() {
    }

    /** {@code logTable}: (levels, channels) rows, e.g. {@code gains/log_gain} of coding.npz. */
    public static float[] gainVector(NdArray logTable, double quality) throws TfcFormatException {
        logTable.requireShape("gain table", -1, -1);
        int levels = logTable.dim(0);
        int channels = logTable.dim(1);
        if (levels < 2) {
            throw new TfcFormatException("gain table has " + levels + " rows; needs 2 or more");
        }
        float[] table = logTable.toFloats();
        float position = (float) Math.min(Math.max(quality, 0.0), 1.0) * (float) (levels - 1);
        float low = Math.min(Math.max((float) Math.floor(position), 0.0f), (float) (levels - 2));
        float frac = position - low;
        int row = (int) low;
        float[] out = new float[channels];
        for (int c = 0; c < channels; c++) {
            float a = table[row * channels + c];
            float b = table[(row + 1) * channels + c];
            out[c] = (float) Math.exp((1.0f - frac) * a + frac * b);
        }
        return out;
    }
}
