"""File input and output that loses nothing: atomic writes, no overwritten inputs.

Writes go to a temporary file in the destination folder, are flushed to disk,
then renamed over the destination in one step; on any failure (disk full,
interrupt) the temporary file is removed and the destination is untouched.

Paths may be URLs of any filesystem TensorFlow reads (`gs://` for Cloud TPUs,
`file://`, `ram://`, ...): those go through `tf.io.gfile`, and only they
import TensorFlow, so the edge runtime and `tfcodec info` stay without it on
local paths. On object stores a rename is a copy and a delete, so a reader
sees the old object or the new one whole, never a part.
"""

import io
import os
import tempfile

from tfcodec.errors import FormatError


def is_url(path) -> bool:
    """Whether `path` names a file through a filesystem scheme (gs://, file://, ram://, ...)."""
    return "://" in os.fspath(path)


def _gfile():
    import tensorflow as tf

    return tf.io.gfile


def exists(path) -> bool:
    return _gfile().exists(path) if is_url(path) else os.path.exists(path)


def isdir(path) -> bool:
    return _gfile().isdir(path) if is_url(path) else os.path.isdir(path)


def makedirs(path):
    if is_url(path):
        _gfile().makedirs(path)
    else:
        os.makedirs(path, exist_ok=True)


def join(folder, *names):
    """os.path.join for local paths and URLs alike (URLs always take '/')."""
    if is_url(folder):
        return "/".join([os.fspath(folder).rstrip("/"), *names])
    return os.path.join(folder, *names)


def walk_files(folder):
    """Every file below `folder` (recursively), as full paths, sorted."""
    if is_url(folder):
        found = [join(root, name) for root, _, names in _gfile().walk(folder) for name in names]
    else:
        found = [os.path.join(root, name) for root, _, names in os.walk(folder) for name in names]
    return sorted(found)


IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


def list_images(folder):
    """All image files below `folder` (a local path or a gs://, file://, ... URL), sorted
    (deterministic across machines); FormatError (a ValueError) for a missing or empty folder."""
    folder = os.fspath(folder)
    if not isdir(folder):
        raise FormatError(f"image folder {folder} does not exist")
    found = [path for path in walk_files(folder) if path.lower().endswith(IMAGE_EXTENSIONS)]
    if not found:
        raise FormatError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) found under {folder}")
    return found


def read_bytes(path) -> bytes:
    """A file's bytes (OSError/FileNotFoundError as open() raises them, for URLs too)."""
    if not is_url(path):
        with open(path, "rb") as f:
            return f.read()
    import tensorflow as tf

    try:
        with tf.io.gfile.GFile(path, "rb") as f:
            return f.read()
    except tf.errors.NotFoundError:
        raise FileNotFoundError(2, "No such file or directory", path) from None
    except tf.errors.OpError as e:
        raise OSError(f"{path}: {e.message}") from None


def _write_atomic_url(path, data):
    import uuid

    import tensorflow as tf

    tmp = f"{path}.tmp-{uuid.uuid4().hex[:12]}"
    try:
        with tf.io.gfile.GFile(tmp, "wb") as f:
            f.write(data)
        tf.io.gfile.rename(tmp, path, overwrite=True)
    except BaseException as e:
        try:
            tf.io.gfile.remove(tmp)
        except tf.errors.OpError:
            pass
        if isinstance(e, tf.errors.OpError):
            raise FormatError(f"could not write {path}: {e.message}") from None
        raise

# Pillow's own guard against decompression bombs, made explicit: 2**28 pixels.
MAX_IMAGE_PIXELS = 1 << 28


def check_not_input(output, *inputs):
    """Refuses to write over an input file."""
    for path in inputs:
        if is_url(output) or is_url(path):
            if os.fspath(output) == os.fspath(path):
                raise FormatError(f"refusing to overwrite the input {path}; choose another output path")
            continue
        if os.path.exists(output) and os.path.exists(path) and os.path.samefile(output, path):
            raise FormatError(f"refusing to overwrite the input {path}; choose another output path")


def read_stream(path) -> bytes:
    """A file's bytes, or a FormatError naming the path and the reason."""
    try:
        return read_bytes(path)
    except OSError as e:
        raise FormatError(f"cannot read {path}: {e.strerror or e}") from None


def write_atomic(path, data: bytes):
    if is_url(path):
        return _write_atomic_url(path, data)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tfcodec-", suffix=".part", dir=folder)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 would make outputs owner-only
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(e, OSError):
            raise FormatError(f"could not write {path}: {e.strerror or e}") from None
        raise


def read_image(path):
    """An image file -> uint8 HxWx3 RGB array; FormatError if unreadable."""
    import numpy as np
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        source = io.BytesIO(read_bytes(path)) if is_url(path) else path
        with Image.open(source) as image:
            image.load()
            if image.mode != "RGB":
                if "A" in image.getbands():
                    rgba = image.convert("RGBA")
                    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                    image = Image.alpha_composite(background, rgba)
                image = image.convert("RGB")
            return np.asarray(image, dtype=np.uint8).copy()
    except FileNotFoundError:
        raise FormatError(f"{path}: no such file") from None
    except (OSError, ValueError, Image.DecompressionBombError, SyntaxError) as e:
        raise FormatError(f"{path} is not a readable image ({e})") from None


def write_image(path, rgb):
    """Writes a uint8 RGB array atomically, format from the extension (PNG by default)."""
    from PIL import Image

    ext = os.path.splitext(path)[1].lower()
    fmt = {".png": "PNG", ".bmp": "BMP", ".ppm": "PPM", ".tif": "TIFF", ".tiff": "TIFF"}.get(ext, "PNG")
    buffer = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buffer, format=fmt)
    write_atomic(path, buffer.getvalue())
