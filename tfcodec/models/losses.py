"""Training objectives that need more care than a one-liner: a NaN-free MS-SSIM and the
recurrent codec's MS-SSIM objective built on it.

`msssim` is MS-SSIM as `tf.image.ssim_multiscale` computes it (same Gaussian
window, VALID filtering, symmetric padding of odd sizes before each 2x average
pool, contrast-structure at every scale but the last, SSIM at the last,
weighted geometric mean, mean over channels), with one change for training:
where TF clamps each scale's term with `relu` before raising it to a power below
one, this clamps at a small positive floor. At a term of exactly zero (a flat
crop badly reconstructed can give cs <= 0) TF's gradient is inf * 0 = NaN, which
poisons the weights; with the floor it is zero. Values agree with TF wherever
every term is above the floor (tested); evaluation keeps using TF's own metric.
"""

import numpy as np
import tensorflow as tf

from tfcodec.evaluate.metrics import FILTER_SIZE, POWER_FACTORS, msssim_scales

TERM_FLOOR = 1e-4  # per-scale terms below this count as this (gradient 0)


def _gaussian_window(size, sigma, channels):
    coords = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-0.5 * (coords / sigma) ** 2)
    g /= g.sum()
    window = np.outer(g, g)[:, :, None, None]
    return tf.constant(np.tile(window, (1, 1, channels, 1)), tf.float32)


def _ssim_terms(x, y, window, max_val, k1=0.01, k2=0.03):
    """(SSIM, contrast-structure), each (batch, channels): spatial means."""
    def blur(v):
        return tf.nn.depthwise_conv2d(v, window, strides=(1, 1, 1, 1), padding="VALID")

    c1, c2 = (k1 * max_val) ** 2, (k2 * max_val) ** 2
    mx, my = blur(x), blur(y)
    num0 = 2.0 * mx * my
    den0 = tf.square(mx) + tf.square(my)
    luminance = (num0 + c1) / (den0 + c1)
    cs = (2.0 * blur(x * y) - num0 + c2) / (blur(tf.square(x) + tf.square(y)) - den0 + c2)
    return tf.reduce_mean(luminance * cs, axis=(1, 2)), tf.reduce_mean(cs, axis=(1, 2))


def _halve(v):
    """TF's MS-SSIM downscale: symmetric pad to even size, then 2x2 average pool."""
    h, w = v.shape[1], v.shape[2]
    if h % 2 or w % 2:
        v = tf.pad(v, [[0, 0], [0, h % 2], [0, w % 2], [0, 0]], mode="SYMMETRIC")
    return tf.nn.avg_pool2d(v, 2, 2, "VALID")


def msssim(x, y, max_val=1.0, power_factors=POWER_FACTORS, filter_size=FILTER_SIZE, sigma=1.5):
    """MS-SSIM per image of (batch, H, W, C) tensors with static H, W; see the module."""
    x = tf.convert_to_tensor(x, tf.float32)
    y = tf.convert_to_tensor(y, tf.float32)
    window = _gaussian_window(filter_size, sigma, x.shape[-1])
    weights = tf.constant(power_factors, tf.float32)
    terms = []
    for k in range(len(power_factors)):
        if k:
            x, y = _halve(x), _halve(y)
        ssim, cs = _ssim_terms(x, y, window, max_val)
        terms.append(cs if k < len(power_factors) - 1 else ssim)
    stacked = tf.maximum(tf.stack(terms, axis=-1), TERM_FLOOR)
    return tf.reduce_mean(tf.reduce_prod(tf.pow(stacked, weights), axis=-1), axis=-1)


def msssim_for_crops(x, y):
    """MS-SSIM of [0, 1] crops with as many of the standard scales as they hold
    (weights renormalised: the evaluation's small-image rule)."""
    height, width = x.shape[1], x.shape[2]
    if height is None or width is None:
        raise ValueError("the MS-SSIM loss needs crops of a static size")
    scales, filter_size = msssim_scales(int(height), int(width))
    weights = np.asarray(POWER_FACTORS[:scales], np.float64)
    return msssim(x, y, 1.0, tuple((weights / weights.sum()).tolist()), filter_size)


MSSSIM_L1_SHARE = 0.1  # share of log L1 in `msssim_log_loss`: keeps flat areas' colours


def msssim_log_loss(x, x_hat):
    """Per image: 0.9 log(1 - MS-SSIM) + 0.1 log(mean |x - x_hat|), x in [0, 1].

    The recurrent codec's MS-SSIM objective, summed over iterations. Logs, because
    the target is MS-SSIM in dB at every iteration count: the sum of log(1 - MS-SSIM)
    is -ln(10)/10 times the sum of the dB values, so a late iteration's 0.5 dB counts
    as much as an early one's, whereas summed L1 lets the large early residuals
    dominate. The small L1 part anchors colour, which per-channel SSIM constrains
    only through its coarsest-scale luminance term.
    """
    l1 = tf.reduce_mean(tf.abs(x - x_hat), axis=(1, 2, 3))
    return ((1.0 - MSSSIM_L1_SHARE) * tf.math.log(tf.maximum(1.0 - msssim_for_crops(x, x_hat), 1e-6))
            + MSSSIM_L1_SHARE * tf.math.log(l1 + 1e-6))
