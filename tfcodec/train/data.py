"""Input pipelines for compression training, on tensorflow-datasets.

Sources (`--data`):

* ``tfds:NAME[:SPLIT]`` - any tfds catalog dataset with an image feature
  (``image``, else ``hr`` as in div2k, else the first image feature), e.g.
  ``tfds:clic``, ``tfds:div2k/bicubic_x2:train``, ``tfds:clic:train[:90%]``; a
  version goes after the name as in tfds (``tfds:clic:1.0.0:validation``). It is
  read from the data dir (``--data-dir``, else $TFDS_DATA_DIR, else
  ~/tensorflow_datasets) and prepared there with tfds if it is not yet.
* ``FOLDER`` - a flat or nested folder of images (a local path or a URL of any
  filesystem TensorFlow reads: gs://, file://, ...), turned once into a tfds
  dataset by our builder (`tfcodec.train.folder_dataset`, which says why) and
  then read like a catalog dataset.
Both paths read the encoded bytes straight from the TFRecord shards (file
instructions from the dataset info, tfds' image decoding skipped) and decode in
our own parallel map, after the resume skip and the shard filter, so skipped or
other-host examples are never decoded.

Order: epoch e visits the shards in a permutation keyed by (seed, e), reads a
few of them interleaved, and shuffles windows of records (bounded in bytes) with
permutations keyed by (seed, e, window). The order is thus a pure function of
the seed: `start_example` resumes by reading (not decoding) at most one epoch
of records. Every example carries its global position, which keys its crop
here and its quality and noise in the training step
(`tfcodec.train.randomness`), so the data and the randomness are the same
whatever the number of replicas, workers or hosts.

Augmentation: a random downscale in [0.6, 1] (it removes the JPEG artefacts of
the source photos; bounded so the crop fits), a static-shape random crop (XLA/
TPU), a random left-right flip. Images smaller than the crop are upscaled,
never dropped with an error.
"""

import os
import re

import tensorflow as tf

from tfcodec import fileio
from tfcodec.fileio import list_images

# Bytes of encoded records a shuffle window may hold.
WINDOW_BYTES = 256 << 20
_INTERLEAVE = 4


def decode(encoded):
    """Encoded bytes -> uint8 (H, W, 3) (grey and alpha images become RGB)."""
    image = tf.io.decode_image(encoded, channels=3, expand_animations=False)
    return tf.ensure_shape(image, (None, None, 3))


def _decode_file(path):
    return decode(tf.io.read_file(path))


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


# -- sources ------------------------------------------------------------------


def parse_tfds_spec(spec):
    """'NAME[:VERSION][:SPLIT]' (NAME may hold a config: 'div2k/bicubic_x2') -> (name, split).

    The split may use tfds slicing ('train[:90%]'); the returned name keeps the version.
    """
    name, _, rest = spec.partition(":")
    if not name:
        raise ValueError(f"tfds:{spec}: no dataset name")
    version = re.match(r"^(\d+\.\d+\.\d+)(?::|$)", rest)
    if version:
        name = f"{name}:{version.group(1)}"
        rest = rest[version.end():]
    return name, rest or "train"


def image_feature(features):
    """(the image feature `tfcodec train` reads, all image features) of a tfds FeaturesDict."""
    import tensorflow_datasets as tfds

    images = [k for k, f in features.items() if isinstance(f, tfds.features.Image)]
    for preferred in ("image", "hr"):
        if preferred in images:
            return preferred, images
    if images:
        return images[0], images
    if "image" in features:  # our folder builder: encoded bytes in a Tensor feature
        return "image", []
    raise ValueError(f"no image feature in {sorted(features)}")


