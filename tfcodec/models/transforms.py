"""The convolutional transforms shared by the hyperprior family.

Analysis and synthesis follow Ballé et al. 2018 (four 5x5 stride-2 layers with
GDN). The hyper-synthesis upsamples with sub-pixel convolutions (conv then
depth-to-space) rather than transposed convolutions: every layer on the
entropy-parameter path is then a plain stride-1 convolution, which our integer
implementation (`tfcodec.entropy.integer_net`) reproduces exactly.

Models imported from CompressAI or TFC (`HyperpriorConfig.layout`) keep their
own layers: convolutions padded by kernel // 2 on each side (`CenteredConv2D`,
`CenteredConv2DTranspose`: PyTorch's `padding=k//2, output_padding=1` and TFC's
'same_zeros'), a transposed-convolution hyper-synthesis, |y| into the scale
model's hyper-analysis and CompressAI's LeakyReLU, so they compute what they
computed there. `integer_net` and the exporter rewrite the transposed
convolutions as sub-pixel convolutions, exactly.

Under a mixed dtype policy only the wide, high-resolution layers compute in the
low precision. Layers that touch the latent (the analysis's last convolution,
the synthesis's first) and the hyper transforms (the means and scales) are
pinned to float32: bfloat16 keeps 8 significant bits, so a latent of 40 would
be stored to within 0.125, a sizeable part of its quantisation bin.
"""

import keras
import tensorflow as tf

from tfcodec.layers import GDN


def conv(filters, kernel, stride=1, name=None, dtype=None, centered=False, use_bias=True):
    if centered:
        return CenteredConv2D(filters, kernel, strides=stride, name=name, dtype=dtype, use_bias=use_bias)
    return keras.layers.Conv2D(filters, kernel, strides=stride, padding="same", name=name, dtype=dtype,
                               use_bias=use_bias)


def up_conv(filters, centered=False, dtype=None):
    """A 5x5 stride-2 transposed convolution (x2 upsampling)."""
    if centered:
        return CenteredConv2DTranspose(filters, 5, strides=2, dtype=dtype)
    return keras.layers.Conv2DTranspose(filters, 5, strides=2, padding="same", dtype=dtype)


@keras.saving.register_keras_serializable("tfcodec")
class CenteredConv2D(keras.layers.Conv2D):
    """A convolution padded with kernel // 2 zeros on every side: output o sees inputs
    stride * o - k//2 ... stride * o + k//2, as PyTorch's Conv2d(padding=k//2) and TFC's
    SignalConv2D('same_zeros') compute it. TensorFlow's 'same' pads a stride-2 layer
    on an even input 1 before and 2 after: the same kernel then sees other pixels."""

    def __init__(self, filters, kernel_size, strides=1, **kwargs):
        kwargs.pop("padding", None)
        super().__init__(filters, kernel_size, strides=strides, padding="valid", **kwargs)

    def call(self, x):
        ph, pw = self.kernel_size[0] // 2, self.kernel_size[1] // 2
        return super().call(tf.pad(x, [[0, 0], [ph, ph], [pw, pw], [0, 0]]))

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        sh, sw = self.strides
        return (n, None if h is None else -(-h // sh), None if w is None else -(-w // sw), self.filters)


@keras.saving.register_keras_serializable("tfcodec")
class CenteredConv2DTranspose(keras.layers.Conv2DTranspose):
    """A transposed convolution with output o = sum_i x[i] w[o - stride * i + k//2], size
    stride * input: PyTorch's ConvTranspose2d(padding=k//2, output_padding=stride-1) and
    TFC's SignalConv2D(corr=False, strides_up, 'same_zeros'). The 'valid' result cropped."""

    def __init__(self, filters, kernel_size, strides=2, **kwargs):
        kwargs.pop("padding", None)
        super().__init__(filters, kernel_size, strides=strides, padding="valid", **kwargs)

    def call(self, x):
        ph, pw = self.kernel_size[0] // 2, self.kernel_size[1] // 2
        sh, sw = self.strides
        shape = tf.shape(x)
        out = super().call(x)
        return out[:, ph:ph + sh * shape[1], pw:pw + sw * shape[2], :]

    def compute_output_shape(self, input_shape):
        n, h, w, _ = input_shape
        sh, sw = self.strides
        return (n, None if h is None else sh * h, None if w is None else sw * w, self.filters)


@keras.saving.register_keras_serializable("tfcodec")
class Abs(keras.layers.Layer):
    """|x|: the scale hyperprior's hyper-analysis input in Ballé 2018 (the scale of y
    does not depend on its sign)."""

    def call(self, x):
        return tf.abs(x)


def activation(kind):
    if kind == "leaky_relu":  # PyTorch's default slope
        return keras.layers.LeakyReLU(negative_slope=0.01, dtype=_PINNED)
    return keras.layers.ReLU(dtype=_PINNED)


_PINNED = "float32"   # the dtype of the layers a mixed policy must not lower (see the docstring)


def analysis_transform(num_filters, latent_channels, name="analysis", centered=False, gdn="classic"):
    simplified = gdn == "simplified"
    return keras.Sequential([
        conv(num_filters, 5, 2, centered=centered), GDN(simplified=simplified),
        conv(num_filters, 5, 2, centered=centered), GDN(simplified=simplified),
        conv(num_filters, 5, 2, centered=centered), GDN(simplified=simplified),
        conv(latent_channels, 5, 2, dtype=_PINNED, centered=centered),
    ], name=name)


def synthesis_transform(num_filters, name="synthesis", centered=False, gdn="classic"):
    simplified = gdn == "simplified"
    return keras.Sequential([
        up_conv(num_filters, centered, _PINNED), GDN(inverse=True, simplified=simplified),
        up_conv(num_filters, centered), GDN(inverse=True, simplified=simplified),
        up_conv(num_filters, centered), GDN(inverse=True, simplified=simplified),
        up_conv(3, centered),
    ], name=name)


def hyper_analysis_transform(num_filters, hyper_channels, name="hyper_analysis", config=None):
    """z from y. `config`: an imported layout's (|y| input, activation, alignment, last bias)."""
    centered = config is not None and config.centered_convs
    act = config.hyper_activation if config is not None else "relu"
    layers = [Abs(dtype=_PINNED)] if config is not None and config.hyper_input_abs else []
    return keras.Sequential(layers + [
        conv(num_filters, 3, dtype=_PINNED, centered=centered), activation(act),
        conv(num_filters, 5, 2, dtype=_PINNED, centered=centered), activation(act),
        conv(hyper_channels, 5, 2, dtype=_PINNED, centered=centered,
             use_bias=config is None or config.layout != "tfc"),
    ], name=name)


def imported_hyper_synthesis(config, output_channels, name="hyper_synthesis"):
    """The hyper-synthesis of a CompressAI or TFC model: two 5x5 stride-2 transposed
    convolutions and a 3x3 one. CompressAI's scale model ends in a ReLU (its scales);
    its mean-scale model widens to M and 3M/2 with LeakyReLUs (Minnen 2018)."""
    act = config.hyper_activation
    if config.layout == "compressai" and config.predict_means:
        widths = (config.latent_channels, config.latent_channels * 3 // 2)
    else:
        widths = (config.hyper_filters, config.hyper_filters)
    layers = [up_conv(widths[0], True, _PINNED), activation(act),
              up_conv(widths[1], True, _PINNED), activation(act),
              conv(output_channels, 3, dtype=_PINNED, centered=True)]
    if config.layout == "compressai" and not config.predict_means:
        layers.append(activation("relu"))
    return keras.Sequential(layers, name=name)


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
