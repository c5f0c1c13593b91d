"""Encoder-side latent refinement: same decoder, a lower rate-distortion cost.

On the shipped default model (its weights are in the package) and a small
generated image, so that the objective being lowered is a trained one.
"""

import subprocess
import sys

import numpy as np
import pytest

from tfcodec import container
from tiny_models import ramp_image


@pytest.fixture(scope="module")
def shipped():
    from tfcodec.api import load_codec

    return load_codec("default"), load_codec("default", refine_steps=12)


def _objective(coder, rgb, data):
    """bpp of the file + lambda * MSE of its decode: what refinement lowers."""
    from tfcodec.models.gains import lambda_for_quality

    header, _ = container.unpack(data)
    c = coder.config
    mse = np.mean((coder.decompress(data).astype(np.float64) - rgb) ** 2)
    bpp = len(data) * 8 / (rgb.shape[0] * rgb.shape[1])
    return bpp + lambda_for_quality(header.rate / 1000, c.lambda_min, c.lambda_max) * mse


def test_refined_file_decodes_with_the_plain_decoder_and_costs_less(shipped):
    plain, refined = shipped
    rgb = ramp_image(96, 128, seed=3)
    for quality in (0.3, 0.9):
        base = plain.compress(rgb, quality)
        data = refined.compress(rgb, quality)
        assert data != base
        # Same weights hash: the plain coder decodes it, twice identically.
        np.testing.assert_array_equal(plain.decompress(data), refined.decompress(data))
        assert _objective(plain, rgb, data) < _objective(plain, rgb, base)


def test_refinement_is_deterministic_and_reports_progress(shipped):
    _, refined = shipped
    rgb = ramp_image(64, 64, seed=4)
    seen = []
    refined.refine_progress = lambda done, total: seen.append((done, total))
    try:
        first = refined.compress(rgb, 0.5)
    finally:
        refined.refine_progress = None
    assert seen == [(t, 12) for t in range(1, 13)]
    assert refined.compress(rgb, 0.5) == first


def test_refiner_keeps_the_analysis_latents_when_they_cost_less(shipped, monkeypatch):
    import tensorflow as tf

    plain, _ = shipped
    from tfcodec.codecs.refine import LatentRefiner

    refiner = LatentRefiner(plain.model, learning_rate=50.0)  # a step that ruins the latents
    rgb = ramp_image(64, 64, seed=5)
    x = tf.constant(rgb[None].astype(np.float32) / 255.0)
    q = tf.constant([0.5])
    y, z = plain.analyse(rgb, 0.5)
    y2, z2 = refiner.refine(x, y[None], z[None], q, 64, 64, steps=3)
    np.testing.assert_array_equal(y2[0], y)
    np.testing.assert_array_equal(z2[0], z)


def test_refinement_options_are_checked(tmp_path):
    from tfcodec.api import load_codec
    from tfcodec.errors import FormatError

    with pytest.raises(FormatError, match="hyperprior"):
        load_codec("rnn", refine_steps=3)
    with pytest.raises(ValueError, match=">= 0"):
        type(load_codec("default"))(load_codec("default").bundle, refine_steps=-1)
    from PIL import Image

    Image.fromarray(ramp_image(32, 32)).save(tmp_path / "a.png")
    for extra, message in ((["--model", "rnn", "--refine", "2"], "hyperprior"),
                           (["--refine", "-1"], "--refine must be")):
        run = subprocess.run([sys.executable, "-m", "tfcodec", "compress", str(tmp_path / "a.png"),
                              str(tmp_path / "a.tfc")] + extra, capture_output=True, text=True)
        assert run.returncode == 1 and message in run.stderr, run.stderr
        assert not (tmp_path / "a.tfc").exists()


def test_eval_spec_with_refinement():
    from tfcodec.evaluate.runner import EvalError, _split_refinement

    assert _split_refinement("tfcodec:default+refine=50", "default+refine=50") == ("default", 50)
    assert _split_refinement("tfcodec:a+b.npz", "a+b.npz") == ("a+b.npz", 0)
    for bad in ("default+refine=0", "default+refine=x", "+refine=3"):
        with pytest.raises(EvalError, match="refine=STEPS"):
            _split_refinement("tfcodec:" + bad, bad)
