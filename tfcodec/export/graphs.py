"""The TFLite graphs of the hyperprior family, and their conversion.

One model per role, each a pure function of its one input:

* ``analysis``        x in [0, 1] (1, H, W, 3)          -> y, before the gain (1, H/16, W/16, M)
* ``hyper_analysis``  y * gain                            -> z (1, H/64, W/64, Z)
* ``lrp_<i>``         [mean features, decoded slices 0..i] -> 0.5 tanh(LRP net), slice i's correction
* ``synthesis``       (y_hat + LRP) * inverse gain        -> x_hat clipped to [0, 1]

The quality gain stays outside the models, in numpy from the bundle's gain
tables: quality is continuous, and a gain input would be quantised to int8
with the activations (1/256 of its range) while the numpy product is exact.

Layers are re-expressed for integer kernels where Keras' form has none: GDN's
``tf.square`` becomes ``x * x`` (TFLite has no int8 SQUARE kernel, so the
converter kept SQUARE in float between DEQUANTIZE/QUANTIZE), leaving GDN as
MUL, CONV_2D (1x1, the beta add folds into its bias) and RSQRT for the Edge
TPU, or LOG/EXP/SQRT table lookups for CPUs (see `_gdn`). Off the Edge TPU,
the synthesis' transposed convolutions become a 3x3 convolution to 4x the
channels plus DEPTH_TO_SPACE (an exact rewrite, `subpixel_kernel`): with
dynamic shapes LiteRT's TRANSPOSE_CONV gets its output shape at run time, so
XNNPACK does not take it, and the builtin kernel's col2im scratch (input
pixels x 25 x output channels, int32: about 150 MiB for one layer at 768x512)
made the decoder 4x slower and 3x larger in memory (measured).

Keras 3 -> TFLite goes through a SavedModel (`ExportArchive`) and
`TFLiteConverter.from_saved_model`: converting concrete functions kept
resource variables and failed in calibration.
"""

import tempfile

import numpy as np

MODES = ("float32", "float16", "int8")
GDN_FORMS = ("rsqrt", "log-exp")


def _gdn(layer, x, form):
    """GDN/IGDN of a Keras GDN layer, in one of two integer-friendly forms.

    "rsqrt" (Edge TPU):  x * rsqrt(n),          inverse x * n * rsqrt(n)
    "log-exp" (CPU int8): x * exp(-log(n) / 2), inverse x * sqrt(n)
    with n = conv1x1(x * x, gamma) + beta. Both are exact rewrites in float.
    LiteRT's int8 RSQRT is slow on CPUs (measured about 60 ns per element:
    0.4 s for one 256x384x64 tensor, an integer iteration per element), while
    its int8 LOG, EXP and SQRT take 1-2 ns per element (lookup tables); the
    Edge TPU has RSQRT but none of LOG, EXP, SQRT.
    """
    import tensorflow as tf

    channels = x.shape[-1]
    kernel = tf.reshape(layer.gamma, (1, 1, channels, channels))
    norm = tf.nn.conv2d(x * x, kernel, strides=1, padding="VALID") + layer.beta
    if form == "rsqrt":
        return x * norm * tf.math.rsqrt(norm) if layer.inverse else x * tf.math.rsqrt(norm)
    if form == "log-exp":
        return x * tf.sqrt(norm) if layer.inverse else x * tf.exp(-0.5 * tf.math.log(norm))
    raise ValueError(f"GDN form must be one of {GDN_FORMS}")


# Kernel taps of a 5x5 stride-2 'same' transposed convolution seen by each output
# phase, for input offsets -1, 0, +1 (None: no tap). Output 2m takes x[m] w[1] +
# x[m-1] w[3]; output 2m+1 takes x[m+1] w[0] + x[m] w[2] + x[m-1] w[4] (TF pads the
# equivalent strided convolution by 1 before, 2 after).
_PHASE_TAPS = {0: (3, 1, None), 1: (4, 2, 0)}


def subpixel_kernel(kernel, bias):
    """(3x3 conv kernel with 4x the outputs, bias): a 5x5 stride-2 'same' Conv2DTranspose
    as a stride-1 convolution followed by depth_to_space(2) (DCR order)."""
    kernel = np.asarray(kernel, np.float32)          # (5, 5, out, in)
    _, _, c_out, c_in = kernel.shape
    sub = np.zeros((3, 3, c_in, 2, 2, c_out), np.float32)
    for py in (0, 1):
        for px in (0, 1):
            for ty, ky in enumerate(_PHASE_TAPS[py]):
                for tx, kx in enumerate(_PHASE_TAPS[px]):
                    if ky is not None and kx is not None:
                        sub[ty, tx, :, py, px, :] = kernel[ky, kx].T
    return sub.reshape(3, 3, c_in, 4 * c_out), np.tile(np.asarray(bias, np.float32), 4)


