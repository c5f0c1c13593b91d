"""Entropy-parameter networks in exact integer arithmetic, identical on every runtime.

The means and scales that select the range coder's tables are computed on the
encoder and again on the decoder. In floating point, two runtimes (TF on x86,
LiteRT on ARM, a GPU) round differently; one flipped table index and the rest
of the stream decodes to garbage. So, after Ballé et al. 2019 ("Integer
networks for data compression with latent-variable models"), the nets on this
path run on integers:

* activations are fixed-point integers, real = int * 2**-exponent, saturated
  to +-(2**20 - 1); each tensor's exponent is chosen once from calibration data;
* weights are 16-bit integers with a power-of-two scale per output channel,
  biases are integers at the accumulator's scale;
* a layer's output is the accumulator shifted right with round-half-up, a
  pure integer operation.

Products are below 2**35 and sums of at most a few thousand of them below
2**47, so float64 BLAS computes them exactly in any order: the result is the
same integer on every machine, yet the speed is that of a float64 GEMM.
Supported layers: stride-1 'same' Conv2D with odd kernels, ReLU, LeakyReLU
(the negative side times a Q16 slope, floored), DepthToSpace, and 5x5 stride-2
transposed convolutions, which become a 3x3 convolution and a DepthToSpace
(`tfcodec.subpixel`, exact). Only numpy is imported: the edge runtime uses this
module as it is.
"""

import numpy as np

ACTIVATION_BITS = 20
ACTIVATION_LIMIT = (1 << ACTIVATION_BITS) - 1
WEIGHT_BITS = 15  # |w_int| < 2**15
# Fixed-point exponent of every entropy parameter (means, log-scales) and of
# the decoded latent fed back as context: 1/256 resolution.
PARAM_EXPONENT = 8

_CONV, _RELU, _DEPTH_TO_SPACE, _LEAKY_RELU = 0, 1, 2, 3
# LeakyReLU slopes are stored as integers at this exponent: x < 0 -> floor(x * slope >> 16).
SLOPE_EXPONENT = 16


def saturate(values):
    return np.clip(values, -ACTIVATION_LIMIT, ACTIVATION_LIMIT)


def to_fixed(values, exponent):
    """Float array -> saturated fixed-point int64 (for inputs of known scale)."""
    return saturate(np.floor(np.asarray(values, np.float64) * 2.0**exponent + 0.5)).astype(np.int64)


def _shift_round(acc, shift):
    """acc * 2**-shift rounded half up, per channel (shift broadcasts over the last axis)."""
    shift = np.asarray(shift, np.int64)
    left = np.maximum(-shift, 0)
    right = np.maximum(shift, 0)
    acc = acc << left
    half = np.where(right > 0, np.int64(1) << np.maximum(right - 1, 0), 0)
    return (acc + half) >> right


def _weight_matrix(weights):
    """(kh, kw, cin, cout) ints -> float64 (cin, kh * kw * cout), tap-major columns."""
    kh, kw, cin, cout = weights.shape
    return np.ascontiguousarray(
        np.asarray(weights, np.float64).transpose(2, 0, 1, 3).reshape(cin, kh * kw * cout))


def _exact_conv(x, weights, bias, matrix=None):
    """Stride-1 'same' convolution of int64 NHWC x with int weights, exact in float64.

    One GEMM of every padded input position against all kh * kw taps, then
    the taps' shifted outputs are summed: no im2col copy of the input, and
    the same exactness (every partial sum is a sum of fewer products than
    the total, so it stays below 2**53). `matrix`: `_weight_matrix(weights)`
    if the caller caches it.
    """
    kh, kw, cin, cout = weights.shape
    n, h, w, _ = x.shape
    ph, pw = kh // 2, kw // 2
    padded = np.zeros((n, h + 2 * ph, w + 2 * pw, cin), np.float64)
    padded[:, ph:ph + h, pw:pw + w] = x
    if matrix is None:
        matrix = _weight_matrix(weights)
    taps = (padded.reshape(-1, cin) @ matrix).reshape(n, h + 2 * ph, w + 2 * pw, kh, kw, cout)
    acc = taps[:, :h, :w, 0, 0].copy()
    for i in range(kh):
        for j in range(kw):
            if i or j:
                acc += taps[:, i:i + h, j:j + w, i, j]
    return acc.astype(np.int64) + bias


