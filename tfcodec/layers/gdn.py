"""Generalized divisive normalization (Ballé et al. 2016), Edge-TPU friendly.

y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2)   (inverse: multiply instead)

or, `simplified` (Johnston et al. 2019; tensorflow-compression's default GDN,
alpha = epsilon = 1, kept for models imported from it):

y_i = x_i / (beta_i + sum_j gamma_ij |x_j|)

The sum over channels is a 1x1 convolution of x^2, so the exported graph holds
only MUL, CONV_2D, ADD and RSQRT: a `tensordot` form exported SHAPE/GATHER/
REDUCE_PROD ops that the Edge TPU rejects.

beta and gamma stay positive through the usual reparameterisation: the stored
variable is p = sqrt(v + pedestal) and the value is max(p, bound)^2 - pedestal,
which keeps gradients alive near the bound.
"""

import keras
import tensorflow as tf

from tfcodec.ops import lower_bound

_PEDESTAL = 2.0**-36


def _reparam_value(stored, minimum):
    bound = (minimum + _PEDESTAL) ** 0.5
    return tf.square(lower_bound(stored, bound)) - _PEDESTAL


def _reparam_init(value):
    return (value + _PEDESTAL) ** 0.5


@keras.saving.register_keras_serializable("tfcodec")
class GDN(keras.layers.Layer):
    """GDN, or its inverse with ``inverse=True`` (IGDN) for synthesis transforms."""

    def __init__(self, inverse=False, beta_min=1e-6, gamma_init=0.1, simplified=False, **kwargs):
        super().__init__(**kwargs)
        self.inverse = inverse
        self.simplified = simplified
        self.beta_min = beta_min
        self.gamma_init = gamma_init

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.beta_stored = self.add_weight(
            name="beta", shape=(channels,),
            initializer=keras.initializers.Constant(_reparam_init(1.0)))
        gamma = self.gamma_init * tf.eye(channels).numpy()
        self.gamma_stored = self.add_weight(
            name="gamma", shape=(channels, channels),
            initializer=keras.initializers.Constant(_reparam_init(gamma)))

    @property
    def beta(self):
        return _reparam_value(self.beta_stored, self.beta_min)

    @property
    def gamma(self):
        return _reparam_value(self.gamma_stored, 0.0)

    def norm(self, x):
        """beta + gamma x^2 (simplified: beta + gamma |x|), a 1x1 convolution."""
        channels = x.shape[-1]
        kernel = tf.reshape(self.gamma, (1, 1, channels, channels))
        # x*x: int8 SQUARE has no kernel
        return tf.nn.conv2d(tf.abs(x) if self.simplified else x * x, kernel, strides=1, padding="VALID") \
            + self.beta

    def call(self, x):
        norm = self.norm(x)
        if self.simplified:
            return x * norm if self.inverse else x / norm
        if self.inverse:
            # x * sqrt(norm), written as x * norm * rsqrt(norm) so int8 TFLite
            # needs no SQRT kernel.
            return x * norm * tf.math.rsqrt(norm)
        return x * tf.math.rsqrt(norm)

    def get_config(self):
        config = super().get_config()
        config.update(inverse=self.inverse, beta_min=self.beta_min, gamma_init=self.gamma_init,
                      simplified=self.simplified)
        return config
