"""The rate in log space (TFC's), which models in TFC's layout train on.

tfcodec's own models floor each bin's likelihood at 1e-9 before taking its log; TFC takes the
log-likelihood in log space with no floor. Where a bin holds more than 1e-9 of the mass the two
agree; beyond, the log-space rate keeps counting bits and keeps a gradient.
"""

import math

import numpy as np
import pytest
import tensorflow as tf

from tfcodec.entropy import densities
from tfcodec.models import HyperpriorConfig
from tfcodec.models import hyperprior


def test_log_std_normal_cdf_matches_scipy_over_both_branches():
    special = pytest.importorskip("scipy.special")
    x = np.concatenate([np.linspace(-400, -10.5, 200), np.linspace(-10.5, 4.5, 400)]).astype(np.float32)
    got = densities._log_std_normal_cdf(tf.constant(x)).numpy()
    want = special.log_ndtr(x.astype(np.float64))
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)


def test_gaussian_log_likelihood_is_the_log_of_the_likelihood_where_that_is_exact():
    rng = np.random.default_rng(0)
    values = tf.constant(rng.normal(0, 3, 2000), tf.float32)
    means = tf.constant(rng.normal(0, 1, 2000), tf.float32)
    scales = tf.constant(np.exp(rng.uniform(math.log(0.11), math.log(256), 2000)), tf.float32)
    linear = densities.gaussian_likelihood(values, means, scales).numpy()
    log = densities.gaussian_log_likelihood(values, means, scales).numpy()
    exact = linear > 1e-6
    assert exact.mean() > 0.8
    np.testing.assert_allclose(log[exact], np.log(linear[exact]), rtol=1e-4, atol=1e-5)


def test_far_tail_costs_its_bits_and_keeps_a_gradient():
    """A value 40 scales out: the floored likelihood says 1e-9 (29.9 bits) and has no gradient;
    the log-space one says about 1,160 bits and pulls the scale up."""
    values, means = tf.constant([40.0]), tf.constant([0.0])
    scales = tf.Variable([1.0])
    with tf.GradientTape(persistent=True) as tape:
        floored = -tf.math.log(densities.gaussian_likelihood(values, means, scales)) / math.log(2)
        exact = -densities.gaussian_log_likelihood(values, means, scales) / math.log(2)
    assert float(floored[0]) == pytest.approx(-math.log2(1e-9), rel=1e-4)
    assert float(exact[0]) > 1000.0 and np.isfinite(float(exact[0]))
    assert float(tape.gradient(floored, scales)[0]) == 0.0
    assert float(tape.gradient(exact, scales)[0]) < -100.0  # more scale, fewer bits


def test_deep_factorized_log_likelihood_matches_and_goes_past_the_floor():
    prior = densities.DeepFactorized()
    prior.build((None, 4))
    near = tf.constant(np.linspace(-3, 3, 40, dtype=np.float32).reshape(10, 4))
    np.testing.assert_allclose(prior.log_likelihood(near).numpy(), np.log(prior(near).numpy()), rtol=1e-4, atol=1e-5)
    far = tf.constant([[400.0, -400.0, 900.0, -900.0]])
    assert np.all(prior(far).numpy() == pytest.approx(1e-9))
    log = prior.log_likelihood(far).numpy()
    assert np.all(np.isfinite(log)) and np.all(log < math.log(1e-9))


@pytest.mark.parametrize("layout", ["tfc", "tfcodec", "compressai"])
def test_only_the_tfc_layout_trains_on_the_log_space_rate(layout):
    """Latents 1,000 scales out: tfcodec's and CompressAI's layouts count the floor's 29.9 bits
    per element, TFC's layout the true cost, far more."""
    config = HyperpriorConfig("bmshj2018", 8, 8, 8, 8, predict_means=False, layout=layout)
    assert config.log_space_rate is (layout == "tfc")
    model = hyperprior.build("t", config)
    y = tf.fill((1, 4, 4, 8), 1e5)
    z = tf.zeros((1, 1, 1, 8))
    out = model.forward_latents(y, z, tf.ones((1,)), training=False)
    per_element = float(out["y_bits"][0]) / (4 * 4 * 8)
    if layout == "tfc":
        assert per_element > 100.0
    else:
        assert per_element == pytest.approx(-math.log2(1e-9), rel=1e-3)
