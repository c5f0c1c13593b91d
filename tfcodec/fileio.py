"""File input and output that loses nothing: atomic writes, no overwritten inputs.

Writes go to a temporary file in the destination folder, are flushed to disk,
then renamed over the destination in one step; on any failure (disk full,
interrupt) the temporary file is removed and the destination is untouched.
"""

import os
import tempfile

from tfcodec.errors import FormatError

# Pillow's own guard against decompression bombs, made explicit: 2**28 pixels.
MAX_IMAGE_PIXELS = 1 << 28


def check_not_input(output, *inputs):
    """Refuses to write over an input file."""
    for path in inputs:
        if os.path.exists(output) and os.path.exists(path) and os.path.samefile(output, path):
            raise FormatError(f"refusing to overwrite the input {path}; choose another output path")


def read_stream(path) -> bytes:
    """A file's bytes, or a FormatError naming the path and the reason."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise FormatError(f"cannot read {path}: {e.strerror or e}") from None


def write_atomic(path, data: bytes):
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
        with Image.open(path) as image:
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


def encode_png(rgb):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buffer, format="PNG")
    return buffer.getvalue()


def write_image(path, rgb):
    """Writes a uint8 RGB array atomically, format from the extension (PNG by default)."""
    import io

    from PIL import Image

    ext = os.path.splitext(path)[1].lower()
    fmt = {".png": "PNG", ".bmp": "BMP", ".ppm": "PPM", ".tif": "TIFF", ".tiff": "TIFF"}.get(ext, "PNG")
    buffer = io.BytesIO()
    Image.fromarray(rgb, "RGB").save(buffer, format=fmt)
    write_atomic(path, buffer.getvalue())