def _float_conv(x, kernel, bias):
    """Stride-1 'same' float convolution (calibration of a rewritten layer)."""
    kh, kw, cin, cout = kernel.shape
    n, h, w, _ = x.shape
    padded = np.pad(np.asarray(x, np.float64), ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    out = np.zeros((n, h, w, cout)) + bias
    for i in range(kh):
        for j in range(kw):
            out += padded[:, i:i + h, j:j + w] @ kernel[i, j]
    return out.astype(np.float32)


def depth_to_space(x, block):
    """TF's depth_to_space (DCR order) on an NHWC array."""
    n, h, w, c = x.shape
    out_c = c // (block * block)
    x = x.reshape(n, h, w, block, block, out_c).transpose(0, 1, 3, 2, 4, 5)
    return x.reshape(n, h * block, w * block, out_c)


class IntegerNet:
    """A Sequential of Conv2D/ReLU/DepthToSpace evaluated in fixed point."""

    def __init__(self, layers, input_exponent, output_exponent):
        self.layers = layers  # list of dicts, see from_keras
        self.input_exponent = int(input_exponent)
        self.output_exponent = int(output_exponent)

    # -- construction ----------------------------------------------------

    @classmethod
    def from_keras(cls, model, calibration_inputs, input_exponent, output_exponent):
        """Quantises a Keras Sequential using float activations seen on calibration inputs.

        `calibration_inputs`: one NHWC array or a list of them (sizes may differ).
        """
        import keras

        from tfcodec.models.transforms import CenteredConv2D, CenteredConv2DTranspose
        from tfcodec.subpixel import subpixel_kernel

        layers, exponent = [], int(input_exponent)
        if isinstance(calibration_inputs, np.ndarray):
            calibration_inputs = [calibration_inputs]
        activations = [np.asarray(a, np.float32) for a in calibration_inputs]
        keras_layers = list(model.layers)
        convs = (keras.layers.Conv2D, keras.layers.Conv2DTranspose)
        last_conv = max(i for i, l in enumerate(keras_layers) if isinstance(l, convs))
        for i, layer in enumerate(keras_layers):
            if isinstance(layer, convs):
                transposed = isinstance(layer, keras.layers.Conv2DTranspose)
                if transposed:
                    if not (isinstance(layer, CenteredConv2DTranspose) or layer.padding == "same") \
                            or tuple(layer.kernel_size) != (5, 5) or tuple(layer.strides) != (2, 2):
                        raise ValueError(f"{layer.name}: integer nets take 5x5 stride-2 transposed convs")
                elif tuple(layer.strides) != (1, 1) or layer.kernel_size[0] % 2 == 0 \
                        or not (layer.padding == "same" or isinstance(layer, CenteredConv2D)):
                    raise ValueError(f"{layer.name}: integer nets need stride-1 'same' odd-kernel convs")
                if not layer.built:  # a net never called yet has no weights until its first call
                    layer(activations[0])
                kernel, bias = [np.asarray(v, np.float64) for v in layer.get_weights()]
                if transposed:  # its output before depth_to_space: what the integer conv computes
                    kernel, bias = subpixel_kernel(
                        kernel, bias, "centered" if isinstance(layer, CenteredConv2DTranspose) else "same")
                    activations = [_float_conv(a, kernel, bias) for a in activations]
                else:
                    activations = [np.asarray(layer(a)) for a in activations]
                if i == last_conv:
                    out_exp = int(output_exponent)
                else:
                    # Headroom of 2x over the calibration maximum.
                    peak = max(max(float(np.max(np.abs(a))) for a in activations), 1e-6)
                    out_exp = int(np.floor(np.log2((ACTIVATION_LIMIT // 2) / peak)))
                peak_w = np.maximum(np.max(np.abs(kernel), axis=(0, 1, 2)), 1e-12)
                w_exp = np.floor(np.log2((2**WEIGHT_BITS - 1) / peak_w)).astype(np.int64)
                w_exp = np.minimum(w_exp, 40)
                w_int = np.round(kernel * 2.0**w_exp).astype(np.int64)
                acc_exp = exponent + w_exp
                b_int = np.round(bias * 2.0**acc_exp).astype(np.int64)
                layers.append({"kind": _CONV, "weights": w_int, "bias": b_int,
                               "shift": (acc_exp - out_exp).astype(np.int64)})
                exponent = out_exp
                if transposed:
                    activations = [depth_to_space(a, 2) for a in activations]
                    layers.append({"kind": _DEPTH_TO_SPACE, "block": 2})
            elif isinstance(layer, keras.layers.LeakyReLU):
                activations = [np.asarray(layer(a)) for a in activations]
                slope = int(round(float(layer.negative_slope) * 2**SLOPE_EXPONENT))
                layers.append({"kind": _LEAKY_RELU, "slope": slope})
            elif isinstance(layer, keras.layers.ReLU):
                activations = [np.asarray(layer(a)) for a in activations]
                layers.append({"kind": _RELU})
            elif type(layer).__name__ == "DepthToSpace":
                activations = [np.asarray(layer(a)) for a in activations]
                layers.append({"kind": _DEPTH_TO_SPACE, "block": int(layer.block_size)})
            else:
                raise ValueError(f"{layer.name}: layer type {type(layer).__name__} has no integer form")
        return cls(layers, input_exponent, output_exponent)

    # -- evaluation --------------------------------------------------------

    def __call__(self, x):
        """int64 NHWC at input_exponent -> int64 NHWC at output_exponent."""
        x = saturate(np.asarray(x, np.int64))
        for layer in self.layers:
            kind = layer["kind"]
            if kind == _CONV:
                if "matrix" not in layer:  # float64 form of the weights, built once
                    layer["matrix"] = _weight_matrix(layer["weights"])
                acc = _exact_conv(x, layer["weights"], layer["bias"], layer["matrix"])
                x = saturate(_shift_round(acc, layer["shift"]))
            elif kind == _RELU:
                x = np.maximum(x, 0)
            elif kind == _LEAKY_RELU:
                x = np.where(x < 0, (x * layer["slope"]) >> SLOPE_EXPONENT, x)
            else:
                x = depth_to_space(x, layer["block"])
        return x

    # -- serialisation -------------------------------------------------------

    def to_arrays(self, prefix):
        """Flat dict of numpy arrays (for an .npz bundle)."""
        out = {f"{prefix}/io": np.array([self.input_exponent, self.output_exponent, len(self.layers)], np.int64)}
        for i, layer in enumerate(self.layers):
            # The second number is the layer's one parameter: a block size or a slope.
            out[f"{prefix}/{i}/kind"] = np.array([layer["kind"], layer.get("block", layer.get("slope", 0))],
                                                 np.int64)
            if layer["kind"] == _CONV:
                out[f"{prefix}/{i}/weights"] = layer["weights"].astype(np.int16)
                out[f"{prefix}/{i}/bias"] = layer["bias"].astype(np.int64)
                out[f"{prefix}/{i}/shift"] = layer["shift"].astype(np.int64)
        return out

    @classmethod
    def from_arrays(cls, arrays, prefix):
        input_exp, output_exp, count = (int(v) for v in arrays[f"{prefix}/io"])
        layers = []
        for i in range(count):
            kind, block = (int(v) for v in arrays[f"{prefix}/{i}/kind"])
            if kind not in (_CONV, _RELU, _DEPTH_TO_SPACE, _LEAKY_RELU):
                raise ValueError(f"{prefix}: layer {i} is of unknown kind {kind}")
            layer = {"kind": kind}
            if kind == _CONV:
                layer.update(weights=np.asarray(arrays[f"{prefix}/{i}/weights"], np.int64),
                             bias=np.asarray(arrays[f"{prefix}/{i}/bias"], np.int64),
                             shift=np.asarray(arrays[f"{prefix}/{i}/shift"], np.int64))
            elif kind == _DEPTH_TO_SPACE:
                layer["block"] = block
            elif kind == _LEAKY_RELU:
                layer["slope"] = block
            layers.append(layer)
        return cls(layers, input_exp, output_exp)
