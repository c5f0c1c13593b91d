"""The training MS-SSIM (TF's values, without TF's NaN gradient at a zero term) and the
recurrent codec's MS-SSIM objective built on it."""

import numpy as np
import pytest
import tensorflow as tf

from tfcodec.evaluate import metrics
from tfcodec.models.losses import msssim, msssim_for_crops, msssim_log_loss


def _image(h, w, seed):
    """A smooth colour pattern with noise, as uint8 RGB."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.stack([255 * xx / w, 255 * yy / h, 128 + 90 * np.sin((xx + yy) / 5.0)], -1)
    return np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)


def _pair(shape, noise, seed):
    rng = np.random.default_rng(seed)
    x = rng.random(shape).astype(np.float32)
    return x, np.clip(x + rng.normal(0, noise, shape), 0, 1).astype(np.float32)


@pytest.mark.parametrize("shape,weights", [
    ((2, 200, 170, 3), (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)),  # TF's default, 5 scales
    ((2, 67, 81, 3), (0.1, 0.4, 0.5)),  # odd sizes: symmetric padding before pooling
])
def test_msssim_equals_tensorflows(shape, weights):
    x, y = _pair(shape, 0.08, seed=1)
    ours = msssim(x, y, 1.0, weights).numpy()
    theirs = tf.image.ssim_multiscale(x, y, 1.0, power_factors=weights).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=2e-5)


def test_crops_use_the_scales_they_hold():
    x, y = _pair((1, 64, 64, 3), 0.05, seed=2)
    w = np.array([0.0448, 0.2856, 0.3001])
    expected = tf.image.ssim_multiscale(x, y, 1.0, power_factors=tuple(w / w.sum())).numpy()
    np.testing.assert_allclose(msssim_for_crops(x, y).numpy(), expected, rtol=2e-5)
    with pytest.raises(ValueError, match="static size"):
        tf.function(msssim_for_crops).get_concrete_function(
            tf.TensorSpec((1, None, None, 3)), tf.TensorSpec((1, None, None, 3)))


def test_gradient_stays_finite_where_a_term_is_zero():
    # y anti-correlated with x: contrast-structure <= 0 at every scale.
    x, _ = _pair((1, 64, 64, 3), 0.0, seed=3)
    y = tf.Variable(1.0 - x)
    w = (0.2, 0.3, 0.5)
    with tf.GradientTape() as tape:
        ours = msssim(x, y, 1.0, w)
    # tf.image.ssim_multiscale's gradient is NaN here (TF 2.21): relu(cs) ** w at 0.
    assert np.all(np.isfinite(tape.gradient(ours, y).numpy()))
    assert float(ours[0]) == pytest.approx(1e-4, rel=1e-3)  # every term at the floor


def test_msssim_loss_is_the_evaluation_metric_in_log_form():
    """The training objective uses the evaluation's scale rule and weights: on images
    at 8-bit levels it equals 0.9 log(1 - MS-SSIM) + 0.1 log(L1) with MS-SSIM from
    tfcodec.evaluate.metrics (3 scales for 64 px crops)."""
    original = np.stack([_image(64, 64, seed=s) for s in (1, 2)])
    rng = np.random.default_rng(4)
    decoded = np.clip(original + rng.normal(0, [[[[6.0]]], [[[20.0]]]], original.shape), 0, 255).astype(np.uint8)
    got = msssim_log_loss(tf.constant(original / 255.0, tf.float32),
                           tf.constant(decoded / 255.0, tf.float32)).numpy()
    for i in range(2):
        m = metrics.msssim(original[i], decoded[i])
        l1 = np.abs(original[i] / 255.0 - decoded[i] / 255.0).mean()
        assert got[i] == pytest.approx(0.9 * np.log(1 - m) + 0.1 * np.log(l1), abs=2e-3)
    assert got[0] < got[1]  # less noise, lower loss
