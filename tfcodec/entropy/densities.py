"""Differentiable likelihoods used in training (and to build coding tables).

`DeepFactorized` is the univariate, per-channel density of Ballé et al. 2018
(appendix 6.1) for the hyper-latent; `gaussian_likelihood` is the conditional
density of the latent given a mean and a scale. Both return the probability
mass of the unit interval around each value, i.e. of the quantisation bin.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from tfcodec.ops import bounded, lower_bound

LIKELIHOOD_BOUND = 1e-9
SCALE_MIN = 0.11
SCALE_MAX = 256.0


def _std_normal_cdf(x):
    return 0.5 * tf.math.erfc(-x * (2.0**-0.5))


def gaussian_likelihood(values, means, scales):
    """Mass of [v-0.5, v+0.5] under N(mean, scale); symmetric form for accuracy."""
    centred = tf.abs(values - means)
    upper = _std_normal_cdf((0.5 - centred) / scales)
    lower = _std_normal_cdf((-0.5 - centred) / scales)
    return lower_bound(upper - lower, LIKELIHOOD_BOUND)


def _log_std_normal_cdf(x):
    """log Phi(x) in float32 without underflow: the log of erfc down to x = -10 and the
    asymptotic series below, where erfc loses its digits (the split of TensorFlow
    Probability's log_ndtr, which TFC's NoisyNormal uses). Both branches are computed on
    guarded inputs, so neither gives a NaN gradient through tf.where."""
    far = x < -10.0
    near_x = tf.where(far, tf.fill(tf.shape(x), -10.0), x)
    far_x = tf.where(far, x, tf.fill(tf.shape(x), -10.0))
    near = tf.math.log(_std_normal_cdf(near_x))
    u = 1.0 / tf.square(far_x)
    series = (-0.5 * tf.square(far_x) - tf.math.log(-far_x) - 0.5 * math.log(2.0 * math.pi)
              + tf.math.log(1.0 - u + 3.0 * u * u - 15.0 * u * u * u))
    return tf.where(far, series, near)


def gaussian_log_likelihood(values, means, scales):
    """log of `gaussian_likelihood` without its 1e-9 floor: log(Phi(hi) - Phi(lo)) from the
    two log-CDFs, so that a value far out in the tail still costs its true bits and
    still has a gradient (TFC's rate; the TFC layout trains on it, `log_space_rate`)."""
    centred = tf.abs(values - means)
    log_hi = _log_std_normal_cdf((0.5 - centred) / scales)
    log_lo = _log_std_normal_cdf((-0.5 - centred) / scales)
    return log_hi + tf.math.log(-tf.math.expm1(log_lo - log_hi))


def scale_from_log(log_scales, revive=True):
    """Scales from the network's log-scale output, bounded like the scale table.

    `revive`: outside the range the gradient still passes where it points back in
    (`ops.bounded`), so training can bring a scale back; otherwise it is the clip's
    own (zero outside), for searches that descend the true objective (`codecs.refine`).
    """
    low, high = math.log(SCALE_MIN), math.log(SCALE_MAX)
    return tf.exp(bounded(log_scales, low, high) if revive else tf.clip_by_value(log_scales, low, high))


@keras.saving.register_keras_serializable("tfcodec")
class DeepFactorized(keras.layers.Layer):
    """Per-channel learned CDF c(x) = f_K(...f_1(x)), each f a monotone map."""

    def __init__(self, filters=(3, 3, 3), init_scale=10.0, **kwargs):
        super().__init__(**kwargs)
        self.filters = tuple(filters)
        self.init_scale = init_scale

    def build(self, input_shape):
        channels = int(input_shape[-1])
        sizes = (1,) + self.filters + (1,)
        scale = self.init_scale ** (1.0 / (len(self.filters) + 1))
        self.matrices, self.biases, self.factors = [], [], []
        for i in range(len(self.filters) + 1):
            init = math.log(math.expm1(1.0 / scale / sizes[i + 1]))
            self.matrices.append(self.add_weight(
                name=f"matrix_{i}", shape=(channels, sizes[i + 1], sizes[i]),
                initializer=keras.initializers.Constant(init)))
            self.biases.append(self.add_weight(
                name=f"bias_{i}", shape=(channels, sizes[i + 1], 1),
                initializer=keras.initializers.RandomUniform(-0.5, 0.5)))
            if i < len(self.filters):
                self.factors.append(self.add_weight(
                    name=f"factor_{i}", shape=(channels, sizes[i + 1], 1),
                    initializer="zeros"))

    def logits_cdf(self, x):
        """Logit of the CDF; x has shape (channels, 1, n)."""
        logits = x
        for i, matrix in enumerate(self.matrices):
            logits = tf.linalg.matmul(tf.nn.softplus(matrix), logits) + self.biases[i]
            if i < len(self.factors):
                logits += tf.tanh(self.factors[i]) * tf.tanh(logits)
        return logits

    def _tail_logits(self, values):
        """The logits of the CDF at the upper and lower end of each element's bin, (channels, 1, n),
        negated where the bin lies above the median: the tail far from 1, where the mass keeps its
        precision."""
        flat = tf.transpose(tf.reshape(values, (-1, values.shape[-1])))[:, None, :]
        lower = self.logits_cdf(flat - 0.5)
        upper = self.logits_cdf(flat + 0.5)
        sign = tf.stop_gradient(-tf.sign(lower + upper))
        sign = tf.where(sign == 0, tf.ones_like(sign), sign)
        return sign * upper, sign * lower

    @staticmethod
    def _per_element(t, values):
        """(channels, 1, n) -> the shape of `values`."""
        return tf.reshape(tf.transpose(t[:, 0, :]), tf.shape(values))

    def call(self, values):
        """Likelihood of each element of `values` (..., channels)."""
        upper, lower = self._tail_logits(values)
        mass = tf.abs(tf.sigmoid(upper) - tf.sigmoid(lower))
        return lower_bound(self._per_element(mass, values), LIKELIHOOD_BOUND)

    def log_likelihood(self, values):
        """log of `call` without its 1e-9 floor: log(sigmoid(a) - sigmoid(b)) for the bin's
        tail logits a > b, as log sigmoid(a) + log sigmoid(-b) + log(1 - e^(b - a))
        (TFC's rate for the hyper-latent)."""
        if not self.built:  # as __call__ would (Keras' build wrapper sets `built`)
            self.build(values.shape)
        upper, lower = self._tail_logits(values)
        a, b = tf.maximum(upper, lower), tf.minimum(upper, lower)
        log_mass = tf.math.log_sigmoid(a) + tf.math.log_sigmoid(-b) + tf.math.log(-tf.math.expm1(b - a))
        return self._per_element(log_mass, values)

    def pmf_numpy(self, support, offsets=None):
        """Probability of each integer in `support` (1-D int array) per channel: (C, n);
        with per-channel `offsets` (C,), of support + offset (bins centred there)."""
        channels = self.matrices[0].shape[0]
        x = np.tile(np.asarray(support, np.float32)[None, None, :], (channels, 1, 1))
        if offsets is not None:
            x = x + np.asarray(offsets, np.float32)[:, None, None]
        x = tf.constant(x)
        lower = tf.sigmoid(self.logits_cdf(x - 0.5))
        upper = tf.sigmoid(self.logits_cdf(x + 0.5))
        return (upper - lower)[:, 0, :].numpy().astype(np.float64)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, init_scale=self.init_scale)
        return config
