"""Writes the latent-coding test vectors of the Java codec core (android_demo/codec-core).

The Android app decodes (and encodes) the hyperprior family's latents in Java:
the integer entropy-parameter nets (`tfcodec.entropy.integer_net`), the scale
table lookup (`tfcodec.entropy.tables.scale_indices`) and the stream layout of
`tfcodec.codecs.latent_coding.LatentCoder`. They pick the range coder's tables,
so Java must reproduce them bit for bit. This script makes tiny models with
random integer nets (numpy only, no TensorFlow) and uses the Python reference
to write, under ``android_demo/codec-core/src/test/resources/vectors/latent/``:

* ``<model>/manifest.json`` and ``<model>/coding.npz``: what ``python -m
  tfcodec.export`` writes for a model (the manifest without TFLite models, the
  coding arrays with ``np.savez_compressed`` as the exporter writes them), for
  five tiny models: ``tiny-cw`` (channel-wise, 4 slices), ``tiny-mean``
  (mean-scale, one slice), ``tiny-scale`` (scale only), ``tiny-import``
  (mean-scale in CompressAI's layout: z's bin centres ``factorized/centres``
  off the integers, linear scale thresholds ``gaussian/thresholds``, a
  hyper-synthesis net with LeakyReLU layers taking its input at 2^-8) and
  ``tiny-tfc`` (scale only in TFC's layout: bin centres, TFC's 12-bit Gaussian
  tables and its rounded-down rows through ``gaussian/thresholds``);
* ``latents.txt``: records (the format of ``tools/make_java_vectors.py``):
  ``thresholds`` (the fixed-point log-scale thresholds), ``scales`` (log-scales
  and their table rows; scales and their rows under the linear thresholds), ``net`` (an integer net's input and output, including
  inputs that saturate and a stress net with 1x1/5x5 kernels, left shifts,
  a 3x3 depth-to-space and a LeakyReLU whose floor differs from truncation), ``gain`` (quality gain vectors as float32 bits),
  ``stream`` (the encoder's float inputs y and z, the whole ``.tfc`` file
  Python writes, and the fixed-point latents, mean features and hyper-latent
  the decoder rebuilds), ``bad`` (streams the latent decoder must refuse) and
  ``constants`` (the numbers Java keeps as constants, read from the Python
  modules that define them, so a change on the Python side fails the Java
  tests instead of drifting).

Everything comes from fixed seeds. ``--check`` compares what it would write
with the committed files (arrays by value, so a re-zipped npz still passes)
and exits 1 when they differ; a stale ``shipped`` record alone (the shipped
bundle was retrained) is only reported, since the Java test skips it then.

    python tools/make_java_latent_vectors.py          # (re)write the files
    python tools/make_java_latent_vectors.py --check  # exit 1 if they are out of date
"""

import argparse
import hashlib
import io
import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from java_vector_records import Writer, ints, read_text  # noqa: E402

from tfcodec import container  # noqa: E402
from tfcodec.api import DEFAULT_MODEL  # noqa: E402
from tfcodec.codecs import latent_coding  # noqa: E402
from tfcodec.codecs.latent_coding import LatentCoder  # noqa: E402
from tfcodec.entropy import tables  # noqa: E402
from tfcodec.entropy.integer_net import (ACTIVATION_LIMIT, PARAM_EXPONENT, IntegerNet,  # noqa: E402
                                         saturate)
from tfcodec.errors import FormatError  # noqa: E402
from tfcodec.models.config import HyperpriorConfig  # noqa: E402
from tfcodec.weights import resolve  # noqa: E402

OUT_DIR = os.path.join(ROOT, "android_demo", "codec-core", "src", "test", "resources", "vectors",
                       "latent")
HEADER = ("# Written by tools/make_java_latent_vectors.py from tfcodec's Python reference; "
          "do not edit.\n"
          "# Records: '<type> <name>', then '<key> <value>' lines, then 'end'.\n"
          "# Arrays are NHWC without the batch axis, flattened in C order.\n")

