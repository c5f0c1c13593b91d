"""Small TensorFlow ops shared by layers and entropy models."""

import contextlib
import threading

import tensorflow as tf


def lower_bound(x, bound):
    """max(x, bound), whose gradient passes where x >= bound or where it pushes x up.

    A plain max() kills the gradient below the bound and a parameter stuck
    there never comes back; passing every gradient lets it drift away below.
    """
    x = tf.convert_to_tensor(x)
    bound = tf.cast(bound, x.dtype)

    @tf.custom_gradient
    def _bounded(t):
        def grad(dy):
            passes = tf.logical_or(t >= bound, dy < 0)
            return tf.where(passes, dy, tf.zeros_like(dy))

        return tf.maximum(t, bound), grad

    return _bounded(x)


def upper_bound(x, bound):
    """min(x, bound), whose gradient passes where x <= bound or where it pushes x down."""
    return -lower_bound(-tf.convert_to_tensor(x), -bound)


def bounded(x, low, high):
    """x clipped to [low, high] with `lower_bound`'s gradient at both ends.

    tf.clip_by_value stops the gradient outside the range, so a Gaussian scale
    initialised or pushed below the scale table's floor never comes back; TFC's
    indexed entropy models and CompressAI's LowerBound let it back in.
    """
    return upper_bound(lower_bound(x, low), high)


def round_straight_through(x):
    """round(x) forward, identity backward."""
    return x + tf.stop_gradient(tf.round(x) - x)


# -- the random numbers models draw in training --------------------------------
#
# Models draw their training noise (uniform quantisation noise, stochastic
# binarisation) through `random_uniform`, not tf.random.uniform directly, so a
# training loop can key every draw to the examples' global positions: then a
# run on 8 replicas sees the same numbers as a run on one device.

_provider = threading.local()


def random_uniform(shape, minval=0.0, maxval=1.0, dtype=tf.float32):
    """tf.random.uniform, or the draw of the provider installed by `uniform_provider`."""
    provider = getattr(_provider, "fn", None)
    if provider is not None:
        drawn = provider(shape, minval, maxval, dtype)
        if drawn is not None:
            return drawn
    return tf.random.uniform(shape, minval, maxval, dtype)


@contextlib.contextmanager
def uniform_provider(fn):
    """Within the block, `random_uniform` asks fn(shape, minval, maxval, dtype) first.

    fn may return None to fall back to tf.random.uniform for a draw it does
    not key (e.g. one without a leading batch dimension).
    """
    previous = getattr(_provider, "fn", None)
    _provider.fn = fn
    try:
        yield
    finally:
        _provider.fn = previous
