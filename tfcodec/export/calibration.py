"""Representative inputs for full-integer quantisation, from training images only.

Each model is calibrated on what it sees when coding: the float TF coder runs
on training crops at evenly spaced qualities, and the input of every role is
recorded (x; y * gain; LRP context built by the integer entropy path; the
corrected latent times the inverse gain). Evaluation images (Kodak) are
refused: calibrating on them would leak the test set into the model.

int8 gives a tensor one scale for all its channels, and the latent channels'
ranges differ (on the shipped model the largest is 4x the median), so the
analysis output and the synthesis input are rescaled per channel to a common
range; the factors fold into the models' outer convolutions and the gain
tables (`representative_inputs`).

The images are `tfcodec.images.calibration_crops` (mosaics of crops for a
static size).
"""

import numpy as np

QUALITIES = (0.0, 0.25, 0.5, 0.75, 1.0)


def _unit_range(arrays):
    """Per channel, 1 / the largest |value| over the arrays (1 for an all-zero channel)."""
    peak = np.max([np.abs(a).reshape(-1, a.shape[-1]).max(axis=0) for a in arrays], axis=0)
    return (1.0 / np.where(peak > 0, peak, 1.0)).astype(np.float32)


def representative_inputs(coder, images, qualities=QUALITIES):
    """({role: [float32 arrays]}, scales): what each exported model sees, from the float coder.

    scales: {"analysis": per-channel factor on the analysis output, "synthesis": on the
    synthesis input}, each bringing every latent channel to [-1, 1] on these images.
    The synthesis inputs returned already carry their factor; the export divides the
    gain table by the first and multiplies the inverse gain table by the second, so
    the products the runtime forms are unchanged.
    """
    import tensorflow as tf

    from tfcodec.codecs.latent_coding import RATE_SCALE, dequantise
    from tfcodec.entropy.integer_net import PARAM_EXPONENT

    model, config = coder.model, coder.config
    inputs = {"analysis": [], "hyper_analysis": [], "synthesis": []}
    outputs = []
    for image in images:
        x = np.array(image, np.float32)
        h, w = x.shape[:2]
        # Pure black and white pixels pin the input range to [0, 1], so the
        # int8 input scale is exactly 1/255: the quantised input is the pixel - 128.
        pinned = x.copy()
        pinned[0, 0], pinned[0, 1] = 0.0, 1.0
        inputs["analysis"].append(pinned[None])
        y_raw = model.analysis(tf.constant(x[None]))
        outputs.append(y_raw.numpy())
        for quality in qualities:
            gain, inverse_gain = model.gains(tf.constant([quality], tf.float32))
            y = y_raw * gain[:, None, None, :]
            z = model.hyper_analysis(y)
            inputs["hyper_analysis"].append(y.numpy())
            rate = round(quality * RATE_SCALE)
            _, _, decoded = coder.latents.encode(y.numpy()[0], z.numpy()[0], h, w, rate)
            y_hat = dequantise(decoded)
            if config.channelwise:
                mean_feat, _ = coder.latents.features(np.rint(z.numpy()).astype(np.int64))
                mean_float = (mean_feat / 2.0**PARAM_EXPONENT).astype(np.float32)
                corrected = []
                for i in range(config.num_slices):
                    context = np.concatenate([mean_float] + y_hat[:i + 1], axis=-1)
                    inputs.setdefault(f"lrp_{i}", []).append(context)
                    residual = model.latent_residual(i, tf.constant(mean_float), y_hat[:i + 1]).numpy()
                    corrected.append(y_hat[i] + residual)
                y_hat = corrected
            inputs["synthesis"].append(np.concatenate(y_hat, axis=-1) * inverse_gain.numpy()[:, None, None, :])
    scales = {"analysis": _unit_range(outputs), "synthesis": _unit_range(inputs["synthesis"])}
    inputs["synthesis"] = [a * scales["synthesis"] for a in inputs["synthesis"]]
    return inputs, scales
