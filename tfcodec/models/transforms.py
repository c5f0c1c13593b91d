"""The convolutional transforms shared by the hyperprior family.

Analysis and synthesis follow Ballé et al. 2018 (four 5x5 stride-2 layers with
GDN). The hyper-synthesis upsamples with sub-pixel convolutions (conv then
depth-to-space) rather than transposed convolutions: every layer on the
entropy-parameter path is then a plain stride-1 convolution, which our integer
implementation (`tfcodec.entropy.integer_net`) reproduces exactly.

Under a mixed dtype policy only the wide, high-resolution layers compute in the
low precision. Layers that touch the latent (the analysis's last convolution,
the synthesis's first) and the hyper transforms (the means and scales) are
pinned to float32: bfloat16 keeps 8 significant bits, so a latent of 40 would
be stored to within 0.125, a sizeable part of its quantisation bin.
"""

import keras
import tensorflow as tf

from tfcodec.layers import GDN


def conv(filters, kernel, stride=1, name=None, dtype=None):
    return keras.layers.Conv2D(filters, kernel, strides=stride, padding="same", name=name, dtype=dtype)


_PINNED = "float32"   # the dtype of the layers a mixed policy must not lower (see the docstring)


def analysis_transform(num_filters, latent_channels, name="analysis"):
    return keras.Sequential([
        conv(num_filters, 5, 2), GDN(),
        conv(num_filters, 5, 2), GDN(),
        conv(num_filters, 5, 2), GDN(),
        conv(latent_channels, 5, 2, dtype=_PINNED),
    ], name=name)


def synthesis_transform(num_filters, name="synthesis"):
    def up(filters, dtype=None):
        return keras.layers.Conv2DTranspose(filters, 5, strides=2, padding="same", dtype=dtype)

    return keras.Sequential([
        up(num_filters, _PINNED), GDN(inverse=True),
        up(num_filters), GDN(inverse=True),
        up(num_filters), GDN(inverse=True),
        up(3),
    ], name=name)


def hyper_analysis_transform(num_filters, hyper_channels, name="hyper_analysis"):
    return keras.Sequential([
        conv(num_filters, 3, dtype=_PINNED), keras.layers.ReLU(dtype=_PINNED),
        conv(num_filters, 5, 2, dtype=_PINNED), keras.layers.ReLU(dtype=_PINNED),
        conv(hyper_channels, 5, 2, dtype=_PINNED),
    ], name=name)


@keras.saving.register_keras_serializable("tfcodec")
class DepthToSpace(keras.layers.Layer):
    """tf.nn.depth_to_space as a layer (channel order: block row, block column, channel)."""

    def __init__(self, block_size=2, **kwargs):
        super().__init__(**kwargs)
        self.block_size = block_size

    def call(self, x):
        return tf.nn.depth_to_space(x, self.block_size)

    def get_config(self):
        return {**super().get_config(), "block_size": self.block_size}


def hyper_synthesis_transform(num_filters, output_channels, name="hyper_synthesis"):
    """z_hat -> entropy-parameter features at the latent's resolution (x4 upsampling)."""
    wide = num_filters * 3 // 2
    return keras.Sequential([
        conv(num_filters, 3, dtype=_PINNED), keras.layers.ReLU(dtype=_PINNED),
        conv(4 * num_filters, 3, dtype=_PINNED), DepthToSpace(2, dtype=_PINNED), keras.layers.ReLU(dtype=_PINNED),
        conv(4 * wide, 3, dtype=_PINNED), DepthToSpace(2, dtype=_PINNED), keras.layers.ReLU(dtype=_PINNED),
        conv(output_channels, 3, dtype=_PINNED),
    ], name=name)


def parameter_net(hidden, output_channels, name):
    """A small stride-1 CNN mapping context features to per-element parameters (float32:
    means, scales and latent corrections)."""
    layers = []
    for width in hidden:
        layers += [conv(width, 3, dtype=_PINNED), keras.layers.ReLU(dtype=_PINNED)]
    layers.append(conv(output_channels, 3, dtype=_PINNED))
    return keras.Sequential(layers, name=name)