CONV, RELU, D2S, LEAKY = 0, 1, 2, 3

# Tiny versions of the three hyperprior variants (the shipped cw2020-small is N=64, M=128, Z=64).
MODELS = {
    "tiny-cw": HyperpriorConfig("cw2020", 8, 16, 8, 8, num_slices=4, slice_hidden=(12, 8), gain_levels=4),
    "tiny-mean": HyperpriorConfig("mbt2018-mean", 8, 12, 8, 6, gain_levels=3),
    "tiny-scale": HyperpriorConfig("bmshj2018", 8, 12, 8, 6, predict_means=False, gain_levels=5),
    # An imported model (CompressAI's mbt2018-mean): one rate point, z_offsets, linear scales.
    "tiny-import": HyperpriorConfig("mbt2018-mean", 8, 12, 8, 6, gain_levels=2, lambda_min=0.013,
                                    lambda_max=0.013, layout="compressai"),
    # An imported TFC bmshj2018: one rate point, z_offsets, TFC's 12-bit Gaussian tables and
    # its rows rounded down (thresholds in the coding arrays).
    "tiny-tfc": HyperpriorConfig("bmshj2018", 8, 12, 8, 6, predict_means=False, gain_levels=2, lambda_min=0.013,
                                 lambda_max=0.013, layout="tfc"),
}
# tiny-import's z bin centres at 2^-8: non-zero, off the integers (none a multiple of 256).
IMPORT_CENTRES = np.array([37, -101, 300, -255, 129, -583], np.int64)


def floats(values):
    # repr() of a float64 parses back to the same double in Java (Double.parseDouble).
    return " ".join(repr(float(v)) for v in np.asarray(values, np.float64).reshape(-1))


# -----------------------------------------------------------------------------
# Random integer nets with realistic magnitudes
# -----------------------------------------------------------------------------
def conv_layer(rng, x, cout, kernel, target, negative_shifts=0):
    """A conv layer whose outputs on `x` have roughly `target` magnitude; returns (layer, output)."""
    cin = x.shape[-1]
    weights = rng.integers(-(2**15 - 1), 2**15, size=(kernel, kernel, cin, cout)).astype(np.int64)
    # Some small weights and exact zeros, as quantised nets have.
    weights[rng.random(weights.shape) < 0.2] //= 64
    weights[rng.random(weights.shape) < 0.05] = 0
    acc = _accumulate(saturate(x), weights)
    spread = np.maximum(np.std(acc.reshape(-1, cout), axis=0), 1.0)
    shift = np.round(np.log2(spread / target)).astype(np.int64)
    if negative_shifts:
        shift[:negative_shifts] = -rng.integers(1, 4, size=negative_shifts)
    bias = (rng.normal(0, 1, cout) * spread * 0.5).astype(np.int64)
    layer = {"kind": CONV, "weights": weights, "bias": bias, "shift": shift}
    return layer, IntegerNet([layer], 0, 0)(x)


def _accumulate(x, weights):
    from tfcodec.entropy.integer_net import _exact_conv
    return _exact_conv(x, weights, 0)


def build_net(rng, x, plan, output_exponent_target):
    """plan: list of ('conv', cout, kernel) / ('relu',) / ('leaky', slope at 2^-16) / ('d2s', block);
    the last conv aims at output_exponent_target (the magnitude of the net's output)."""
    layers = []
    last_conv = max(i for i, step in enumerate(plan) if step[0] == "conv")
    for i, step in enumerate(plan):
        if step[0] == "conv":
            target = output_exponent_target if i == last_conv else 2.0**14
            layer, x = conv_layer(rng, x, step[1], step[2], target, negative_shifts=step[3] if len(step) > 3 else 0)
            layers.append(layer)
        elif step[0] == "relu":
            layers.append({"kind": RELU})
            x = np.maximum(x, 0)
        elif step[0] == "leaky":
            layers.append({"kind": LEAKY, "slope": step[1]})
            x = IntegerNet([layers[-1]], 0, 0)(x)
        else:
            layers.append({"kind": D2S, "block": step[1]})
            x = IntegerNet([layers[-1]], 0, 0)(x)
    return layers, x


