"""One model, many rates: quality-conditioned gain vectors on the latent.

After Cui et al. 2021 ("Asymmetric gained deep image compression"): the latent
is multiplied channel-wise by a gain before quantisation and by an inverse gain
before synthesis. A table of K learned gain vectors sits at evenly spaced
qualities in [0, 1]; a continuous quality interpolates between neighbours in
the log domain, so every quality in between is a valid rate point. Training
samples the quality per image and weights the distortion by lambda(quality).
"""

import math

import keras
import numpy as np
import tensorflow as tf


# The config fields that fix a model's rate range (not its architecture):
# `adapt_gain_table` carries trained weights from one range to another.
RATE_RANGE_FIELDS = ("gain_levels", "lambda_min", "lambda_max")


def lambda_for_quality(quality, lambda_min, lambda_max):
    """Rate-distortion trade-off for a quality in [0, 1], log-linear between the ends."""
    return lambda_min * (lambda_max / lambda_min) ** quality


@keras.saving.register_keras_serializable("tfcodec")
class QualityGains(keras.layers.Layer):
    """Returns (gain, inverse_gain), each (batch, channels), for qualities (batch,)."""

    def __init__(self, channels, levels=8, init_log_range=(math.log(0.5), math.log(3.0)), **kwargs):
        super().__init__(**kwargs)
        self.channels = channels
        self.levels = levels
        self.init_log_range = tuple(init_log_range)

    def build(self, input_shape=None):
        start = np.linspace(*self.init_log_range, self.levels).astype(np.float32)
        table = np.repeat(start[:, None], self.channels, axis=1)
        self.log_gain = self.add_weight(
            name="log_gain", shape=table.shape, initializer=keras.initializers.Constant(table))
        self.log_inverse_gain = self.add_weight(
            name="log_inverse_gain", shape=table.shape, initializer=keras.initializers.Constant(-table))

    def _interpolate(self, table, quality):
        position = tf.clip_by_value(quality, 0.0, 1.0) * (self.levels - 1)
        low = tf.clip_by_value(tf.floor(position), 0.0, self.levels - 2.0)
        frac = (position - low)[:, None]
        low = tf.cast(low, tf.int32)
        return (1.0 - frac) * tf.gather(table, low) + frac * tf.gather(table, low + 1)

    def call(self, quality):
        quality = tf.reshape(tf.cast(quality, tf.float32), (-1,))
        return (tf.exp(self._interpolate(self.log_gain, quality)),
                tf.exp(self._interpolate(self.log_inverse_gain, quality)))

    def get_config(self):
        config = super().get_config()
        config.update(channels=self.channels, levels=self.levels, init_log_range=self.init_log_range)
        return config


def adapt_gain_table(table, source, target):
    """A trained (levels, channels) log-gain table re-laid for another rate range.

    `source` and `target` are configs with `gain_levels`, `lambda_min` and
    `lambda_max`. Each target level sits at its lambda; its row is read off the
    source table at that lambda (log domain, linear between levels, extended
    linearly from the two end levels outside the trained range). Training then
    starts from gains that already give the old rates where the ranges overlap.
    """
    table = np.asarray(table, np.float32)
    if table.shape[0] != source.gain_levels:
        raise ValueError(f"gain table has {table.shape[0]} levels, its config says {source.gain_levels}")
    span = math.log(source.lambda_max / source.lambda_min)
    rows = []
    for q in np.linspace(0.0, 1.0, target.gain_levels):
        lmbda = lambda_for_quality(q, target.lambda_min, target.lambda_max)
        position = math.log(lmbda / source.lambda_min) / span * (source.gain_levels - 1)
        low = int(min(max(math.floor(position), 0), source.gain_levels - 2))
        frac = position - low
        rows.append((1.0 - frac) * table[low] + frac * table[low + 1])
    return np.stack(rows).astype(np.float32)
