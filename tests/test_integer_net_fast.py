"""The integer nets' compiled path (Winograd, tfcodec/entropy/_intconv.c) against the numpy path.

The numpy path is the reference (tests/test_integer_net.py holds it to integer arithmetic); the
range-coded streams depend on every output, so the compiled path must give the same integers, bit
for bit, everywhere: random nets with weights at the int16 extremes and activations saturated at
+-(2**20 - 1), odd and tiny sizes, up to 600 input channels (where the float64 output transform
is no longer exact and the int64 one takes over), shifts of both signs, ReLU / LeakyReLU /
DepthToSpace after a conv, kernels that are not 3x3, batches; the shipped model's nine nets on
realistic inputs; and the decompression of the golden streams. Where the extension is not built
(no compiler) these tests skip, except the ones that check the numpy fallback; in CI they fail
instead if the machine could have built it (a C compiler and Python's headers).
"""

import contextlib
import os
import subprocess
import sys

import numpy as np
import pytest

from compiled_paths import require_compiled
from tfcodec.entropy import integer_net as inet
from tfcodec.entropy.integer_net import (_CONV, _DEPTH_TO_SPACE, _LEAKY_RELU, _RELU, ACTIVATION_LIMIT,
                                         IntegerNet)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
L = ACTIVATION_LIMIT


@pytest.fixture(autouse=True)
def _needs_compiled(request):
    require_compiled(request, inet._PATH, "tfcodec.entropy._intconv")


def _both(net, x):
    """(compiled, numpy) outputs of a fresh copy of `net` each (no cached plans shared)."""
    fast = IntegerNet([dict(l) for l in net.layers], net.input_exponent, net.output_exponent)(x)
    with inet.numpy_only():
        ref = IntegerNet([dict(l) for l in net.layers], net.input_exponent, net.output_exponent)(x)
    return fast, ref


def _assert_same(net, x):
    fast, ref = _both(net, x)
    assert fast.dtype == ref.dtype == np.int64
    assert fast.shape == ref.shape
    np.testing.assert_array_equal(fast, ref)
    return fast


def _extreme_weights(rng, shape):
    """int16-range weights, most of them at or near +-(2**15 - 1)."""
    w = rng.integers(-(2**15) + 1, 2**15, shape)
    extreme = rng.random(shape) < 0.7
    w[extreme] = rng.choice([-(2**15) + 1, 2**15 - 1, -(2**15) + 2, 2**15 - 2], int(extreme.sum()))
    return w.astype(np.int64)


def _conv(rng, cin, cout, shift, kernel=3, extreme=True, bias_scale=2**40):
    w = _extreme_weights(rng, (kernel, kernel, cin, cout)) if extreme else \
        rng.integers(-(2**15) + 1, 2**15, (kernel, kernel, cin, cout))
    shift = np.asarray(shift, np.int64)
    if shift.ndim == 0:
        shift = np.full(cout, shift, np.int64)
    return {"kind": _CONV, "weights": w, "bias": rng.integers(-bias_scale, bias_scale, cout),
            "shift": shift}


def _saturated_input(rng, shape):
    """Activations mostly at +-(2**20 - 1), the rest anywhere (beyond the limit too: saturated)."""
    x = rng.integers(-2 * L, 2 * L, shape)
    at = rng.random(shape) < 0.6
    x[at] = rng.choice([-L, L], int(at.sum()))
    return x


@pytest.mark.parametrize("h, w", [(1, 1), (1, 7), (7, 1), (2, 2), (3, 5), (5, 4), (9, 13), (8, 12)])
def test_odd_and_tiny_sizes(h, w):
    rng = np.random.default_rng(h * 100 + w)
    net = IntegerNet([_conv(rng, 5, 6, 30), {"kind": _RELU}, _conv(rng, 6, 3, 25)], 0, 0)
    _assert_same(net, _saturated_input(rng, (1, h, w, 5)))


@pytest.mark.parametrize("cin", [1, 3, 64, 224, 600, 1200])
def test_extreme_weights_and_activations(cin):
    """At the extremes: shifts such that outputs land both inside and beyond the saturation
    limit. At cin=1200 one output channel has every weight at +(2**15 - 1): its 16 Winograd
    bounds add up past 2**53, so the output transform runs in int64 (mode 2)."""
    rng = np.random.default_rng(cin)
    shift = rng.integers(18, 40, 9)
    first = _conv(rng, cin, 9, shift)
    if cin == 1200:
        first["weights"][..., 0] = 2**15 - 1
    net = IntegerNet([first, {"kind": _LEAKY_RELU, "slope": 13107}, _conv(rng, 9, 4, 30)], 0, 0)
    steps = net._compiled_steps()
    assert steps[0][0] == "winograd"
    assert steps[0][5] == (2 if cin == 1200 else 0)
    x = _saturated_input(rng, (1, 7, 10, cin))
    if cin == 1200:
        x[..., :] = L  # the all-positive channel's output at its largest
        x[0, 3, 4] = -L
    _assert_same(net, x)


