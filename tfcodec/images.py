"""Image helpers every codec family shares, and the one choice of calibration crops.

numpy and Pillow only at import (the edge runtime uses this module without
TensorFlow). Codecs take RGB uint8 images, pad them to their stride by edge
replication and crop the decoded pixels back; `calibration_crops` picks the
training crops that tables, integer nets and int8 models are calibrated on.
"""

import os

import numpy as np

from tfcodec import container
from tfcodec.errors import FormatError

# Side of a calibration crop, a multiple of 64 (every family's stride divides it).
CALIBRATION_CROP = 256


def check_image(rgb):
    """An RGB uint8 image of 1 to container.MAX_SIDE pixels a side, or FormatError."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or rgb.shape[0] < 1 or rgb.shape[1] < 1:
        raise FormatError(f"expected an RGB uint8 image, got {rgb.dtype} of shape {rgb.shape}")
    if not (rgb.shape[0] <= container.MAX_SIDE and rgb.shape[1] <= container.MAX_SIDE):
        raise FormatError(f"image {rgb.shape[1]}x{rgb.shape[0]} is larger than {container.MAX_SIDE} pixels a side")
    return rgb


def pad_image(rgb, multiple):
    """Edge-replicates to a multiple of a model's stride (cropped after decoding)."""
    h, w = rgb.shape[:2]
    return np.pad(rgb, ((0, -h % multiple), (0, -w % multiple), (0, 0)), mode="edge")


def to_uint8(x_hat, height, width):
    """A decoded image in [0, 1] (padded) -> the cropped uint8 image."""
    x_hat = np.asarray(x_hat)[:height, :width]
    return np.clip(np.floor(x_hat * 255.0 + 0.5), 0, 255).astype(np.uint8)


def calibration_files(folder):
    """The images of a training-image folder, local or a URL (gs://, ...); FormatError for a
    missing or empty folder, or the Kodak evaluation set. Callers check early with it."""
    from tfcodec import fileio

    folder = os.fspath(folder)
    if not fileio.isdir(folder):
        raise FormatError(f"calibration folder {folder} does not exist")
    where = folder if fileio.is_url(folder) else os.path.abspath(folder)
    if "kodak" in where.lower():
        raise FormatError(f"{folder} looks like the Kodak evaluation set: calibrate on training images only")
    return fileio.list_images(folder)


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


def calibration_crops(folder, count, size=CALIBRATION_CROP, height=None, width=None, seed=0):
    """Float32 images in [0, 1] from a folder of training images (local or a URL).

    Without a static size: `count` square crops of `size` pixels a side, or of the
    largest multiple of 64 an image holds. With (height, width), for static-shape
    models: mosaics of exactly that size, tiled with `size`-pixel crops, at least
    `count` crops in all; a mosaic keeps the statistics of natural content (a seam
    is just another edge) without upscaling whole images. The same seed gives the
    same crops. Evaluation images (Kodak) are refused: calibrating on them would
    leak the test set into the model.
    """
    from tfcodec.fileio import read_image

    files = calibration_files(folder)
    rng = np.random.default_rng(seed)
    picks = iter(rng.choice(len(files), size=max(count, 1), replace=count > len(files)).tolist()
                 + rng.integers(0, len(files), size=10 * max(count, 1)).tolist())

    def next_image():
        return read_image(files[next(picks)])

    images = []
    if height is None:
        while len(images) < count:
            rgb = next_image()
            side = min(size, *rgb.shape[:2]) // 64 * 64
            if side >= 64:
                images.append(_crop(rgb, side, side, rng).astype(np.float32) / 255.0)
        return images
    tiles = [(top, left, min(size, height - top), min(size, width - left))
             for top in range(0, height, size) for left in range(0, width, size)]
    mosaics = max(1, -(-count // len(tiles)))
    for _ in range(mosaics):
        canvas = np.empty((height, width, 3), np.uint8)
        for top, left, h, w in tiles:
            canvas[top:top + h, left:left + w] = _crop(next_image(), h, w, rng)
        images.append(canvas.astype(np.float32) / 255.0)
    return images
