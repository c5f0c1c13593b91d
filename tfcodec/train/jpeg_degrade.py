"""Training examples for the JPEG refiner: crops re-encoded by libjpeg on the fly.

Each example is a crop of a training photo, encoded by libjpeg (TensorFlow's
`encode_jpeg`, which sets the quality as libjpeg's `jpeg_set_quality` does,
so the tables are `tfcodec.jpegfile.ijg_tables`) at a random quality in the
config's range and with 4:2:0 or 4:4:4 chroma, half each, then decoded with
libjpeg's accurate integer IDCT and fancy chroma upsampling: the decoder
Pillow uses at inference (`tfcodec.codecs.jpeg_refine.decode_jpeg`; a test
holds the two to the same pixels).

The crop is encoded with a 16-pixel margin and both the original and the
decoded image are then cut at a random even offset: the model sees the 8x8
grid (and the 4:2:0 MCU) at every phase and must use its phase input, the
way a tile cut from a larger image would show it. Whole images start at
phase 0.

Randomness is keyed by (seed, example index) like the rest of the pipeline
(`tfcodec.train.randomness`), so a resumed run sees the same JPEGs.

Everything here is tf.data graph code: it runs on the input hosts of any
strategy (TPU VMs included); the model never sees a JPEG codec.
"""

import numpy as np
import tensorflow as tf

from tfcodec.jpegfile import ijg_tables, table_features
from tfcodec.models.config import JPEG_REFINE_STRIDE as MARGIN


def _encoders(config):
    """One encode branch per (quality, 4:2:0?): libjpeg's settings are op attributes."""
    branches = []
    for quality in range(config.quality_min, config.quality_max + 1):
        for subsampled in (True, False):
            branches.append(lambda image, q=quality, s=subsampled: tf.io.encode_jpeg(
                image, quality=q, chroma_downsampling=s))
    return branches


def _conditioning_table(config):
    """(qualities x 2, 130) conditioning vectors in the branches' order."""
    rows = []
    for quality in range(config.quality_min, config.quality_max + 1):
        luma, chroma = ijg_tables(quality)
        for subsampled in (True, False):
            rows.append(table_features(luma, chroma, (2, 2) if subsampled else (1, 1)))
    return np.stack(rows)


def degrade(image, branch, config):
    """uint8 (H, W, 3) -> (decoded JPEG uint8 (H, W, 3), its size in bytes) for branch
    `branch` (quality_min + branch // 2; 4:2:0 for even branches)."""
    encoded = tf.switch_case(tf.cast(branch, tf.int32), [lambda f=f: f(image) for f in _encoders(config)])
    decoded = tf.io.decode_jpeg(encoded, channels=3, dct_method="INTEGER_ACCURATE")
    return tf.ensure_shape(decoded, image.shape), tf.strings.length(encoded)


def branch_for(config, quality, subsampled=True):
    """The branch of a libjpeg quality and chroma mode."""
    return (int(quality) - config.quality_min) * 2 + (0 if subsampled else 1)


def make_example_fn(config):
    """fn(image uint8 (H, W, 3), key int64 (2,), patch) -> one training example:
    {"image", "jpeg": float32 (patch, patch, 3) in [0, 1], "conditioning": (130,),
    "phase": int32 (2,), "bpp": the JPEG's bits per pixel}."""
    from tfcodec.train.data import random_crop

    table = tf.constant(_conditioning_table(config))
    branches = table.shape[0]

    def example(image, key, patch):
        seeds = tf.random.experimental.stateless_split(key, 3)
        crop = random_crop(image, seeds[0], patch + MARGIN)
        crop = tf.cast(tf.round(crop * 255.0), tf.uint8)
        branch = tf.random.stateless_uniform((), seeds[1], 0, branches, dtype=tf.int32)
        decoded, size = degrade(crop, branch, config)
        offset = 2 * tf.random.stateless_uniform((2,), seeds[2], 0, MARGIN // 2, dtype=tf.int32)
        window = lambda x: tf.image.crop_to_bounding_box(x, offset[0], offset[1], patch, patch)
        to_unit = lambda x: tf.cast(x, tf.float32) / 255.0
        pixels = float((patch + MARGIN) ** 2)
        return {"image": to_unit(window(crop)), "jpeg": to_unit(window(decoded)),
                "conditioning": tf.gather(table, branch), "phase": offset,
                "bpp": tf.cast(size, tf.float32) * 8.0 / pixels}

    return example


def validation_example(config, quality, subsampled=True):
    """fn(image float32 (H, W, 3) in [0, 1]) -> the example of that image as a libjpeg file
    of `quality` (in [0, 1], mapped onto the config's range) would give, at phase 0."""
    table = tf.constant(_conditioning_table(config))

    def example(image):
        q = round(config.quality_min + float(quality) * (config.quality_max - config.quality_min))
        branch = branch_for(config, q, subsampled)
        crop = tf.cast(tf.round(image * 255.0), tf.uint8)
        decoded, size = degrade(crop, branch, config)
        pixels = tf.cast(tf.shape(image)[0] * tf.shape(image)[1], tf.float32)
        return {"image": image, "jpeg": tf.cast(decoded, tf.float32) / 255.0,
                "conditioning": table[branch], "phase": tf.zeros((2,), tf.int32),
                "bpp": tf.cast(size, tf.float32) * 8.0 / pixels}

    return example
