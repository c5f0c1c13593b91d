"""Distortion metrics, computed the one way every codec is measured.

* PSNR on RGB 0-255 with ``tf.image.psnr`` (MSE over all three channels),
  per image; the runner averages the per-image dB values over images (the
  usual "average PSNR" of learned-compression papers). Identical images give
  infinite PSNR; it is capped at :data:`PSNR_CAP` so JSON/plots stay finite.
* MS-SSIM on RGB 0-255 with ``tf.image.ssim_multiscale(max_val=255)`` (the
  standard 5 scales, weights 0.0448/0.2856/0.3001/0.2363/0.1333, 11-tap
  Gaussian, sigma 1.5), in dB as ``-10*log10(1 - msssim)``.

Small images: each MS-SSIM scale halves the image (TF rounds odd sizes up)
and the 11-tap window must still fit at the coarsest one, so 5 scales need a
short side >= 161 px (ceil(161/16) = 11; often quoted as 176). A smaller
image uses as many scales as fit (the finest ones) with their weights
renormalised to sum to 1, and below 11 px a single scale with a window the
size of the image. Such values are not comparable with full 5-scale MS-SSIM;
:func:`msssim_scales` says how many scales an image gets and the runner
records it with every point.
"""

from __future__ import annotations

import math

import numpy as np

PSNR_CAP = 100.0  # dB, for identical images
MSSSIM_DB_CAP = 100.0  # dB, for MS-SSIM == 1
POWER_FACTORS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
FILTER_SIZE = 11
# Bump when a metric's definition changes: it is part of every cache key.
METRICS_VERSION = "psnr-tf+msssim-tf-v1"


def msssim_scales(height: int, width: int) -> tuple[int, int]:
    """(number of scales, filter size) that fit an image of this size."""
    side = min(height, width)
    for n in range(len(POWER_FACTORS), 0, -1):
        # TF pads odd sizes before each 2x average pool, so sizes round up.
        if math.ceil(side / 2 ** (n - 1)) >= FILTER_SIZE:
            return n, FILTER_SIZE
    return 1, max(1, side)


def _as_float_batch(img):
    import tensorflow as tf

    return tf.convert_to_tensor(np.asarray(img, dtype=np.float32)[None])


def psnr(original: np.ndarray, decoded: np.ndarray) -> float:
    """PSNR in dB of two uint8 HxWx3 RGB images, via ``tf.image.psnr``."""
    import tensorflow as tf

    _check_pair(original, decoded)
    value = float(tf.image.psnr(_as_float_batch(original), _as_float_batch(decoded), max_val=255.0)[0])
    return PSNR_CAP if not math.isfinite(value) or value > PSNR_CAP else value


def msssim(original: np.ndarray, decoded: np.ndarray) -> float:
    """MS-SSIM (0..1) of two uint8 HxWx3 RGB images, via ``tf.image.ssim_multiscale``.

    Uses fewer scales for images too small for five (see module docstring).
    """
    import tensorflow as tf

    _check_pair(original, decoded)
    n, filter_size = msssim_scales(*np.shape(original)[:2])
    if n == len(POWER_FACTORS):
        weights = list(POWER_FACTORS)  # exactly TF's default (they sum to 1.0001)
    else:
        weights = np.asarray(POWER_FACTORS[:n], dtype=np.float64)
        weights = (weights / weights.sum()).tolist()
    value = tf.image.ssim_multiscale(
        _as_float_batch(original), _as_float_batch(decoded), max_val=255.0,
        power_factors=weights, filter_size=filter_size,
    )
    return float(value[0])


def msssim_db(value: float) -> float:
    """MS-SSIM in dB, ``-10*log10(1 - x)``, capped for x == 1."""
    if value >= 1.0:
        return MSSSIM_DB_CAP
    return min(MSSSIM_DB_CAP, -10.0 * math.log10(1.0 - value))


def bits_per_pixel(num_bytes: int, height: int, width: int) -> float:
    """Whole-file size in bits over the number of pixels."""
    return num_bytes * 8.0 / (height * width)


def _check_pair(original, decoded) -> None:
    a, b = np.shape(original), np.shape(decoded)
    if a != b or len(a) != 3 or a[2] != 3:
        raise ValueError(f"decoded image has shape {b}, original {a}: both must be the same HxWx3")
