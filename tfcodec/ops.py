"""Small TensorFlow ops shared by layers and entropy models."""

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


def round_straight_through(x):
    """round(x) forward, identity backward."""
    return x + tf.stop_gradient(tf.round(x) - x)
