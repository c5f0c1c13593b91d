"""A tiny tensorflow-datasets catalog dataset for tests that need a `tfds:NAME` source.

`build_catalog_dataset(data_dir)` prepares ``tfcodec_test_sr`` in `data_dir`: a div2k-like
dataset with ``hr`` and ``lr`` image features (no ``image`` feature, so readers must pick the
feature the way `tfcodec train` does), 6 training and 2 validation examples. It is prepared
with tfds itself and then read by name from its files (``tfds:tfcodec_test_sr`` with
``--data-dir``), in this process or another, without this module.
"""

import os

import numpy as np

NAME = "tfcodec_test_sr"
TRAIN_EXAMPLES = 6


def photo_like(height, width, i, rng):
    """A photo-like RGB uint8 image: gradients, an edge and noise (compressible, not trivial)."""
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([xx * 255 / width, yy * 255 / height, ((xx + 2 * yy + 40 * i) % 97) * 2.5], axis=-1)
    base[:, width // 2 + i:] *= 0.6
    return np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)


def hr_shape(i):
    """(height, width) of example `i`'s ``hr`` image."""
    return 96 + 8 * i, 128


def build_catalog_dataset(data_dir):
    """Prepares ``tfcodec_test_sr`` under `data_dir`; returns `data_dir`."""
    import tensorflow_datasets as tfds

    os.makedirs(data_dir, exist_ok=True)

    class TfcodecTestSr(tfds.core.GeneratorBasedBuilder, skip_registration=True):
        VERSION = tfds.core.Version("1.0.0")
        code_path = None  # nothing to download: no checksums file
        pkg_dir_path = tfds.core.Path(data_dir)  # metadata folder (tests/ is not a package)

        def _info(self):
            return self.dataset_info_from_configs(features=tfds.features.FeaturesDict({
                "lr": tfds.features.Image(shape=(None, None, 3)),
                "hr": tfds.features.Image(shape=(None, None, 3)),
                "id": tfds.features.Scalar(np.int64)}))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(range(TRAIN_EXAMPLES)),
                    "validation": self._generate_examples(range(TRAIN_EXAMPLES, TRAIN_EXAMPLES + 2))}

        def _generate_examples(self, ids):
            for i in ids:
                hr = photo_like(*hr_shape(i), i, np.random.default_rng(i))
                yield i, {"hr": hr, "lr": np.ascontiguousarray(hr[::4, ::4]), "id": i}

    TfcodecTestSr(data_dir=data_dir).download_and_prepare()
    return data_dir
