"""tensorflow-compression models imported into tfcodec compute what TFC computes.

Golden vectors: `tools/make_tfc_vectors.py`, run in its own venv with
tensorflow-compression 2.14.1 (never a dependency of tfcodec), saves a small
Ballé 2018 scale hyperprior built from TFC's layers (benchmarks/tfc_model.py:
RDFT kernels, GDN, z's quantisation offsets off zero) as a checkpoint, and what
TFC computes on tests/data/golden_image.png (edge-padded to 192x128). These
tests import the checkpoint without TFC and compare.
"""

import math
import os

import numpy as np
import pytest
import tensorflow as tf

from tfcodec import api, container
from tfcodec.errors import FormatError
from tfcodec.evaluate.metrics import psnr
from tfcodec.importers.bundle import save_imported
from tfcodec.importers.tfc import model_from_checkpoint

DATA = os.path.join(os.path.dirname(__file__), "data", "tfc")
CHECKPOINT = os.path.join(DATA, "bmshj2018-tiny", "ckpt-1")
HEIGHT, WIDTH = 120, 176


@pytest.fixture(scope="module")
def golden():
    with np.load(os.path.join(DATA, "bmshj2018-tiny.npz")) as npz:
        return {k: npz[k] for k in npz.files}


@pytest.fixture(scope="module")
def imported():
    return model_from_checkpoint(CHECKPOINT, lmbda=0.01, gdn="classic")


def _close(actual, expected, what, tolerance=2e-5):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    error = float(np.max(np.abs(actual - expected))) / max(float(np.max(np.abs(expected))), 1e-6)
    assert error < tolerance, f"{what}: max error {error:.2e} of its range"


def test_transforms_compute_tfc_model(golden, imported):
    _, model = imported
    _close(model.analysis(tf.constant(golden["x"])), golden["y"], "analysis")
    _close(model.hyper_analysis(tf.constant(golden["y"])), golden["z"], "hyper-analysis (of |y|)")
    _close(model.z_offset, golden["z_offset"], "quantisation offsets", 1e-6)
    _close(model.quantise_z(tf.constant(golden["z"])), golden["z_hat"], "z quantised about the offsets")
    step = (math.log(256.0) - math.log(0.11)) / 63
    log_scales = model.hyper_synthesis(tf.constant(golden["z_hat"]))
    _close(log_scales, math.log(0.11) + step * golden["indexes"], "log-scales (TFC's indexes, folded)")
    _close(model.synthesis(tf.constant(golden["y_hat"])), golden["x_hat"], "synthesis")


def test_likelihoods_match_away_from_the_tails(golden, imported):
    """Bits per element as TFC's entropy models give them (eval mode), except where TFC's
    index clipping and tfcodec's 1e-9 likelihood floor part (elements costing > 25 bits)."""
    _, model = imported
    y, y_hat = tf.constant(golden["y"]), golden["y_hat"]
    scales = model.scales(model.hyper_synthesis(tf.constant(golden["z_hat"])))
    from tfcodec.entropy.densities import gaussian_likelihood

    bits = -np.log2(gaussian_likelihood(tf.constant(y_hat), tf.zeros_like(y), scales).numpy())
    usual = golden["bits_y"] < 25
    assert usual.mean() > 0.9
    np.testing.assert_allclose(bits[usual], golden["bits_y"][usual], rtol=1e-3, atol=1e-3)
    z_bits = -np.log2(model.hyper_prior(tf.constant(golden["z_hat"])).numpy())
    np.testing.assert_allclose(z_bits, golden["bits_z"], rtol=1e-3, atol=1e-3)


def test_stream_decodes_like_tfc(golden, imported, tmp_path):
    """A tfcodec file of the imported model decodes within 0.1 dB of TFC's own decompress
    output; its payload is within 2 % of TFC's strings."""
    _, model = imported
    save_imported(model, "tfc-test", str(tmp_path / "m.npz"), {"from": "tfc"})
    codec = api.load_codec(str(tmp_path / "m.npz"))
    original = np.floor(golden["x"][0, :HEIGHT, :WIDTH] * 255 + 0.5).astype(np.uint8)
    data = codec.compress(original)
    decoded = codec.decompress(data)
    theirs = np.floor(np.clip(golden["x_decompressed"][0, :HEIGHT, :WIDTH], 0, 1) * 255 + 0.5).astype(np.uint8)
    assert abs(psnr(original, decoded) - psnr(original, theirs)) < 0.1
    _, strings = container.unpack(data)
    payload = sum(len(s) for s in strings)
    assert abs(payload / int(golden["stream_bytes"]) - 1) < 0.02, (payload, int(golden["stream_bytes"]))


def test_not_a_checkpoint(tmp_path):
    with pytest.raises(FormatError, match="not a TensorFlow checkpoint"):
        model_from_checkpoint(str(tmp_path))
    with pytest.raises(FormatError, match="classic or simplified"):
        model_from_checkpoint(CHECKPOINT, gdn="alpha")
