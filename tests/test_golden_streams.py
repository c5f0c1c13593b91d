"""Every shipped model writes, byte for byte, the streams it wrote when they were recorded.

tests/data/golden_streams.npz holds, for each shipped model and three settings, the
stream of tests/data/golden_image.png and its decoded pixels (tools/make_golden_streams.py).
A refactoring that changes any byte of a stream, or moves decoded pixels, fails here: files
users already have must keep decoding to the same images. Streams must match exactly (they come
from integer arithmetic); pixels come from the float synthesis, whose last bit depends on the
Keras/TensorFlow release and the CPU's kernels (Keras 3.15 moved 2 of 63,360 by one level), so
they may move by one level in at most 1 in 1,000.
"""

import os

import numpy as np
import pytest

from tfcodec.api import load_codec
from tfcodec.fileio import read_image

DATA = os.path.join(os.path.dirname(__file__), "data")


def _golden():
    with np.load(os.path.join(DATA, "golden_streams.npz")) as npz:
        return {k: npz[k] for k in npz.files}


GOLDEN = _golden()
CASES = sorted(k[len("stream/"):] for k in GOLDEN if k.startswith("stream/"))


def test_every_shipped_model_has_golden_streams():
    """Every shipped model that writes streams (the JPEG refiner writes none: its shipped
    weights are checked in test_jpeg_refine.py)."""
    from tfcodec.models import bundle_family
    from tfcodec.weights import load_bundle, resolve

    shipped = {f[:-4] for f in os.listdir(os.path.join(os.path.dirname(DATA), "..", "tfcodec", "weights"))
               if f.endswith(".npz")}
    coding = {name for name in shipped if bundle_family(load_bundle(resolve(name))).stream_codec}
    assert coding == {case.split("@")[0] for case in CASES} and coding != shipped


@pytest.mark.parametrize("case", CASES)
def test_stream_and_pixels_unchanged(case):
    model, setting = case.split("@")
    codec = load_codec(model)
    setting = float(setting) if "." in setting else int(setting)
    data = codec.compress(read_image(os.path.join(DATA, "golden_image.png")), setting)
    assert data == GOLDEN[f"stream/{case}"].tobytes()
    pixels = codec.decompress(GOLDEN[f"stream/{case}"].tobytes()).astype(int)
    moved = np.abs(pixels - GOLDEN[f"decoded/{case}"])
    assert pixels.shape == GOLDEN[f"decoded/{case}"].shape
    assert moved.max() <= 1 and np.mean(moved > 0) <= 1e-3, (moved.max(), np.mean(moved > 0))