def test_negative_and_mixed_shifts():
    """A negative shift is a left shift (and saturates); per channel, mixed with right shifts,
    including 0 and 1 (round half up at the smallest step)."""
    rng = np.random.default_rng(5)
    shift = np.array([-3, -1, 0, 1, 2, 20, 35, 50])
    layer = _conv(rng, 4, 8, shift, extreme=False, bias_scale=2**10)
    layer["weights"] = rng.integers(-3, 4, layer["weights"].shape)  # small: left shifts stay in range
    net = IntegerNet([layer, {"kind": _RELU}], 0, 0)
    x = rng.integers(-50, 50, (2, 6, 9, 4))
    out = _assert_same(net, x)
    assert np.any((out > 0) & (out < L))


@pytest.mark.parametrize("ops", [
    [{"kind": _RELU}],
    [{"kind": _LEAKY_RELU, "slope": 6554}],
    [{"kind": _LEAKY_RELU, "slope": 65536 * 3 // 2}],  # slope > 1: the next bound grows
    [{"kind": _DEPTH_TO_SPACE, "block": 2}, {"kind": _RELU}],
    [{"kind": _RELU}, {"kind": _DEPTH_TO_SPACE, "block": 2}, {"kind": _LEAKY_RELU, "slope": 1000}],
    [{"kind": _DEPTH_TO_SPACE, "block": 3}],
    [{"kind": _DEPTH_TO_SPACE, "block": 2}, {"kind": _DEPTH_TO_SPACE, "block": 2}],  # only one fused
    [{"kind": _RELU}, {"kind": _RELU}, {"kind": _LEAKY_RELU, "slope": -20000}],
])
def test_fused_activations_and_depth_to_space(ops):
    rng = np.random.default_rng(len(ops))
    cout = 36 if any(o.get("block") == 3 for o in ops) else 32
    net = IntegerNet([_conv(rng, 7, cout, rng.integers(25, 33, cout))] + [dict(o) for o in ops]
                     + [_conv(rng, cout // (9 if cout == 36 else 4 ** sum(o.get("block", 0) == 2 for o in ops))
                              if any(o["kind"] == _DEPTH_TO_SPACE for o in ops) else cout, 5, 31)], 0, 0)
    _assert_same(net, _saturated_input(rng, (1, 5, 7, 7)))


def test_leading_activation_other_kernels_and_batches():
    """Layers the compiled path hands to numpy: a net starting with a ReLU, 1x1 and 5x5 kernels;
    a batch of three."""
    rng = np.random.default_rng(11)
    net = IntegerNet([{"kind": _RELU}, _conv(rng, 6, 8, 28), _conv(rng, 8, 8, 20, kernel=1),
                      {"kind": _RELU}, _conv(rng, 8, 4, 33, kernel=5), _conv(rng, 4, 4, 30)], 0, 0)
    kinds = [s[0] for s in net._compiled_steps()]
    assert kinds == ["layer", "winograd", "layer", "layer", "layer", "winograd"]
    _assert_same(net, _saturated_input(rng, (3, 6, 7, 6)))


def test_bounds_too_large_fall_back_to_numpy():
    """Weights whose products could pass 2**53 in float64: no Winograd plan for that layer."""
    rng = np.random.default_rng(2)
    layer = _conv(rng, 12000, 2, 40)  # 4 * 2**20 * 12000 * 9 * (2**15 - 1) > 2**53
    layer["weights"] = np.full(layer["weights"].shape, 2**15 - 1)
    net = IntegerNet([layer], 0, 0)
    assert net._compiled_steps()[0][0] == "layer"
    small = _conv(rng, 8, 2, 40)
    assert inet._winograd_plan(small["weights"], ACTIVATION_LIMIT) is not None
    assert inet._winograd_plan(small["weights"], 2**40) is None


def test_epilogue_modes_agree():
    """The same layer through each of the output transform's three modes."""
    rng = np.random.default_rng(8)
    layer = _conv(rng, 40, 12, rng.integers(10, 40, 12))
    x = inet.saturate(_saturated_input(rng, (1, 9, 11, 40))).astype(np.float64)
    plan = inet._winograd_plan(layer["weights"], ACTIVATION_LIMIT)
    ops = np.array([[_LEAKY_RELU, 9000]], np.int64)
    outs = []
    for mode in (0, 1, 2):
        out = np.empty((1, 9, 11, 12), np.int64)
        outs.append(inet._winograd_conv(x[None][0], layer, plan, ops, 1, mode, out))
    expected = inet._numpy_layer({"kind": _LEAKY_RELU, "slope": 9000},
                                 inet._numpy_layer(layer, x.astype(np.int64)))
    for out in outs:
        np.testing.assert_array_equal(out, expected)


def test_input_transform_layouts():
    """The C input transform, all 16 rows at once or a quarter at a time, float64 or int64 in,
    equals B^T d B computed in numpy, the 'same' zero padding included."""
    from tfcodec.entropy import _intconv

    bt = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]])
    rng = np.random.default_rng(4)
    for h, w, c in [(1, 1, 1), (3, 4, 5), (6, 5, 3), (2, 9, 7)]:
        x = rng.integers(-L, L + 1, (h, w, c))
        th, tw = (h + 1) // 2, (w + 1) // 2
        padded = np.zeros((2 * th + 2, 2 * tw + 2, c), np.int64)
        padded[1:h + 1, 1:w + 1] = x
        ref = np.stack([np.einsum("ai,ijc,bj->abc", bt, padded[2 * ty:2 * ty + 4, 2 * tx:2 * tx + 4], bt)
                        .reshape(16, c) for ty in range(th) for tx in range(tw)])
        for dtype in (np.float64, np.int64):
            v = np.empty((th * tw, 16, c))
            _intconv.input_transform(x.astype(dtype), v)
            np.testing.assert_array_equal(v, ref)
            for g in range(4):
                vg = np.empty((th * tw, 4, c))
                _intconv.input_transform(x.astype(dtype), vg, 2, g)
                np.testing.assert_array_equal(vg, ref[:, 4 * g:4 * g + 4])


