"""Folders of photos as tensorflow-datasets datasets (prepared once, cached).

`prepare_folder(folder, data_dir)` turns a flat or nested folder of images into
a tfds dataset (`ImageFolder`, a small `GeneratorBasedBuilder`) with one split,
"train", whose examples are ``{"image": encoded bytes, "path": relative path}``.
The bytes are the files' own (JPEG stays JPEG, no re-encoding, no quality
loss); formats that `tf.io.decode_image` cannot read, or modes it mishandles
(TIFF, CMYK JPEG, ...), are converted once to PNG with Pillow, and files Pillow
cannot open are skipped with a warning, so a broken file in a photo folder
never stops a training run hours later.

Why tfds rather than reading the files directly: the same reader then serves
local folders and catalog datasets (`tfds:clic`, `tfds:div2k`), the records sit
in a few large TFRecord shards (sequential reads, which matters on network
disks and GCS for TPUs), and resuming a run skips records without opening
files. The cost is one copy of the folder under the data dir, made the first
time; the cache key hashes the folder's absolute path and every file's
relative path, size and modification time, so an edited folder is prepared
again.

The cache lives in ``DATA_DIR/tfcodec_folders/<digest>/``; a file lock keeps
two processes (e.g. two workers of one run) from preparing the same folder at
once (on a local data dir; tfds' own write-then-rename keeps a gs:// one whole).

The folder may be local or a URL of any filesystem TensorFlow reads (gs://,
file://, ram://, ...): it is read through tf.io.gfile. The data dir is
written by tfds, through etils' epath, which takes local paths, gs://, s3://
and az:// (a file:// URL is turned into its local path; ram:// is refused).
"""

import hashlib
import io
import os
from typing import ClassVar

from absl import logging

from tfcodec import fileio

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
# Formats and modes tf.io.decode_image reads as they are.
_NATIVE_FORMATS = {"JPEG": ("L", "RGB"), "PNG": ("1", "L", "LA", "P", "RGB", "RGBA", "I;16", "I"),
                   "GIF": ("L", "P", "RGB", "RGBA"), "BMP": ("L", "P", "RGB", "RGBA"),
                   "WEBP": ("RGB", "RGBA")}
_FORMAT_VERSION = "1"


def default_data_dir():
    """$TFCODEC_DATA_DIR, else $TFDS_DATA_DIR, else ~/tensorflow_datasets."""
    return (os.environ.get("TFCODEC_DATA_DIR") or os.environ.get("TFDS_DATA_DIR")
            or os.path.join(os.path.expanduser("~"), "tensorflow_datasets"))


def _relative(path, folder):
    """`path` below `folder`, relative to it ('/'-separated for URLs)."""
    if fileio.is_url(folder):
        return path[len(folder.rstrip("/")):].lstrip("/")
    return os.path.relpath(path, folder)


def scan_folder(folder):
    """Sorted relative paths of the images below `folder` and a digest of their state.

    `folder` is a local path or a URL of any filesystem TensorFlow reads (gs://, ...).
    """
    import tensorflow as tf

    folder = os.fspath(folder)
    folder = folder.rstrip("/") if fileio.is_url(folder) else os.path.abspath(folder)
    if not fileio.isdir(folder):
        raise ValueError(f"image folder {folder} does not exist")
    found = sorted(_relative(path, folder) for path in fileio.walk_files(folder)
                   if path.lower().endswith(IMAGE_EXTENSIONS))
    if not found:
        raise ValueError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found under {folder}")
    digest = hashlib.sha256(f"{_FORMAT_VERSION}\0{folder}\0".encode())
    for rel in found:
        stat = tf.io.gfile.stat(fileio.join(folder, rel))
        digest.update(f"{rel}\0{stat.length}\0{stat.mtime_nsec}\0".encode())
    return folder, found, digest.hexdigest()[:20]


