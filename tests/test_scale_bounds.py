"""The Gaussian scales' bounds in training: clipped like the scale table, but a
scale outside the range still gets the gradient that brings it back (as TFC's
indexed entropy models and CompressAI's LowerBound do); tf.clip_by_value would
leave it stuck there for good."""

import math

import numpy as np
import tensorflow as tf

from tfcodec.entropy.densities import SCALE_MAX, SCALE_MIN, gaussian_likelihood, scale_from_log
from tfcodec.ops import bounded


def _gradient(f, x, weights):
    x = tf.constant(x, tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(f(x) * weights)
    return tape.gradient(loss, x).numpy()


def test_bounded_passes_only_gradients_that_point_back_in():
    x = np.array([-2.0, -2.0, 0.5, 3.0, 3.0], np.float32)
    values = bounded(tf.constant(x), -1.0, 2.0).numpy()
    np.testing.assert_array_equal(values, [-1.0, -1.0, 0.5, 2.0, 2.0])
    # d(loss)/dx = weight; descent moves x by -weight.
    weights = tf.constant([-1.0, 1.0, 1.0, 1.0, -1.0])   # up, down, inside, down, up
    np.testing.assert_array_equal(_gradient(lambda t: bounded(t, -1.0, 2.0), x, weights),
                                  [-1.0, 0.0, 1.0, 1.0, 0.0])


def test_a_scale_below_the_floor_is_pulled_back_by_the_rate():
    """A latent of 1 coded with a scale below 0.11 costs many bits: the rate's gradient
    must reach the log-scale and push it up, though the scale is clipped to 0.11."""
    log_scale = tf.Variable([math.log(SCALE_MIN) - 2.0, math.log(SCALE_MAX) + 1.0])
    with tf.GradientTape() as tape:
        scales = scale_from_log(log_scale)
        bits = -tf.reduce_sum(tf.math.log(gaussian_likelihood(tf.constant([1.0, 0.0]), 0.0, scales)))
    grad = tape.gradient(bits, log_scale).numpy()
    np.testing.assert_allclose(scales.numpy(), [SCALE_MIN, SCALE_MAX], rtol=1e-6)
    assert grad[0] < 0          # descent raises the too-small scale
    assert grad[1] > 0          # and lowers the too-large one (a zero is cheaper with a narrower scale)


def test_searches_get_the_clips_own_gradient():
    """The latent refiner descends what the file pays: with revive=False a clipped scale
    gets no gradient, as the coded scale does not move."""
    log_scale = tf.Variable([math.log(SCALE_MIN) - 2.0, 0.0])
    with tf.GradientTape() as tape:
        scales = scale_from_log(log_scale, revive=False)
        bits = -tf.reduce_sum(tf.math.log(gaussian_likelihood(tf.constant([1.0, 1.0]), 0.0, scales)))
    grad = tape.gradient(bits, log_scale).numpy()
    assert grad[0] == 0 and grad[1] != 0