def tiny_coding(name, config, rng):
    """Coding arrays of a tiny model: the real tables, random integer nets and gains."""
    coding = {}
    coding["gaussian/lookup"], coding["gaussian/offsets"] = (
        tables.tfc_gaussian_tables() if config.tfc_gaussian_coding else tables.gaussian_tables())
    widths = np.linspace(0.6, 4.0, config.hyper_channels)

    def pmf(support):
        # Discretised logistic densities of different widths and centres, per channel.
        centres = np.linspace(-1.5, 1.5, config.hyper_channels)
        edges = support[None, :] - centres[:, None]
        upper = 1 / (1 + np.exp(-(edges + 0.5) / widths[:, None]))
        lower = 1 / (1 + np.exp(-(edges - 0.5) / widths[:, None]))
        return upper - lower

    coding["factorized/lookup"], coding["factorized/offsets"] = tables.factorized_tables(pmf, config.hyper_channels)

    m, zc = config.latent_channels, config.hyper_channels
    outputs = 2 * m if config.predict_means else m
    h = config.hyper_filters
    z_probe = rng.integers(-6, 7, size=(1, 3, 4, zc))
    if config.layout == "tfcodec":
        plan = [("conv", h, 3), ("relu",), ("conv", 4 * h, 3), ("d2s", 2), ("relu",),
                ("conv", 4 * (h + h // 2), 3), ("d2s", 2), ("relu",), ("conv", outputs, 3)]
        z_exponent = 0
    else:
        # CompressAI's and TFC's h_s: two transposed convolutions (here already rewritten as
        # conv + depth-to-space) and a 3x3 conv, LeakyReLU (CompressAI's mean-scale) or ReLU
        # between; the net sees z_int * 2^8 + centre.
        coding["factorized/centres"] = IMPORT_CENTRES[:zc]
        coding["gaussian/thresholds"] = tables.scale_thresholds(config.linear_scales, config.tfc_gaussian_coding)
        first, second = (("leaky", 655), ("leaky", 13107)) if config.hyper_activation == "leaky_relu" \
            else (("relu",), ("relu",))
        plan = [("conv", 4 * h, 3), ("d2s", 2), first, ("conv", 4 * (h + h // 2), 3), ("d2s", 2),
                second, ("conv", outputs, 3)]
        z_exponent = PARAM_EXPONENT
        z_probe = z_probe * 2**z_exponent + coding["factorized/centres"]
    layers, features = build_net(rng, z_probe, plan, 500.0)
    if config.linear_scales:
        # Scales, not log-scales: push the scale half positive (about 0.1 to 20 at 2^-8), so the
        # linear thresholds pick rows all over the table.
        last = layers[-1]
        shift = last["shift"][m:]
        last["bias"][m:] += (2000 << np.maximum(shift, 0)) >> np.maximum(-shift, 0)
    coding.update(IntegerNet(layers, z_exponent, PARAM_EXPONENT).to_arrays("int/hyper_synthesis"))
    if config.channelwise:
        width = m // config.num_slices
        hidden = config.slice_hidden
        mean_feat = features[..., :m]
        for i in range(config.num_slices):
            context = np.concatenate([mean_feat] + [rng.integers(-2000, 2000, size=mean_feat.shape[:3] + (width,))
                                                    for _ in range(i)], axis=-1)
            for kind, target in (("mean", 600.0), ("scale", 500.0)):
                plan = [("conv", hidden[0], 3), ("relu",), ("conv", hidden[1], 3), ("relu",), ("conv", width, 3)]
                layers, _ = build_net(rng, context, plan, target)
                coding.update(IntegerNet(layers, PARAM_EXPONENT, PARAM_EXPONENT).to_arrays(f"int/{kind}_{i}"))
    levels = config.gain_levels
    coding["gains/log_gain"] = rng.normal(0, 0.7, size=(levels, m)).astype(np.float32)
    coding["gains/log_inverse_gain"] = (-coding["gains/log_gain"] + rng.normal(0, 0.05, size=(levels, m))
                                        ).astype(np.float32)
    return coding


def weights_hash_of(name):
    return hashlib.sha256(f"tfcodec java test model {name}".encode()).digest()[:8]


def manifest_of(name, config, coding_bytes, coding):
    """A manifest as python -m tfcodec.export writes it, without TFLite models."""
    return {
        "format": "tfcodec-edge", "version": 1,
        "model": name, "family": "hyperprior",
        "weights_hash": weights_hash_of(name).hex(),
        "weights_file": f"{name}.npz",
        "config": json.loads(config.to_json()),
        "mode": "int8", "quantization": "int8", "input_size": None,
        "models": {},
        "coding": {"file": "coding.npz", "sha256": hashlib.sha256(coding_bytes).hexdigest(),
                   "arrays": sorted(coding),
                   "note": "test model for the Java codec core: random integer nets, real tables"},
        "edgetpu_check": None, "edgetpu_compiler": None,
    }


def npz_bytes(arrays):
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


# -----------------------------------------------------------------------------
# Records
# -----------------------------------------------------------------------------
def net_records(w, name, coder, rng):
    """Integer-net outputs for random inputs (some beyond the activation limit)."""
    c = coder.config
    nets = [("int/hyper_synthesis", coder.hyper_synthesis, c.hyper_channels,
             6 * 2**coder.hyper_synthesis.input_exponent)]
    for i, net in enumerate(coder.mean_nets):
        cin = c.latent_channels + i * (c.latent_channels // c.num_slices)
        nets.append((f"int/mean_{i}", net, cin, 3000))
        nets.append((f"int/scale_{i}", coder.scale_nets[i], cin, 3000))
    for prefix, net, cin, spread in nets:
        for k, (h, w_) in enumerate(((1, 1), (2, 3), (5, 4))):
            x = rng.integers(-spread, spread + 1, size=(1, h, w_, cin))
            if k == 2:  # saturating inputs: the net clips them first
                x.flat[rng.integers(0, x.size, 5)] = rng.choice([-1, 1], 5) * rng.integers(
                    ACTIVATION_LIMIT, 2**31 - 1, 5)
            y = net(x)
            w.record("net", f"{name}:{prefix}:{k}", [
                ("model", name), ("prefix", prefix), ("shape", ints(x.shape[1:])), ("input", ints(x)),
                ("output_shape", ints(y.shape[1:])), ("output", ints(y))])


STRESS_SLOPE = 21845  # about 1/3 at 2^-16: (x * slope) >> 16 floors, unlike truncation, for x < 0


def stress_net(rng):
    """Odd kernels 1/3/5, left shifts, outputs that saturate, a 3x3 depth-to-space, a LeakyReLU."""
    x = rng.integers(-50000, 50000, size=(1, 4, 5, 7))
    plan = [("conv", 9, 5, 3), ("relu",), ("conv", 18, 1, 2), ("d2s", 3), ("leaky", STRESS_SLOPE),
            ("conv", 5, 3, 1)]
    layers, _ = build_net(rng, x, plan, 2.0**19)
    net = IntegerNet(layers, 0, 0)
    return {k: v for k, v in net.to_arrays("int/stress").items()}, net


def _floors_differ(net, x):
    """Whether x reaches the net's LeakyReLU with negative values whose product with the slope
    is no multiple of 2^16 (where floor and truncation toward zero part)."""
    k = next(i for i, layer in enumerate(net.layers) if layer["kind"] == LEAKY)
    before = IntegerNet(net.layers[:k], net.input_exponent, 0)(x)
    slope = net.layers[k]["slope"]
    return bool(np.any((before < 0) & ((before * slope) % 2**16 != 0)))


def z_rounded(coder, z):
    """z_int as the encoder rounds it: about the channels' bin centres."""
    centres = coder.z_centres / 2.0**coder.hyper_synthesis.input_exponent
    return np.rint(np.asarray(z, np.float64) - centres).astype(np.int64)


def stream_fields(name, coder, y, z, height, width, rate):
    header, strings, decoded = coder.encode(y, z, height, width, rate)
    data = container.pack(header, strings)
    # The decoder rebuilds exactly what the encoder kept.
    header2, strings2 = container.unpack(data)
    decoded2, mean_feat = coder.decode(header2, strings2)
    for a, b in zip(decoded, decoded2):
        assert np.array_equal(a, b)
    groups = 1 + coder.config.num_slices
    z_int = z_rounded(coder, z)
    fields = [("model", name), ("height", height), ("width", width), ("rate", rate),
              ("y_shape", ints(y.shape)), ("y", floats(y)), ("z_shape", ints(z.shape)), ("z", floats(z)),
              ("streams", len(strings) // groups), ("file", data.hex()), ("z_int", ints(z_int))]
    fields += [(f"slice", ints(d[0])) for d in decoded2]
    fields.append(("mean_features", ints(mean_feat[0]) if mean_feat is not None else "-"))
    return fields, data, header, strings


def _raw(coder, which):
    """The coder's padded lookup array (`z_table`/`gauss_table`; older versions kept it in *_lookup)."""
    table = getattr(coder, f"{which}_table", None)
    return np.asarray(table if table is not None else getattr(coder, f"{which}_lookup"))


def streams_margin(coder, y, z):
    """How far the encoder's stream-count decision is from flipping (relative)."""
    # Recompute the estimate exactly as LatentCoder.encode does.
    z_int = z_rounded(coder, z)
    z_values = (z_int + coder.z_offsets).transpose(2, 0, 1)
    z_index = np.broadcast_to(np.arange(z_values.shape[0])[:, None, None], z_values.shape)
    _, _, decoded = coder.encode(y, z, 64, 64, 0)
    mean_feat, scale_feat = coder.features(z_int[None])
    total = latent_coding._ideal_bytes(_raw(coder, "z"), z_index.ravel(), z_values.ravel())
    done = []
    for i, y_slice in enumerate(np.split(np.asarray(y, np.float64), coder.config.num_slices, axis=-1)):
        mean, log_scale = coder.slice_parameters(i, mean_feat, scale_feat, done)
        symbols = np.floor(y_slice - mean[0] / 2.0**PARAM_EXPONENT + 0.5).astype(np.int64)
        index = tables.scale_indices(log_scale[0], coder.thresholds)
        total += latent_coding._ideal_bytes(_raw(coder, "gauss"), index.ravel(),
                                            (symbols + coder.gauss_offsets[index]).ravel())
        done.append(decoded[i])
    estimate = total / (1 + coder.config.num_slices)
    ratio = estimate / latent_coding.BYTES_PER_STREAM
    # Decisions flip where ratio crosses a power of two.
    nearest = 2.0 ** np.round(np.log2(max(ratio, 1e-9)))
    return abs(ratio - nearest) / nearest


def make_latents(y_scale, rng, shape, coder):
    lh, lw = shape
    m = coder.config.latent_channels
    # Multiples of 1/64 (exact in float32 and in decimal), some large enough to escape.
    y = np.round(rng.normal(0, y_scale, size=(lh, lw, m)) * 64) / 64
    y.flat[rng.integers(0, y.size, 3)] = rng.choice([-1, 1], 3) * rng.integers(2000, 40000, 3)
    # Multiples of 1/8 with exact .5 ties (rint rounds them to even), a few outliers.
    z = np.round(rng.normal(0, 3, size=(lh // 4, lw // 4, _raw(coder, "z").shape[0])) * 8) / 8
    z.flat[:4] = [0.5, 1.5, -2.5, -0.5]
    z.flat[rng.integers(4, z.size, 2)] = [300.0, -77.0]
    centres = coder.z_centres / 2.0**coder.hyper_synthesis.input_exponent
    if np.any(centres):
        # Off-integer bin centres: z near them, and exact ties about them (z - centre = k + 0.5),
        # which round to even as about the integers.
        z = z + centres
        z.flat[:4] = np.array([0.5, 1.5, -2.5, -0.5]) + centres[:4]
    return y.astype(np.float32), z.astype(np.float32)


def constant_records(w):
    """The Python values of the constants Java copies, each from its defining module."""
    from tfcodec.edge.litert_backend import SUPPORTED_FORMAT
    from tfcodec.entropy import integer_net

    w.record("constants", "latent_coding", [
        (name.lower(), getattr(latent_coding, name))
        for name in ("STRIDE", "LATENT_STRIDE", "HYPER_STRIDE", "MAX_STREAMS", "BYTES_PER_STREAM", "RATE_SCALE")])
    w.record("constants", "integer_net", [
        (name.lower(), getattr(integer_net, name))
        for name in ("PARAM_EXPONENT", "ACTIVATION_BITS", "ACTIVATION_LIMIT", "SLOPE_EXPONENT")])
    w.record("constants", "edge_manifest", [("format", SUPPORTED_FORMAT[0]), ("version", SUPPORTED_FORMAT[1])])
    # What the manifest's config may leave out, as HyperpriorConfig fills it in.
    defaults = HyperpriorConfig("any", 1, 1, 1, 1)
    w.record("constants", "config_defaults", [("predict_means", str(defaults.predict_means).lower()),
                                              ("num_slices", defaults.num_slices),
                                              ("slice_nets", len(defaults.slice_hidden)),
                                              ("gain_levels", defaults.gain_levels),
                                              ("layout", defaults.layout)])


def build(write_to=None):
    """All files as {relative path: bytes or arrays}."""
    files = {}
    w = Writer(HEADER, "Latent coding of tiny hyperprior models: integer nets, scale tables, streams.")
    constant_records(w)
    w.record("thresholds", "gaussian", [("values", ints(tables.scale_thresholds())),
                                        ("precision", tables.PRECISION), ("levels", tables.SCALE_LEVELS)])
    logs = np.concatenate([np.arange(-700, 1500, 7), tables.scale_thresholds(), tables.scale_thresholds() + 1,
                           [-ACTIVATION_LIMIT, ACTIVATION_LIMIT, 0]])
    w.record("scales", "sweep", [("log_scale", ints(logs)), ("index", ints(tables.scale_indices(logs)))])
    linear = tables.scale_thresholds(linear=True)
    scales = np.concatenate([np.arange(-50, 70000, 97), linear, linear + 1, [-ACTIVATION_LIMIT, ACTIVATION_LIMIT, 0]])
    w.record("scales", "linear", [("thresholds", ints(linear)), ("scale", ints(scales)),
                                  ("index", ints(tables.scale_indices(scales, linear)))])

    coders = {}
    for k, (name, config) in enumerate(MODELS.items()):
        rng = np.random.default_rng(1000 + k)
        coding = tiny_coding(name, config, rng)
        data = npz_bytes(coding)
        files[f"{name}/coding.npz"] = (data, coding)
        manifest = manifest_of(name, config, data, coding)
        files[f"{name}/manifest.json"] = manifest
        plain = {key: v for key, v in coding.items() if not key.startswith("gains/")}
        coders[name] = LatentCoder(config, plain, name, weights_hash_of(name))
        for quality_rate in (0, 1, 437, 500, 999, 1000):
            from tfcodec.edge.codec import gain_vector
            for table in ("log_gain", "log_inverse_gain"):
                g = gain_vector(coding[f"gains/{table}"], quality_rate / latent_coding.RATE_SCALE)
                w.record("gain", f"{name}:{table}:{quality_rate}", [
                    ("model", name), ("table", table), ("rate", quality_rate),
                    ("bits", ints(np.asarray(g, np.float32).view(np.int32)))])

    stress_arrays, stress = stress_net(np.random.default_rng(7))
    files["stress/coding.npz"] = (npz_bytes(stress_arrays), stress_arrays)
    rng = np.random.default_rng(8)
    for k, (h, w_) in enumerate(((1, 1), (3, 2), (4, 5))):
        x = rng.integers(-60000, 60000, size=(1, h, w_, 7))
        y = stress(x)
        assert k < 2 or np.any(np.abs(y) == ACTIVATION_LIMIT), "the stress net should saturate"
        assert _floors_differ(stress, x), "the stress net's LeakyReLU should see values it floors"
        w.record("net", f"stress:{k}", [("model", "stress"), ("prefix", "int/stress"), ("shape", ints(x.shape[1:])),
                                        ("input", ints(x)), ("output_shape", ints(y.shape[1:])),
                                        ("output", ints(y))])

    for k, name in enumerate(MODELS):
        net_records(w, name, coders[name], np.random.default_rng(2000 + k))

    # Streams: image sizes that need padding, non-square latents, one and several streams per part.
    cases = [("tiny-cw", "small", 100, 150, 437, 1.5),
             ("tiny-cw", "wide", 64, 320, 1000, 0.3),
             ("tiny-cw", "many", 256, 256, 250, 60.0),
             ("tiny-mean", "small", 60, 40, 0, 0.3),
             ("tiny-mean", "many", 192, 256, 812, 40.0),
             ("tiny-scale", "small", 64, 64, 500, 1.0),
             ("tiny-scale", "many", 128, 384, 999, 50.0),
             ("tiny-import", "small", 80, 64, 1000, 1.0),
             ("tiny-import", "many", 192, 192, 0, 30.0),
             ("tiny-tfc", "small", 64, 96, 1000, 1.0),
             ("tiny-tfc", "many", 192, 256, 0, 30.0)]
    streams_seen = {}
    for k, (name, label, height, width, rate, y_scale) in enumerate(cases):
        coder = coders[name]
        rng = np.random.default_rng(3000 + k)
        lh = -(-height // 64) * 64 // 16
        lw = -(-width // 64) * 64 // 16
        y, z = make_latents(y_scale, rng, (lh, lw), coder)
        margin = streams_margin(coder, y, z)
        assert margin > 1e-6, f"{name} {label}: stream count too close to a decision boundary"
        fields, data, header, strings = stream_fields(name, coder, y, z, height, width, rate)
        streams_seen.setdefault(name, set()).add(dict(fields)["streams"])
        w.record("stream", f"{name}:{label}", fields)
        if label == "small":
            bad_records(w, name, coder, header, strings)
    shipped_record(w)
    for name, seen in streams_seen.items():
        assert len(seen) >= 2, f"{name}: cases should cover one and several streams per part, got {seen}"
    files["latents.txt"] = w.text()
    return files


SHIPPED = resolve(DEFAULT_MODEL)


def shipped_record(w):
    """A stream of the shipped model's real tables and nets (synthetic latents, numpy only).

    The Java test reads the bundle from the checkout (it is too large to copy into the test
    resources) and skips this record when the bundle's hash is not the one recorded here, i.e.
    after a retrain, until this script is run again.
    """
    from tfcodec.weights import load_bundle

    bundle = load_bundle(SHIPPED)
    config = HyperpriorConfig.from_dict(bundle.meta["config"])
    coder = LatentCoder(config, bundle.coding, bundle.model, bundle.hash)
    rng = np.random.default_rng(4000)
    y, z = make_latents(2.0, rng, (4, 8), coder)
    fields, _, _, _ = stream_fields(bundle.model, coder, y, z, 60, 128, 640)
    w.record("shipped", bundle.model, [("bundle", "tfcodec/weights/" + os.path.basename(SHIPPED)),
                                       ("hash", bundle.hash.hex())] + fields)


def bad_records(w, name, coder, header, strings):
    """Streams that LatentCoder.decode refuses, with Python's message."""
    groups = 1 + coder.config.num_slices
    other = container.Header(header.model_id, header.weights_hash, header.height, header.width, header.rate)
    cases = {
        "missing_string": (other, strings[:-1]),
        "three_streams": (other, [s for s in strings for _ in range(3)]),
        "no_strings": (other, []),
        "rate_over_1000": (container.Header(header.model_id, header.weights_hash, header.height, header.width,
                                            1001), strings),
        "other_weights": (container.Header(header.model_id, bytes(8), header.height, header.width,
                                           header.rate), strings),
        "other_model": (container.Header("tiny-other", header.weights_hash, header.height, header.width,
                                         header.rate), strings),
        "swapped_slices": (other, strings[:1] + strings[2:] + strings[1:2]) if groups > 2 else None,
        "other_size": (container.Header(header.model_id, header.weights_hash, header.height + 64,
                                        header.width, header.rate), strings),
    }
    # 64 streams per part: more than MAX_STREAMS.
    cases["too_many_streams"] = (other, [b""] * (64 * groups))
    for label, case in cases.items():
        if case is None:
            continue
        h, s = case
        data = container.pack(h, s)
        h2, s2 = container.unpack(data)
        try:
            decoded, _ = coder.decode(h2, s2)
            fields = [("verdict", "ok")] + [("slice", ints(d[0])) for d in decoded]
        except FormatError as e:
            fields = [("verdict", "error"), ("error", str(e))]
        w.record("bad", f"{name}:{label}", [("model", name), ("file", data.hex())] + fields)


# -----------------------------------------------------------------------------
# Writing and checking
# -----------------------------------------------------------------------------
def _same_arrays(path, arrays):
    try:
        with np.load(path, allow_pickle=False) as npz:
            if sorted(npz.files) != sorted(arrays):
                return False
            return all(npz[k].dtype == np.asarray(arrays[k]).dtype and np.array_equal(npz[k], arrays[k])
                       for k in arrays)
    except (OSError, ValueError):
        return False


def _manifest_matches(path, manifest, npz_path):
    try:
        with open(path) as f:
            old = json.load(f)
        with open(npz_path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
    except (OSError, ValueError):
        return False
    if old.get("coding", {}).get("sha256") != digest:
        return False
    strip = lambda m: dict(m, coding={k: v for k, v in m["coding"].items() if k != "sha256"})  # noqa: E731
    return strip(old) == strip(manifest)


def _without_shipped(text):
    """latents.txt without its `shipped` record (which follows the shipped bundle)."""
    start = text.find("\nshipped ")
    if start < 0:
        return text
    end = text.index("\nend\n", start) + len("\nend\n")
    return text[:start] + text[end:]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed files are out of date")
    args = parser.parse_args(argv)
    files = build()
    stale = []
    # npz files first: a manifest names its npz's digest.
    for rel in sorted(files, key=lambda r: (not r.endswith(".npz"), r)):
        path = os.path.join(OUT_DIR, rel)
        content = files[rel]
        if rel.endswith(".npz"):
            data, arrays = content
            if _same_arrays(path, arrays):
                continue
            stale.append(rel)
            if not args.check:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as f:
                    f.write(data)
        elif rel.endswith(".json"):
            npz_path = os.path.join(os.path.dirname(path), "coding.npz")
            if _manifest_matches(path, content, npz_path):
                continue
            stale.append(rel)
            if not args.check:
                with open(npz_path, "rb") as f:
                    content["coding"]["sha256"] = hashlib.sha256(f.read()).hexdigest()
                with open(path, "w") as f:
                    json.dump(content, f, indent=1, sort_keys=True)
                    f.write("\n")
        else:
            old = read_text(path)
            if old == content:
                continue
            if args.check and old is not None and _without_shipped(old) == _without_shipped(content):
                # Only the shipped model changed (retrained): ShippedModelTest skips until the
                # vectors are written again; nothing else is out of date.
                print(f"note: {rel}: the shipped-model record is stale (the bundle was retrained); "
                      "run python tools/make_java_latent_vectors.py to refresh it")
                continue
            stale.append(rel)
            if not args.check:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w") as f:
                    f.write(content)
    if args.check:
        if stale:
            print("out of date (run python tools/make_java_latent_vectors.py): " + ", ".join(stale))
            return 1
        print("latent vectors are up to date")
        return 0
    print(f"wrote {', '.join(stale) or 'nothing (all up to date)'} under {os.path.relpath(OUT_DIR, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