def test_threads_give_the_same_bits():
    rng = np.random.default_rng(9)
    net = IntegerNet([_conv(rng, 64, 64, 30), {"kind": _RELU}, _conv(rng, 64, 16, 30)], 0, 0)
    x = _saturated_input(rng, (1, 40, 36, 64))
    before = inet._THREADS
    try:
        inet._THREADS = 3
        fast, ref = _both(net, x)
    finally:
        inet._THREADS = before
    np.testing.assert_array_equal(fast, ref)


# -- the shipped model -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped():
    from tfcodec.weights import load_bundle, resolve

    coding = load_bundle(resolve("cw2020-small-full-range")).coding
    names = ["hyper_synthesis"] + [f"{k}_{i}" for i in range(4) for k in ("mean", "scale")]
    return {name: IntegerNet.from_arrays(coding, f"int/{name}") for name in names}


@pytest.mark.parametrize("seed", [0, 1])
def test_shipped_nets_on_realistic_inputs(shipped, seed):
    """The nine nets as LatentCoder.decode calls them: z in [-20, 20] at an 8x12 grid (a 768x512
    image), then per slice the features and the slices decoded so far (symbols about the means)."""
    rng = np.random.default_rng(seed)
    hs = shipped["hyper_synthesis"]
    z = rng.integers(-20, 21, (1, 8, 12, 64)) * 2**hs.input_exponent
    assert all(s[0] == "winograd" for net in shipped.values() for s in net._compiled_steps())
    features = _assert_same(hs, z)
    mean_feat, scale_feat = np.split(features, 2, axis=-1)
    decoded = []
    for i in range(4):
        mean = _assert_same(shipped[f"mean_{i}"], np.concatenate([mean_feat] + decoded, -1))
        _assert_same(shipped[f"scale_{i}"], np.concatenate([scale_feat] + decoded, -1))
        decoded.append(inet.saturate(rng.integers(-6, 7, mean.shape) * 256 + mean))


def test_shipped_nets_at_odd_grids(shipped):
    rng = np.random.default_rng(3)
    z = rng.integers(-40, 41, (1, 3, 5, 64)) * 2**shipped["hyper_synthesis"].input_exponent
    _assert_same(shipped["hyper_synthesis"], z)
    _assert_same(shipped["scale_3"], _saturated_input(rng, (1, 13, 7, 224)))


