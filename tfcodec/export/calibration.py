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

Static shapes (Edge TPU) need samples of exactly the exported size, larger
than most training photos: those samples are mosaics of training crops, which
keeps the statistics of natural content (a seam is just another edge) without
upscaling whole images.
"""

import os

import numpy as np

from tfcodec.errors import FormatError

TILE = 256
QUALITIES = (0.0, 0.25, 0.5, 0.75, 1.0)


def _check_folder(folder):
    """A training-image folder, local or a URL (gs://, ...); never the Kodak evaluation set."""
    from tfcodec import fileio

    folder = os.fspath(folder)
    if not fileio.isdir(folder):
        raise FormatError(f"calibration folder {folder} does not exist")
    where = folder if fileio.is_url(folder) else os.path.abspath(folder)
    if "kodak" in where.lower():
        raise FormatError(f"{folder} looks like the Kodak evaluation set: calibrate on training images only")


def _crop(rgb, h, w, rng):
    """A random h x w crop; images smaller than that are upscaled first."""
    from PIL import Image

    ih, iw = rgb.shape[:2]
    if ih < h or iw < w:
        scale = max(h / ih, w / iw)
        size = (max(w, int(np.ceil(iw * scale))), max(h, int(np.ceil(ih * scale))))
        rgb = np.asarray(Image.fromarray(rgb).resize(size, Image.BICUBIC))
        ih, iw = rgb.shape[:2]
    top, left = rng.integers(0, ih - h + 1), rng.integers(0, iw - w + 1)
    return rgb[top:top + h, left:left + w]


def calibration_images(folder, count, height=None, width=None, seed=0):
    """Float32 images in [0, 1]: `count` training crops of TILE (multiples of 64), or
    for a static size, mosaics of (height, width) filled with `count` crops or more."""
    from tfcodec.fileio import read_image
    from tfcodec.train.data import list_images

    _check_folder(folder)
    try:
        files = list_images(folder)
    except ValueError as e:
        raise FormatError(str(e)) from None
    rng = np.random.default_rng(seed)
    picks = iter(rng.choice(len(files), size=max(count, 1), replace=count > len(files)).tolist()
                 + rng.integers(0, len(files), size=10 * max(count, 1)).tolist())

    def next_image():
        return read_image(files[next(picks)])

    images = []
    if height is None:
        while len(images) < count:
            rgb = next_image()
            side = min(TILE, *rgb.shape[:2]) // 64 * 64
            if side >= 64:
                images.append(_crop(rgb, side, side, rng).astype(np.float32) / 255.0)
        return images
    tiles = [(top, left, min(TILE, height - top), min(TILE, width - left))
             for top in range(0, height, TILE) for left in range(0, width, TILE)]
    mosaics = max(1, -(-count // len(tiles)))
    for _ in range(mosaics):
        canvas = np.empty((height, width, 3), np.uint8)
        for top, left, h, w in tiles:
            canvas[top:top + h, left:left + w] = _crop(next_image(), h, w, rng)
        images.append(canvas.astype(np.float32) / 255.0)
    return images


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
