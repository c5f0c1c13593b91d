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

Speed: Winograd F(2x2, 3x3), still exact. The nets are almost all 3x3 convolutions,
and the direct method spends 9 multiply-adds per output and input channel. Winograd's
F(2x2, 3x3) computes a 2x2 output tile from a 4x4 input patch d with 16 products
per channel pair instead of 36 (2.25x fewer flops):

    Y' = A^T [ (G' w G'^T) . (B^T d B) ] A,    Y' = 4 * conv(d, w),
    G' = 2G = [[2,0,0],[1,1,1],[1,-1,1],[0,0,2]],  A^T = [[1,1,1,0],[0,1,-1,-1]],
    B^T = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]].

Usually this is a floating-point trick with rounding error; here every matrix is
made of small integers (G' is G scaled by 2 so that it has no halves), so with
integer weights and activations U = G' w G'^T, V = B^T d B, their products and the
sums over input channels are all integers. They are exact in float64 as long as
every partial sum stays below 2**53, which is checked per layer from the actual
weights, once: |V| <= 4 * max|x| (a row of B^T has two entries of +-1), so the
GEMM over input channels for point k and output channel o is bounded by
4 * max|x| * sum_cin |U[k, cin, o]| (about cin * 2**44 at worst for |w| < 2**15,
|x| < 2**20; the shipped nets are far below). Y' is a signed sum of 9 of the 16 M,
exact in float64 when the 16 bounds add up to less than 2**53, else done in int64;
Y' = 4 * the convolution exactly, so Y' / 4 is exact. The epilogue (bias,
round-half-up shift, saturation, ReLU / LeakyReLU, DepthToSpace as a write
pattern) then gives the numpy path's integers bit for bit: in int64 as numpy does,
or in float64 where Python has checked that every step is exact (values below
2**51, shifts in [-40, 50]; see _intconv.c). A layer failing any check, a kernel
other than 3x3, or a build without the compiled module, takes the numpy path
(`_exact_conv`), which stays the reference; tests/test_integer_net_fast.py holds
the two to the same bits.

The transforms are cheap in flops but memory-bound, and in numpy they cost more
than the GEMM saves; so they are C (`_intconv.c`, built by setup.py where a
compiler is at hand, optional like the range coder's): the input transform reads
x in place (the 'same' zero padding included) and writes V for a quarter of the
16 points at a time, which its four GEMMs (float64 BLAS, `np.matmul`) read while
it is still in cache; the output transform is fused with the whole layer epilogue.
`backend()` says which path runs; TFCODEC_INTEGER_NETS=numpy in the environment,
or `numpy_only()` in code, turns the compiled path off. Figures: docs/architecture.md,
"Speed" (benchmarks/bench_integer_nets.py).
"""

import math
import os
import threading
from fractions import Fraction

import numpy as np

from tfcodec.compiled import CompiledPath

try:  # the optional compiled transforms (setup.py builds them where a C compiler is at hand)
    from tfcodec.entropy import _intconv
except ImportError:  # not built here: every layer takes the numpy path
    _intconv = None

_PATH = CompiledPath(_intconv, "TFCODEC_INTEGER_NETS")
available = _PATH.available      # whether the compiled transforms were built for this Python
in_use = _PATH.in_use            # whether nets take the compiled path now (built, and not turned off)
numpy_only = _PATH.numpy_only    # within the block (in this thread), nets take the numpy path

ACTIVATION_BITS = 20
ACTIVATION_LIMIT = (1 << ACTIVATION_BITS) - 1
WEIGHT_BITS = 15  # |w_int| < 2**15
# Output positions one call evaluates at once; larger inputs run in bands of rows
# (`IntegerNet.__call__`). 16384 latents (a 2048x2048-pixel area) hold ~150 MB of float64
# work arrays; a Kodak image's 1536 run whole.
BAND_POSITIONS = 1 << 13
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


# -- the compiled path: exact Winograd F(2x2, 3x3) ---------------------------------------------

_EXACT = 2**53
# G' = 2G, B^T and A^T of Winograd F(2x2, 3x3), all small integers (see the module docstring).
_G2 = np.array([[2, 0, 0], [1, 1, 1], [1, -1, 1], [0, 0, 2]], np.int64)


def backend():
    """'winograd' or 'numpy': the path `IntegerNet.__call__` takes now for 3x3 convolutions."""
    return "winograd" if in_use() else "numpy"


def _winograd_plan(weights, input_bound):
    """(U, wide, acc_bounds) for an exact Winograd conv of a 3x3 layer, or None where it could
    be inexact. acc_bounds: per output channel, a bound on |the convolution| (before the bias).

    U (16, cin, cout) float64 = G' w G'^T per (cin, cout), flattened 4x4. With |x| <= input_bound,
    |V| <= 4 * input_bound (a row of B^T has two entries of +-1), so every partial sum of the
    GEMM over cin for output (k, cout) is at most 4 * input_bound * sum_cin |U[k, cin, cout]|:
    below 2**53 it is exact in any summation order. wide=False: even the sum over all 16 k is
    below 2**53, so the output transform (signed sums of 9 of the M) is exact in float64 too;
    wide=True: it converts each M to int64 first. Also required: the numpy path's own bound
    (input_bound * sum_{taps, cin} |w| < 2**53), so that both paths compute the exact integer.
    """
    kh, kw, cin, cout = weights.shape
    w = np.asarray(weights, np.int64)
    if (kh, kw) != (3, 3) or np.max(np.abs(w), initial=0) >= 2**31:
        return None
    bound = int(input_bound)
    u = np.einsum("ai,ijcd,bj->abcd", _G2, w, _G2).reshape(16, cin, cout)  # int64, exact
    per_k = np.abs(u).sum(axis=1)  # (16, cout), int64: below 2**63 for |w| < 2**31, cin < 2**20
    direct = np.abs(w).sum(axis=(0, 1, 2))
    if cin >= 2**20 or any(4 * bound * int(v) >= _EXACT for v in per_k.max(axis=0)) \
            or any(bound * int(v) >= _EXACT for v in direct):
        return None
    wide = any(4 * bound * int(v) >= _EXACT for v in per_k.sum(axis=0))
    return np.ascontiguousarray(u, np.float64), wide, [bound * int(v) for v in direct]


_FAST = 2**51


def _epilogue_mode(layer, plan, ops):
    """How _intconv.output_transform finishes a layer: 0, all in float64 (vectorised), where
    every step is exact (see _intconv.c's fast epilogue); 1, float64 output transform and an
    int64 epilogue; 2 (plan's `wide`), int64 from the M on."""
    _, wide, acc_bounds = plan
    if wide:
        return 2
    for acc, bias, shift in zip(acc_bounds, layer["bias"], layer["shift"]):
        a, shift = acc + abs(int(bias)), int(shift)
        if not -40 <= shift <= 50 or (a if shift > 0 else a << -shift) >= _FAST:
            return 1
    bound = ACTIVATION_LIMIT
    for kind, slope in ops:
        if kind == _LEAKY_RELU:
            if bound * abs(int(slope)) >= _FAST:
                return 1
            bound = _leaky_bound(bound, slope)
    return 0


# Threads for the C transforms (tile rows split between them; small layers stay on one). One by
# default: BLAS already runs the GEMMs on every core, and on the 2-core machine the benchmark ran
# on (docs/architecture.md, "Speed"), a second transform thread did not help.
# TFCODEC_INTEGER_NET_THREADS=n to try more.
try:
    _THREADS = max(1, min(16, int(os.environ.get("TFCODEC_INTEGER_NET_THREADS", "1"))))
except ValueError:
    _THREADS = 1

_scratch = threading.local()
_SCRATCH_LIMIT = 16 << 20  # bytes per buffer kept between calls (per thread): a Kodak image's largest


def _buffer(name, shape, dtype=np.float64):
    """An uninitialised array, reusing this thread's buffer `name`: fresh pages for every layer's
    transformed input would cost more in page faults than the transform itself."""
    size = math.prod(shape)
    pool = getattr(_scratch, "pool", None)
    if pool is None:
        pool = _scratch.pool = {}
    flat = pool.get(name)
    if flat is None or flat.size < size or flat.dtype != dtype:
        flat = np.empty(max(size, 1), dtype)
        if flat.nbytes <= _SCRATCH_LIMIT:
            pool[name] = flat
    return flat[:size].reshape(shape)


def _winograd_conv(x, layer, plan, ops, block, mode, out):
    """One conv layer (and the elementwise ops and DepthToSpace fused after it) on (n, h, w, cin),
    written into `out` (n, h * block, w * block, cout / block**2)."""
    u = plan[0]
    if x.dtype != np.float64:  # the net's int64 input: numpy's cast is vectorised, and exact (|x| < 2**53)
        x = x.astype(np.float64)
    n, h, w, _ = x.shape
    cout = u.shape[2]
    tiles = ((h + 1) // 2) * ((w + 1) // 2)
    # A quarter of V at a time (the k = 4g..4g+3 of row g of B^T d B): a buffer a quarter the
    # size, still in cache when its four GEMMs read it. Tile-major layouts: a tile's rows lie
    # together for the C loops; each GEMM reads and writes its k through a row stride.
    v = _buffer("v", (tiles, 4, x.shape[3]))
    m = _buffer("m", (tiles, 16, cout))
    for i in range(n):
        for g in range(4):
            _intconv.input_transform(x[i], v, _THREADS, g)
            np.matmul(v.transpose(1, 0, 2), u[4 * g:4 * g + 4], out=m[:, 4 * g:4 * g + 4].transpose(1, 0, 2))
        _intconv.output_transform(m, layer["bias"], layer["shift"], ops, out[i], h, w, block, mode, _THREADS)
    return out


def _leaky_bound(bound, slope):
    """A bound on |LeakyReLU(x)| given |x| <= bound (x < 0 -> floor(x * slope / 2**16))."""
    product = int(bound) * abs(int(slope))
    if product >= 2**63:  # the int64 product may wrap: no bound worth having
        return 2**63
    return max(int(bound), -((-product) >> SLOPE_EXPONENT) + 1)


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


def _numpy_layer(layer, x):
    """One layer on int64 NHWC x, in numpy: the reference for every path."""
    kind = layer["kind"]
    if kind == _CONV:
        if "matrix" not in layer:  # float64 form of the weights, built once
            layer["matrix"] = _weight_matrix(layer["weights"])
        acc = _exact_conv(x, layer["weights"], layer["bias"], layer["matrix"])
        return saturate(_shift_round(acc, layer["shift"]))
    if kind == _RELU:
        return np.maximum(x, 0)
    if kind == _LEAKY_RELU:
        return np.where(x < 0, (x * layer["slope"]) >> SLOPE_EXPONENT, x)
    return depth_to_space(x, layer["block"])


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
        """int64 NHWC at input_exponent -> int64 NHWC at output_exponent.

        A large input runs in bands of rows (`BAND_POSITIONS`), each with as many
        rows of context on either side as the net's receptive field reaches:
        what a band keeps is exactly the whole input's output (every value is
        an integer function of inputs within that reach, and a band's own
        border padding never reaches its kept rows), and the float64 work
        arrays stay small. A 12-megapixel photo's nets held over 1 GB at once.
        """
        x = np.asarray(x)  # any integer type: each band becomes int64 on its own
        reach, scale = self._reach()
        n, h, w = x.shape[:3]
        rows = max(1, BAND_POSITIONS // max(1, w * scale * scale))
        if h <= rows + 2 * reach:
            return self._evaluate(x)
        bands = []
        for start in range(0, h, rows):
            stop = min(h, start + rows)
            low, high = max(0, start - reach), min(h, stop + reach)
            out = self._evaluate(x[:, low:high])
            bands.append(out[:, (start - low) * scale:(stop - low) * scale])
        return np.concatenate(bands, axis=1)

    def _reach(self):
        """(rows of input context an output row needs on either side, output rows per input row)."""
        reach, scale = Fraction(0), 1
        for layer in self.layers:
            if layer["kind"] == _CONV:
                reach += Fraction(layer["weights"].shape[0] // 2, scale)
            elif layer["kind"] == _DEPTH_TO_SPACE:
                scale *= int(layer["block"])
        return math.ceil(reach), scale

    def _evaluate(self, x):
        """The net on x, whole."""
        x = np.asarray(x, np.int64)
        if in_use() and x.size:
            # Saturation is a no-op on inputs already in range (the codec's): check, cheaper.
            if x.min() < -ACTIVATION_LIMIT or x.max() > ACTIVATION_LIMIT:
                x = saturate(x)
            return self._call_compiled(x)
        x = saturate(x)
        for layer in self.layers:
            x = _numpy_layer(layer, x)
        return x

    def _compiled_steps(self):
        """The layers grouped for the compiled path, built once: ("winograd", layer, plan, ops,
        block, mode) for a 3x3 conv with the elementwise layers and at most one DepthToSpace after it,
        fused into its output transform (they commute: DepthToSpace only moves values); or
        ("layer", layer) for a layer the numpy code runs. `bound` follows a bound on |x| from
        layer to layer (every conv saturates; a LeakyReLU may scale), for the exactness checks."""
        steps = self.__dict__.get("_steps")
        if steps is not None and self.__dict__.get("_steps_of") == [id(l) for l in self.layers]:
            return steps
        steps, bound, i = [], ACTIVATION_LIMIT, 0
        while i < len(self.layers):
            layer = self.layers[i]
            kind = layer["kind"]
            plan = _winograd_plan(layer["weights"], bound) if kind == _CONV else None
            i += 1
            if plan is None:
                steps.append(("layer", layer))
                if kind == _CONV:
                    bound = ACTIVATION_LIMIT
                elif kind == _LEAKY_RELU:
                    bound = _leaky_bound(bound, layer["slope"])
                continue
            ops, block, bound = [], 1, ACTIVATION_LIMIT
            while i < len(self.layers):
                nxt = self.layers[i]
                if nxt["kind"] == _RELU:
                    ops.append((_RELU, 0))
                elif nxt["kind"] == _LEAKY_RELU and abs(int(nxt["slope"])) < 2**40 and len(ops) < 16:
                    ops.append((_LEAKY_RELU, int(nxt["slope"])))
                    bound = _leaky_bound(bound, nxt["slope"])
                elif nxt["kind"] == _DEPTH_TO_SPACE and block == 1 and layer["weights"].shape[3] % nxt["block"] ** 2 == 0:
                    block = int(nxt["block"])
                else:
                    break
                i += 1
            steps.append(("winograd", layer, plan, np.array(ops, np.int64).reshape(-1, 2), block,
                          _epilogue_mode(layer, plan, ops)))
        self._steps, self._steps_of = steps, [id(l) for l in self.layers]
        return steps

    def _call_compiled(self, x):
        steps = self._compiled_steps()
        for s, step in enumerate(steps):
            if step[0] == "winograd":
                _, layer, plan, ops, block, mode = step
                n, h, w, _ = x.shape
                shape = (n, h * block, w * block, layer["weights"].shape[3] // (block * block))
                # The next Winograd conv reads float64 as it is (exact integers), from one of two
                # buffers kept between calls; anything else gets a new int64 array.
                after = steps[s + 1] if s + 1 < len(steps) else None
                if after is not None and after[0] == "winograd":
                    out = _buffer(f"activation{s % 2}", shape)
                else:
                    out = np.empty(shape, np.int64)
                x = _winograd_conv(np.ascontiguousarray(x), layer, plan, ops, block, mode, out)
                continue
            x = _numpy_layer(step[1], np.asarray(x, np.int64))
        return np.asarray(x, np.int64)

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
