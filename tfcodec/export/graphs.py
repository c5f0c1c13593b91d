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

import functools
import tempfile

import numpy as np

from tfcodec.subpixel import subpixel_kernel

MODES = ("float32", "float16", "int8")
GDN_FORMS = ("rsqrt", "log-exp")
# Fraction of each activation's calibration values left outside its int8 range at
# each end (the model's input and output excepted): min/max ranges spend most of
# the 256 levels on a few outliers. 1e-5 was best of 1e-4/1e-5/1e-6 on held-out
# training crops (simulated synthesis loss 0.47 dB with min/max, 0.19 with 1e-5).
RANGE_TAIL = 1e-5
# Floor of the norm under the Edge TPU form's inverse GDN RSQRT (`_gdn`). On the shipped
# model it moves float outputs by < 0.001 dB and took the int8 synthesis of that form
# from 1.9 to 0.16 dB lost on held-out training crops (0.03: 0.17 dB).
INVERSE_GDN_FLOOR = 0.01


def _gdn(layer, x, form):
    """GDN/IGDN of a Keras GDN layer, in one of two integer-friendly forms (`form`: one for
    both, or {"gdn": form, "igdn": form}: a runtime may register the ops of one form's GDN
    and not of its IGDN, `runtimes.int8_gdn_forms`).

    "rsqrt" (Edge TPU):  x * rsqrt(n),          inverse x * (n * rsqrt(max(n, floor)))
    "log-exp" (CPU int8): x * exp(-log(n) / 2), inverse x * sqrt(n)
    with n = conv1x1(x * x, gamma) + beta. Both are exact rewrites in float but for
    a norm below INVERSE_GDN_FLOOR.
    LiteRT's int8 RSQRT is slow on CPUs (measured about 60 ns per element:
    0.4 s for one 256x384x64 tensor, an integer iteration per element), while
    its int8 LOG, EXP and SQRT take 1-2 ns per element (lookup tables); the
    Edge TPU has RSQRT but none of LOG, EXP, SQRT.
    """
    import tensorflow as tf

    if isinstance(form, dict):
        form = form["igdn" if layer.inverse else "gdn"]
    channels = x.shape[-1]
    kernel = tf.reshape(layer.gamma, (1, 1, channels, channels))
    if layer.simplified:  # n = conv1x1(|x|, gamma) + beta; x / n or x * n (`GDN`)
        norm = tf.nn.conv2d(tf.maximum(x, x * tf.constant(-1.0)), kernel, strides=1, padding="VALID") + layer.beta
        if layer.inverse:
            return x * norm
        if form not in GDN_FORMS:
            raise ValueError(f"GDN form must be one of {GDN_FORMS}")
        # 1 / n as rsqrt(n^2), or exp(-log(n^2) / 2): a plain -log(n) exports as NEG, no int8 kernel.
        square = norm * norm
        return x * (tf.math.rsqrt(square) if form == "rsqrt" else tf.exp(-0.5 * tf.math.log(square)))
    norm = tf.nn.conv2d(x * x, kernel, strides=1, padding="VALID") + layer.beta
    if form == "rsqrt":
        if layer.inverse:
            # sqrt(norm) as norm * rsqrt(norm), before the product with x (x * norm has a far
            # wider int8 range). A norm near 0 (beta ~ 0 in some channels) stretched RSQRT's
            # int8 range to ~80 for values around 1, hence the floor.
            return x * (norm * tf.math.rsqrt(tf.maximum(norm, INVERSE_GDN_FLOOR)))
        return x * tf.math.rsqrt(norm)
    if form == "log-exp":
        return x * tf.sqrt(norm) if layer.inverse else x * tf.exp(-0.5 * tf.math.log(norm))
    raise ValueError(f"GDN form must be one of {GDN_FORMS}")


def _subpixel_alignment(layer):
    """"same" or "centered" for a 5x5 stride-2 transposed convolution the sub-pixel
    rewrite covers (`tfcodec.subpixel`), None for any other layer."""
    import keras

    from tfcodec.models.transforms import CenteredConv2DTranspose

    if not (isinstance(layer, keras.layers.Conv2DTranspose) and tuple(layer.kernel_size) == (5, 5)
            and tuple(layer.strides) == (2, 2) and tuple(layer.dilation_rate) == (1, 1)
            and layer.use_bias and layer.activation is keras.activations.linear):
        return None
    if isinstance(layer, CenteredConv2DTranspose):
        return "centered"
    return "same" if layer.padding == "same" else None