class _TfdsSource:
    """Encoded image bytes of one split of a prepared tfds builder, as epochs of records."""

    def __init__(self, builder, split):
        import tensorflow_datasets as tfds

        self.builder = builder
        info = builder.info
        self.key, image_keys = image_feature(info.features)
        self.decoders = {k: tfds.decode.SkipDecoding() for k in image_keys}
        split_info = info.splits[split]
        self.split = split
        self.instructions = [fi for fi in split_info.file_instructions if fi.take > 0]
        self.num_examples = sum(fi.take for fi in self.instructions)
        if not self.num_examples:
            raise ValueError(f"{info.full_name} split {split!r} is empty")
        total = sum(s.num_examples for s in info.splits.values()) or 1
        mean_bytes = max(int(info.dataset_size or 0) // total, 1)
        self.window_limit = max(WINDOW_BYTES // mean_bytes, 8)
        file_format = str(getattr(info, "file_format", "") or "tfrecord").lower()
        self.tfrecord = "tfrecord" in file_format

    def _parse(self, serialized):
        features = self.builder.info.features.deserialize_example(serialized, decoders=self.decoders)
        return features[self.key]

    def epoch(self, epoch, seed):
        """One pass over the split in the order keyed by (seed, epoch): encoded bytes."""
        if not self.tfrecord:
            # Not TFRecord (e.g. ArrayRecord): tfds reads in storage order, windows shuffle.
            records = self.builder.as_dataset(split=self.split, shuffle_files=False,
                                              decoders=self.decoders).map(lambda ex: ex[self.key])
            return records
        files = tf.constant([os.fspath(fi.filename) for fi in self.instructions])
        skips = tf.constant([fi.skip for fi in self.instructions], tf.int64)
        takes = tf.constant([fi.take for fi in self.instructions], tf.int64)
        order = _permutation(len(self.instructions), tf.stack([seed, 2 * epoch]))
        instructions = tf.data.Dataset.from_tensor_slices(
            (tf.gather(files, order), tf.gather(skips, order), tf.gather(takes, order)))
        records = instructions.interleave(
            lambda f, s, t: tf.data.TFRecordDataset(f).skip(s).take(t),
            cycle_length=min(_INTERLEAVE, len(self.instructions)), block_length=1,
            num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return records.map(self._parse)


def _permutation(n, seed):
    """A permutation of range(n) keyed by the stateless seed (int64 pair); n may be a tensor."""
    return tf.argsort(tf.random.stateless_uniform(tf.reshape(n, (1,)), tf.cast(seed, tf.int64)))


def _tfds_source(spec, data_dir):
    import tensorflow_datasets as tfds

    from tfcodec.train.folder_dataset import tfds_data_dir

    name, split = parse_tfds_spec(spec)
    data_dir = tfds_data_dir(data_dir) if data_dir else None
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as e:
        raise ValueError(f"tfds:{spec}: cannot find dataset {name!r} "
                         f"(data dir {data_dir or tfds.core.constants.DATA_DIR}): {e}") from e
    if not builder.is_prepared():
        try:
            builder.download_and_prepare()
        except Exception as e:
            raise RuntimeError(
                f"tfds:{spec}: {builder.info.full_name} is not prepared in {builder.data_dir} and "
                f"preparing it failed ({type(e).__name__}: {e}). Prepare it where there is internet "
                f"(`tfds build {name} --data_dir DIR`, plus any manual download it asks for) and "
                f"pass --data-dir DIR or set TFDS_DATA_DIR.") from e
    return _TfdsSource(builder, split)


def open_source(source, data_dir=None):
    """A `_TfdsSource` for 'tfds:...' or a folder (prepared through our tfds builder)."""
    if source.startswith("tfds:"):
        return _tfds_source(source[len("tfds:"):], data_dir)
    from tfcodec.train.folder_dataset import prepare_folder

    return _TfdsSource(prepare_folder(source, data_dir), "train")


def _endless_records(src, seed, start_example, shuffle_buffer):
    """(global index, encoded bytes) from `start_example` on, forever."""
    n = src.num_examples
    window = int(max(1, min(shuffle_buffer, src.window_limit, n)))
    first_epoch, offset = divmod(int(start_example), n)
    seed = tf.constant(seed, tf.int64)

    def epoch_records(epoch):
        windows = src.epoch(epoch, seed).batch(window).enumerate()

        def shuffle(w, records):
            order = _permutation(tf.shape(records)[0], tf.stack([seed, 2 * epoch + 1 + tf.bitwise.left_shift(w, tf.constant(32, tf.int64))]))
            return tf.data.Dataset.from_tensor_slices(tf.gather(records, order))

        return windows.flat_map(shuffle)

    records = tf.data.Dataset.range(first_epoch, 1 << 62).flat_map(epoch_records).skip(offset)
    return records.enumerate(start=int(start_example))


def training_examples(source, patch=128, batch=8, seed=0, start_example=0, shuffle_buffer=2048, *,
                      replica_batch=None, num_pipelines=1, pipeline_id=0, data_dir=None, example_fn=None):
    """Endless (images, indices): crops (B, patch, patch, 3) float32 in [0, 1] and their
    global example positions (B,) int64.

    `example_fn(image uint8 (H, W, 3), key, patch)`, a family's own examples (its record's
    `training_example`, e.g. the JPEG refiner's re-encoded crops), replaces the crop: the
    images are then its batched structure, drawn from the same keyed randomness.

    `batch` is the global batch. For a distributed input pipeline (one per host/
    worker), pass `replica_batch` (global batch / replicas) and this pipeline's
    id of `num_pipelines`: it yields batches of `replica_batch` holding exactly
    the examples of its replicas, in the layout `distribute_datasets_from_function`
    hands to them (global batch s = examples [s*batch, (s+1)*batch), pipeline p
    owns the p-th of `num_pipelines` equal contiguous parts).
    """
    replica_batch = replica_batch or batch // num_pipelines
    share = batch // num_pipelines
    if batch % num_pipelines or share % replica_batch:
        raise ValueError(f"global batch {batch} does not split into {num_pipelines} pipelines "
                         f"of whole replica batches of {replica_batch}")
    records = _endless_records(open_source(source, data_dir), seed, start_example, shuffle_buffer)
    if num_pipelines > 1:
        records = records.filter(lambda i, _: (i % batch) // share == pipeline_id)

    make = example_fn or random_crop

    def prepare(index, record):
        key = tf.stack([tf.constant(seed, tf.int64), index])
        return make(decode(record), key, patch), index

    options = tf.data.Options()
    options.deterministic = True
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return (records.with_options(options)
            .map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
            .batch(replica_batch, drop_remainder=True)
            .prefetch(tf.data.AUTOTUNE))


def training_dataset(source, patch=128, batch=8, seed=0, start_example=0, shuffle_buffer=2048, **kwargs):
    """Endless batches of (batch, patch, patch, 3) float32 in [0, 1].

    `start_example` skips that many examples without decoding them (resume).
    Keyword arguments of `training_examples` (data_dir, ...) pass through.
    """
    return training_examples(source, patch, batch, seed, start_example, shuffle_buffer,
                             **kwargs).map(lambda images, _: images)


def validation_images(source, limit=None, size=256):
    """Center crops of validation images, (1, size, size, 3) float32 in [0, 1].

    Read directly from the folder (a fixed, small set: no shuffle, nothing to
    resume). Images with a side under `size` are upscaled first, never padded.
    Unreadable files are skipped with a warning.
    """
    files = list_images(source)[:limit]
    dataset = tf.data.Dataset.from_tensor_slices(files).map(_decode_file).ignore_errors(log_warning=True)

    def center(image):
        shape = tf.cast(tf.shape(image)[:2], tf.float32)
        scale = tf.maximum(size / tf.reduce_min(shape), 1.0)
        image = tf.cast(image, tf.float32)
        new = tf.cast(tf.math.ceil(shape * scale), tf.int32)
        image = tf.cond(scale > 1.0, lambda: tf.image.resize(image, new, method="bicubic"), lambda: image)
        image = tf.image.resize_with_crop_or_pad(image, size, size)
        return tf.clip_by_value(tf.round(image), 0.0, 255.0) / 255.0

    return dataset.map(center).batch(1)


def save_examples(source, folder, count, data_dir=None):
    """The first `count` images of a training source (`--data` syntax: a folder or
    tfds:NAME[:SPLIT], slices too: tfds:clic:train[:24]) written to `folder` as PNGs,
    with the image feature `tfcodec train` reads; for calibration folders. Returns the
    paths. Only the records of the slice are read, though tfds prepares the whole
    dataset the first time."""
    src = open_source(source, data_dir)
    fileio.makedirs(folder)
    paths = []
    for i, encoded in enumerate(src.epoch(0, tf.constant(0, tf.int64)).take(count)):
        path = fileio.join(folder, f"{i:04d}.png")
        fileio.write_image(path, decode(encoded).numpy())
        paths.append(path)
    return paths
