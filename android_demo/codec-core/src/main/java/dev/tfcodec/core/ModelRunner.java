package dev.tfcodec.core;

import java.io.IOException;

/**
 * Runs the export's TFLite models for {@link EdgeCodec}. The app implements it with LiteRT's
 * {@code Interpreter} (quantising int8 inputs and dequantising outputs with each tensor's scale
 * and zero point, see {@link Quantization}); tests implement it with plain Java functions.
 *
 * <p>Roles: {@code analysis} (image in [0, 1] to y), {@code hyper_analysis} (y times the gain to
 * z), {@code lrp_<i>} (latent residual prediction of slice i, channel-wise models) and
 * {@code synthesis} (y_hat times the inverse gain to the image) — the files of
 * {@code manifest.json}'s {@code models}.
 */
public interface ModelRunner {
    /**
     * The {@code {height, width}} a static-shape model (an Edge TPU export) takes, or null when
     * the model resizes to any input.
     */
    int[] staticInputSize(String role) throws IOException;

    /** Runs one model on one NHWC input and returns its NHWC output, as floats. */
    FloatTensor run(String role, FloatTensor input) throws IOException;
}
