"""Input pipelines for compression training.

Sources: a local folder of images (searched recursively) or a
tensorflow-datasets catalog name written ``tfds:NAME[:SPLIT]``. Every example
becomes a random crop of a fixed size (static shapes for XLA/TPU), after a
random downscale that removes the JPEG artefacts of the source photos, and a
random flip. Images smaller than the crop are upscaled first, never dropped
with an error. The order and the crops are a pure function of the seed and the
example's position, so a resumed run sees the same data it would have seen.
"""

import os

import tensorflow as tf

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def list_images(folder):
    """All image files below `folder`, sorted (deterministic across machines)."""
    found = []
    for root, _, names in os.walk(folder):
        for name in names:
            if name.lower().endswith(IMAGE_EXTENSIONS):
                found.append(os.path.join(root, name))
    if not found:
        raise ValueError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found under {folder}")
    return sorted(found)


def _decode_file(path):
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    return tf.ensure_shape(image, (None, None, 3))


def random_crop(image, seed, patch, min_scale=0.6):
    """Downscale by a random factor in [min_scale, 1] (bounded so the crop fits), crop, flip."""
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    short = tf.reduce_min(shape)
    seeds = tf.random.experimental.stateless_split(seed, 3)
    smallest = tf.maximum(min_scale, patch / short)
    scale = tf.random.stateless_uniform((), seeds[0], tf.minimum(smallest, 1.0), 1.0)
    scale = tf.maximum(scale, patch / short)  # upscales images smaller than the crop
    size = tf.cast(tf.math.ceil(shape * scale), tf.int32)
    size = tf.maximum(size, patch)
    image = tf.image.resize(tf.cast(image, tf.float32), size, method="area", antialias=True)
    image = tf.image.stateless_random_crop(image, (patch, patch, 3), seeds[1])
    image = tf.image.stateless_random_flip_left_right(image, seeds[2])
    return tf.clip_by_value(image / 255.0, 0.0, 1.0)


def _tfds_images(name, split, seed):
    import tensorflow_datasets as tfds

    dataset = tfds.load(name, split=split, shuffle_files=True,
                        read_config=tfds.ReadConfig(shuffle_seed=seed))
    return dataset.map(lambda ex: ex["image"])


def training_dataset(source, patch=128, batch=8, seed=0, start_example=0, shuffle_buffer=2048):
    """Endless batches of (batch, patch, patch, 3) float32 in [0, 1].

    `start_example` skips that many examples without decoding them (resume).
    """
    seed_pair = tf.constant([seed, 0], tf.int64)
    if source.startswith("tfds:"):
        name, _, split = source[len("tfds:"):].partition(":")
        images = _tfds_images(name, split or "train", seed).repeat()
        images = images.shuffle(shuffle_buffer, seed=seed)
        examples = images.enumerate().skip(start_example)

        def prepare(index, image):
            return random_crop(image, tf.stack([seed_pair[0], index]), patch)
    else:
        files = list_images(source)
        paths = tf.data.Dataset.from_tensor_slices(files)
        paths = paths.shuffle(len(files), seed=seed, reshuffle_each_iteration=True).repeat()
        examples = paths.enumerate().skip(start_example)

        def prepare(index, path):
            return random_crop(_decode_file(path), tf.stack([seed_pair[0], index]), patch)

    options = tf.data.Options()
    options.deterministic = True
    return (examples.with_options(options)
            .map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
            .batch(batch, drop_remainder=True)
            .prefetch(tf.data.AUTOTUNE))


def validation_images(source, limit=None, size=256):
    """Center crops of validation images (for periodic real-metric checks)."""
    files = list_images(source)[:limit]
    dataset = tf.data.Dataset.from_tensor_slices(files).map(_decode_file)

    def center(image):
        image = tf.image.resize_with_crop_or_pad(image, size, size)
        return tf.cast(image, tf.float32) / 255.0

    return dataset.map(center).batch(1)