def _subpixel(kernel_and_bias, x):
    import tensorflow as tf

    kernel, bias = kernel_and_bias
    y = tf.nn.conv2d(x, tf.constant(kernel), strides=1, padding="SAME") + tf.constant(bias)
    return tf.nn.depth_to_space(y, 2)


def _transposed(kernel_and_bias, x, alignment="same"):
    import tensorflow as tf

    kernel, bias = kernel_and_bias
    shape = tf.shape(x)
    if alignment == "centered":  # 'valid' (2h + 3 rows) cropped 2 before, 1 after
        out = tf.stack([shape[0], 2 * shape[1] + 3, 2 * shape[2] + 3, kernel.shape[2]])
        y = tf.nn.conv2d_transpose(x, tf.constant(kernel), out, strides=2, padding="VALID")
        return y[:, 2:2 + 2 * shape[1], 2:2 + 2 * shape[2], :] + tf.constant(bias)
    out = tf.stack([shape[0], 2 * shape[1], 2 * shape[2], kernel.shape[2]])
    return tf.nn.conv2d_transpose(x, tf.constant(kernel), out, strides=2, padding="SAME") + tf.constant(bias)


def layer_rewrites(sequential, subpixel=True, input_scale=None):
    """{layer index: function of x} for `run_sequential` (run eagerly): the 5x5 stride-2
    transposed convolutions as conv + depth_to_space with `subpixel`, and, with
    `input_scale`, the first layer's kernel divided by it per input channel, for a model
    fed its input times `input_scale`."""
    rewrites = {}
    for i, layer in enumerate(sequential.layers):
        scaled = i == 0 and input_scale is not None
        alignment = _subpixel_alignment(layer)
        if alignment is None:
            if scaled:
                raise ValueError(f"cannot fold an input scale into {layer.name}")
            continue
        if subpixel or scaled:
            kernel, bias = np.asarray(layer.kernel, np.float32), np.asarray(layer.bias, np.float32)
            if scaled:
                kernel = kernel / np.asarray(input_scale, np.float32)      # (5, 5, out, in)
            if subpixel:
                sub_kernel, sub_bias = subpixel_kernel(kernel, bias, alignment)
                rewrites[i] = functools.partial(_subpixel, (sub_kernel.astype(np.float32),
                                                            sub_bias.astype(np.float32)))
            else:
                rewrites[i] = functools.partial(_transposed, (kernel, bias), alignment=alignment)
    return rewrites


def run_sequential(sequential, x, gdn="rsqrt", rewrites=None):
    """A Keras Sequential applied layer by layer, GDN in an integer-friendly form, and the
    layers in `rewrites` (from `layer_rewrites`) replaced. An imported model's |x| and
    LeakyReLU become max(x, -x) and max(x, slope * x): the Edge TPU has no ABS or
    LEAKY_RELU, but MUL and MAXIMUM."""
    import keras
    import tensorflow as tf

    from tfcodec.layers import GDN
    from tfcodec.models.transforms import Abs

    for i, layer in enumerate(sequential.layers):
        if isinstance(layer, GDN):
            x = _gdn(layer, x, gdn)
        elif isinstance(layer, Abs):
            x = tf.maximum(x, x * tf.constant(-1.0))
        elif isinstance(layer, keras.layers.LeakyReLU):
            x = tf.maximum(x, x * tf.constant(float(layer.negative_slope)))
        elif rewrites and i in rewrites:
            x = rewrites[i](x)
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


def role_function(model, role, gdn="rsqrt", subpixel=False, scales=None):
    """(function of one tensor, the Keras layer whose variables it uses). `scales`:
    {"analysis": per-channel factor on its output, "synthesis": on its input}, folded
    into the last and first convolution (see `calibration.representative_inputs`)."""
    import tensorflow as tf

    scales = scales or {}
    if role == "analysis":
        scale = scales.get("analysis")
        if scale is None:
            return (lambda x: run_sequential(model.analysis, x, gdn)), model.analysis
        # The converter folds a per-channel product after a convolution into its weights.
        return (lambda x: run_sequential(model.analysis, x, gdn) * tf.constant(scale)), model.analysis
    if role == "hyper_analysis":
        return (lambda y: run_sequential(model.hyper_analysis, y)), model.hyper_analysis
    if role == "synthesis":
        rewrites = layer_rewrites(model.synthesis, subpixel, scales.get("synthesis"))
        return (lambda y: tf.clip_by_value(run_sequential(model.synthesis, y, gdn, rewrites), 0.0, 1.0)), \
            model.synthesis
    net = model.lrp_nets[int(role.split("_")[1])]
    return (lambda context: 0.5 * tf.tanh(run_sequential(net, context))), net