def _readable_bytes(path):
    """The file's bytes if decode_image reads them, else a PNG re-encoding; None if unreadable."""
    from PIL import Image

    try:
        data = fileio.read_bytes(path)
    except OSError as e:
        logging.warning("skipping %s: %s", path, e)
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.mode in _NATIVE_FORMATS.get(image.format, ()):
                return data
            image.load()
            rgb = image.convert("RGBA" if "A" in image.getbands() else "RGB")
            out = io.BytesIO()
            rgb.save(out, "PNG")
            return out.getvalue()
    except Exception as e:  # noqa: BLE001 - any unreadable file is skipped, with its reason
        logging.warning("skipping %s: %s", path, e)
        return None


def _builder_class():
    import tensorflow as tf
    import tensorflow_datasets as tfds

    class ImageFolder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
        """A folder of images (searched recursively) as one "train" split of encoded bytes."""

        name = "tfcodec_image_folder"
        VERSION = tfds.core.Version("1.0.0")
        RELEASE_NOTES: ClassVar[dict] = {"1.0.0": "Encoded image bytes and relative paths."}
        # Nothing is downloaded, so no checksums file: skips tfds' code-path lookup
        # (which also needs the optional importlib_resources package).
        code_path = None

        def __init__(self, *, folder=None, files=(), **kwargs):
            self._folder = folder
            self._files = list(files)
            super().__init__(**kwargs)

        def _info(self):
            return self.dataset_info_from_configs(
                description=f"Images below {self._folder}",
                features=tfds.features.FeaturesDict({
                    "image": tfds.features.Tensor(shape=(), dtype=tf.string),
                    "path": tfds.features.Text(),
                }),
            )

        def _split_generators(self, dl_manager):
            del dl_manager
            return {"train": self._generate_examples()}

        def _generate_examples(self):
            for rel in self._files:
                data = _readable_bytes(fileio.join(self._folder, rel))
                if data is not None:
                    yield rel, {"image": data, "path": rel}

    return ImageFolder


class _FileLock:
    def __init__(self, path):
        self.path = path
        self.handle = None

    def __enter__(self):
        if fileio.is_url(self.path):
            # No advisory locks on object stores: two workers may both prepare; tfds writes
            # into a fresh incomplete.* folder and renames it, so the result is whole either way.
            return self
        import fcntl

        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.handle = open(self.path, "w")
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if self.handle is not None:
            import fcntl

            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()


def tfds_data_dir(data_dir):
    """The data dir as tfds takes it: file:// URLs as local paths; tfds (etils' epath)
    also takes gs://, s3:// and az://, but not TensorFlow's other schemes (ram://, ...)."""
    data_dir = os.fspath(data_dir or default_data_dir())
    if data_dir.startswith("file://"):
        return data_dir[len("file://"):] or "/"
    scheme = data_dir.split("://", 1)[0] + "://" if fileio.is_url(data_dir) else None
    if scheme and scheme not in ("gs://", "s3://", "az://"):
        raise ValueError(f"data dir {data_dir}: tensorflow-datasets cannot write to {scheme} "
                         "(use a local folder or gs://)")
    return data_dir


def prepare_folder(folder, data_dir=None):
    """The prepared tfds builder of `folder` (prepares it the first time).

    `folder` may be a URL of any filesystem TensorFlow reads (gs://, file://, ram://);
    the data dir a local folder or gs:// (see `tfds_data_dir`).
    """
    import tensorflow_datasets as tfds

    folder, files, digest = scan_folder(folder)
    root = fileio.join(tfds_data_dir(data_dir), "tfcodec_folders", digest)
    builder = _builder_class()(folder=folder, files=files, data_dir=root)
    if not builder.is_prepared():
        with _FileLock(root + ".lock"):
            builder = _builder_class()(folder=folder, files=files, data_dir=root)
            if not builder.is_prepared():
                logging.info("preparing %d images below %s into %s (once)", len(files), folder, root)
                builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
                    compute_stats=tfds.download.ComputeStatsMode.SKIP))
    if builder.info.splits["train"].num_examples == 0:
        raise ValueError(f"no readable images under {folder}")
    return builder