@pytest.mark.parametrize("compiled", [True, False])
def test_bands_of_rows_give_the_whole_input_s_integers(shipped, monkeypatch, compiled):
    """A large input runs in bands of rows with context (`BAND_POSITIONS`): the same integers as
    one call, on both paths, for a net with DepthToSpace (hyper-synthesis) and one without."""
    rng = np.random.default_rng(4)
    z = rng.integers(-20, 21, (1, 23, 9, 64)) * 2**shipped["hyper_synthesis"].input_exponent
    x = _saturated_input(rng, (1, 41, 6, 224))
    with inet.numpy_only() if not compiled else contextlib.nullcontext():
        monkeypatch.setattr(inet, "BAND_POSITIONS", 1 << 30)
        whole = [shipped["hyper_synthesis"](z), shipped["mean_3"](x)]
        for positions in (1, 50, 300):
            monkeypatch.setattr(inet, "BAND_POSITIONS", positions)
            np.testing.assert_array_equal(shipped["hyper_synthesis"](z), whole[0])
            np.testing.assert_array_equal(shipped["mean_3"](x), whole[1])
    assert shipped["hyper_synthesis"]._reach() == (3, 4) and shipped["mean_3"]._reach() == (3, 1)


def test_golden_streams_code_and_decode_the_same():
    """Every golden stream: compressing the golden image with the compiled path writes it byte
    for byte, and decompressing it gives the numpy path's pixels. (tests/test_golden_streams.py
    holds the pixels to the recorded ones; the synthesis that makes them is float, not ours.)"""
    pytest.importorskip("tensorflow")
    from tfcodec.api import load_codec
    from tfcodec.fileio import read_image

    image = read_image(os.path.join(ROOT, "tests", "data", "golden_image.png"))
    with np.load(os.path.join(ROOT, "tests", "data", "golden_streams.npz")) as npz:
        cases = {k[len("stream/"):]: npz[k].tobytes() for k in npz.files if k.startswith("stream/")}
    for case, stream in sorted(cases.items()):
        model, setting = case.split("@")
        codec = load_codec(model)
        assert codec.compress(image, float(setting) if "." in setting else int(setting)) == stream, case
        fast = codec.decompress(stream)
        with inet.numpy_only():
            ref = codec.decompress(stream)
        np.testing.assert_array_equal(fast, ref)


# -- the fallback ------------------------------------------------------------------------------

def test_fallback_numpy_only_context():
    with inet.numpy_only():
        assert inet.backend() == "numpy"
        assert not inet.in_use()
    assert inet.backend() == ("winograd" if inet.available() and not inet._PATH.switched_off else "numpy")


def test_fallback_environment_switch():
    """TFCODEC_INTEGER_NETS=numpy: the numpy path, same outputs; also with the module hidden."""
    code = (
        "import numpy as np\n"
        "from tfcodec.entropy import integer_net as inet\n"
        "from tfcodec.entropy.integer_net import IntegerNet\n"
        "rng = np.random.default_rng(0)\n"
        "layer = {'kind': 0, 'weights': rng.integers(-999, 999, (3, 3, 4, 5)),\n"
        "         'bias': rng.integers(-99, 99, 5), 'shift': np.full(5, 6)}\n"
        "net = IntegerNet([layer, {'kind': 1}], 0, 0)\n"
        "out = net(rng.integers(-9999, 9999, (1, 5, 6, 4)))\n"
        "print(inet.backend(), int(out.sum()), out.dtype)\n"
    )
    env = dict(os.environ, TFCODEC_INTEGER_NETS="numpy")
    off = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True)
    assert off.returncode == 0, off.stderr
    backend, total, dtype = off.stdout.split()
    assert backend == "numpy" and dtype == "int64"
    hidden = subprocess.run([sys.executable, "-c", "import sys; sys.modules['tfcodec.entropy._intconv'] = None\n"
                             + code], env=dict(os.environ, TFCODEC_INTEGER_NETS=""), cwd=ROOT,
                            capture_output=True, text=True)
    assert hidden.returncode == 0, hidden.stderr
    assert hidden.stdout.split() == ["numpy", total, "int64"]
    if inet.available():
        on = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, TFCODEC_INTEGER_NETS=""),
                            cwd=ROOT, capture_output=True, text=True)
        assert on.returncode == 0, on.stderr
        assert on.stdout.split() == ["winograd", total, "int64"]