def convert(model, shapes, mode, representative=None, gdn="rsqrt", subpixel=False, scales=None):
    """Yields (role, TFLite bytes) for {role: input shape}.

    One SavedModel holds every role as a signature (written once), then each
    signature is converted. `representative`: {role: [float32 inputs]} (int8);
    `scales`: see `role_function`.
    """
    import keras
    import tensorflow as tf

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    with tempfile.TemporaryDirectory(prefix="tfcodec-export-") as folder:
        archive = keras.export.ExportArchive()
        for role, shape in shapes.items():
            function, layer = role_function(model, role, gdn, subpixel, scales)
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
                yield role, quantize_int8(converter, [np.asarray(a, np.float32) for a in samples])
                continue
            yield role, converter.convert()


def activation_ranges(model, samples, tail=RANGE_TAIL):
    """{tensor index: (low, high)} for the float tensors of `model` (a calibrated float
    flatbuffer) that carry calibration statistics, measured over `samples` with every tensor
    kept. The model's input and output get their min and max; the others drop a `tail`
    fraction of their values at each end (exact quantiles: each sample keeps its extremes).

    A sample is an array (a one-input model) or {input name: array} (the names of the
    converted signature's inputs, e.g. the JPEG refiner's "jpeg" and "conditioning")."""
    from tensorflow.lite.tools import flatbuffer_utils

    from tfcodec.edge.runtime import _interpreter_module

    graph = flatbuffer_utils.convert_bytearray_to_object(model).subgraphs[0]
    indices = [i for i, t in enumerate(graph.tensors) if t.quantization is not None
               and t.quantization.min is not None]
    io = set(graph.inputs) | set(graph.outputs)
    module = _interpreter_module()
    interpreter = module.Interpreter(
        model_content=bytes(model), experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=module.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    details = interpreter.get_input_details()

    def feeds(sample):
        """(input index, array) pairs of a sample."""
        if not isinstance(sample, dict):
            return [(details[0]["index"], sample)]
        return [(next(d["index"] for d in details if name in d["name"]), x) for name, x in sample.items()]

    pixels = [max(np.size(x) for _, x in feeds(sample)) for sample in samples]
    lows, highs, counts = {i: [] for i in indices}, {i: [] for i in indices}, dict.fromkeys(indices, 0)
    for sample, n in zip(samples, pixels):
        pairs = feeds(sample)
        for entry, x in pairs:
            interpreter.resize_tensor_input(entry, list(x.shape), strict=False)
        interpreter.allocate_tensors()
        for entry, x in pairs:
            interpreter.set_tensor(entry, x)
        interpreter.invoke()
        for i in indices:
            a = interpreter.get_tensor(i).reshape(-1)
            # Enough extremes that the quantile over all samples is among them.
            keep = min(a.size, int(np.ceil(tail * a.size * sum(pixels) / n)) + 1)
            lows[i].append(np.partition(a, keep - 1)[:keep])
            highs[i].append(-np.partition(-a, keep - 1)[:keep])
            counts[i] += a.size
    ranges = {}
    for i in indices:
        skip = 0 if i in io else int(tail * counts[i])
        low, high = np.sort(np.concatenate(lows[i])), np.sort(np.concatenate(highs[i]))
        ranges[i] = (float(low[skip]), float(high[-1 - skip]))
    return ranges


def quantize_int8(converter, samples):
    """Full-integer int8 TFLite (int8 input and output) from a converter, calibrated on `samples`
    (arrays, or {input name: array} for a model of several inputs).

    The converter's own calibration records a MUL operand whose last use is that
    MUL as holding the product (the kernel runs in place, and the operand is logged
    after it ran), unless the product is the model's output. Every GDN's SQRT, EXP
    or RSQRT output (and LOG, before its -0.5) got the product's range, 2-14x too
    wide, which cost the trained synthesis 1.7 dB on Kodak. So the converter only
    calibrates, the ranges are measured again with every tensor kept
    (`activation_ranges`), and the MLIR quantizer (what `convert()` runs next)
    quantizes with those.
    """
    import tensorflow as tf
    from tensorflow.lite.python.convert import mlir_quantize
    from tensorflow.lite.tools import flatbuffer_utils

    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: (x if isinstance(x, dict) else [x] for x in samples)
    # Builtin int8 kernels only. The converter still keeps an op that has no int8
    # kernel in float between DEQUANTIZE/QUANTIZE, so the export checks the result
    # for float operators afterwards.
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    converter._experimental_calibrate_only = True
    calibrated = converter.convert()
    model = flatbuffer_utils.convert_bytearray_to_object(calibrated)
    tensors = model.subgraphs[0].tensors
    for i, (lo, hi) in activation_ranges(calibrated, samples).items():
        tensors[i].quantization.min, tensors[i].quantization.max = [lo], [hi]
    return _int8_sqrt(mlir_quantize(bytes(flatbuffer_utils.convert_object_to_bytearray(model)),
                                    input_data_type=tf.int8, output_data_type=tf.int8))


def _int8_sqrt(model):
    """`model` with each float SQRT between DEQUANTIZE and QUANTIZE (TensorFlow 2.20's
    quantizer has no int8 SQRT; 2.21's has) made the int8 SQRT that 2.21 writes: version 2,
    the DEQUANTIZE's int8 input, the QUANTIZE's int8 output (its measured range); the two
    ops and their float tensors removed. Unchanged where there is no such SQRT."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    ops = schema.BuiltinOperator
    obj = flatbuffer_utils.convert_bytearray_to_object(model)
    codes = [max(c.builtinCode, c.deprecatedBuiltinCode) for c in obj.operatorCodes]
    graph = obj.subgraphs[0]
    readers = {}
    for k, op in enumerate(graph.operators):
        for i in op.inputs:
            readers.setdefault(int(i), []).append(k)
    writer = {int(i): k for k, op in enumerate(graph.operators) for i in op.outputs}
    dropped_ops, dropped_tensors = set(), set()
    for k, op in enumerate(graph.operators):
        if codes[op.opcodeIndex] != ops.SQRT or len(op.inputs) != 1:
            continue
        source, result = int(op.inputs[0]), int(op.outputs[0])
        before, after = writer.get(source), readers.get(result, [])
        if (before is None or codes[graph.operators[before].opcodeIndex] != ops.DEQUANTIZE
                or len(after) != 1 or codes[graph.operators[after[0]].opcodeIndex] != ops.QUANTIZE
                or readers[source] != [k] or {source, result} & set(graph.outputs)):
            continue
        dequantize, quantize = graph.operators[before], graph.operators[after[0]]
        if graph.tensors[dequantize.inputs[0]].type != schema.TensorType.INT8 \
                or graph.tensors[quantize.outputs[0]].type != schema.TensorType.INT8:
            continue
        op.inputs, op.outputs = [int(dequantize.inputs[0])], [int(quantize.outputs[0])]
        obj.operatorCodes[op.opcodeIndex].version = max(obj.operatorCodes[op.opcodeIndex].version, 2)
        dropped_ops |= {before, after[0]}
        dropped_tensors |= {source, result}
    if not dropped_ops:
        return model
    graph.operators = [op for k, op in enumerate(graph.operators) if k not in dropped_ops]
    kept = [i for i in range(len(graph.tensors)) if i not in dropped_tensors]
    new = {old: n for n, old in enumerate(kept)}
    graph.tensors = [graph.tensors[i] for i in kept]

    def remap(indices):
        return [new[int(i)] if i >= 0 else -1 for i in indices]

    for op in graph.operators:
        op.inputs, op.outputs = remap(op.inputs), remap(op.outputs)
        if op.intermediates is not None and len(op.intermediates):
            op.intermediates = remap(op.intermediates)
    graph.inputs, graph.outputs = remap(graph.inputs), remap(graph.outputs)
    for signature in obj.signatureDefs or []:
        if signature.subgraphIndex == 0:
            for entry in list(signature.inputs or []) + list(signature.outputs or []):
                entry.tensorIndex = new[entry.tensorIndex]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(obj))