def _is_subpixel_able(layer):
    import keras

    return (isinstance(layer, keras.layers.Conv2DTranspose) and tuple(layer.kernel_size) == (5, 5)
            and tuple(layer.strides) == (2, 2) and layer.padding == "same"
            and tuple(layer.dilation_rate) == (1, 1) and layer.use_bias
            and layer.activation is keras.activations.linear)


def _subpixel(kernel_and_bias, x):
    import tensorflow as tf

    kernel, bias = kernel_and_bias
    y = tf.nn.conv2d(x, tf.constant(kernel), strides=1, padding="SAME") + tf.constant(bias)
    return tf.nn.depth_to_space(y, 2)


def subpixel_kernels(sequential):
    """{layer index: (kernel, bias)} of the rewritable transposed convolutions (run eagerly)."""
    return {i: subpixel_kernel(np.asarray(layer.kernel), np.asarray(layer.bias))
            for i, layer in enumerate(sequential.layers) if _is_subpixel_able(layer)}


def run_sequential(sequential, x, gdn="rsqrt", subpixel=None):
    """A Keras Sequential applied layer by layer, GDN in an integer-friendly form, and the
    transposed convolutions in `subpixel` (from `subpixel_kernels`) as conv + depth_to_space."""
    from tfcodec.layers import GDN

    for i, layer in enumerate(sequential.layers):
        if isinstance(layer, GDN):
            x = _gdn(layer, x, gdn)
        elif subpixel and i in subpixel:
            x = _subpixel(subpixel[i], x)
        else:
            x = layer(x)
    return x


def roles(config):
    """The models the edge needs for a config, in export order."""
    names = ["analysis", "hyper_analysis"]
    if config.channelwise:
        names += [f"lrp_{i}" for i in range(config.num_slices)]
    return names + ["synthesis"]


def input_shape(role, config, height, width):
    """(1, h, w, c) of a role's input; h, w None for dynamic shapes."""
    lh = height // 16 if height else None
    lw = width // 16 if width else None
    if role == "analysis":
        return (1, height, width, 3)
    if role in ("hyper_analysis", "synthesis"):
        return (1, lh, lw, config.latent_channels)
    i = int(role.split("_")[1])
    slice_channels = config.latent_channels // config.num_slices
    return (1, lh, lw, config.latent_channels + (i + 1) * slice_channels)


def role_function(model, role, gdn="rsqrt", subpixel=False):
    """(function of one tensor, the Keras layer whose variables it uses)."""
    import tensorflow as tf

    if role == "analysis":
        return (lambda x: run_sequential(model.analysis, x, gdn)), model.analysis
    if role == "hyper_analysis":
        return (lambda y: run_sequential(model.hyper_analysis, y)), model.hyper_analysis
    if role == "synthesis":
        kernels = subpixel_kernels(model.synthesis) if subpixel else None
        return (lambda y: tf.clip_by_value(run_sequential(model.synthesis, y, gdn, kernels), 0.0, 1.0)), \
            model.synthesis
    net = model.lrp_nets[int(role.split("_")[1])]
    return (lambda context: 0.5 * tf.tanh(run_sequential(net, context))), net


def convert(model, shapes, mode, representative=None, gdn="rsqrt", subpixel=False):
    """Yields (role, TFLite bytes) for {role: input shape}.

    One SavedModel holds every role as a signature (written once), then each
    signature is converted. `representative`: {role: [float32 inputs]} (int8).
    """
    import keras
    import tensorflow as tf

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    with tempfile.TemporaryDirectory(prefix="tfcodec-export-") as folder:
        archive = keras.export.ExportArchive()
        for role, shape in shapes.items():
            function, layer = role_function(model, role, gdn, subpixel)
            archive.track(layer)
            archive.add_endpoint(role, tf.function(function),
                                 input_signature=[tf.TensorSpec(shape, tf.float32, name="input")])
        archive.write_out(folder, verbose=False)
        for role in shapes:
            converter = tf.lite.TFLiteConverter.from_saved_model(folder, signature_keys=[role])
            if mode == "float16":
                converter.optimizations = [tf.lite.Optimize.DEFAULT]
                converter.target_spec.supported_types = [tf.float16]
            elif mode == "int8":
                samples = (representative or {}).get(role)
                if not samples:
                    raise ValueError(f"{role}: int8 needs representative inputs")
                converter.optimizations = [tf.lite.Optimize.DEFAULT]
                converter.representative_dataset = \
                    lambda samples=samples: ([np.asarray(a, np.float32)] for a in samples)
                # Builtin int8 kernels only. The converter still keeps an op that has
                # no int8 kernel in float between DEQUANTIZE/QUANTIZE, so the export
                # checks the result for float operators afterwards.
                converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
                converter.inference_input_type = tf.int8
                converter.inference_output_type = tf.int8
            yield role, converter.convert()
