"""Edge export and the TensorFlow-free edge runtime, on a tiny random channel-wise model.

What must hold whatever the weights: every stream decodes to the same latent
symbols on both runtimes (TF coder and LiteRT/numpy edge coder), whichever
encoded it; the edge runtime never imports TensorFlow; int8 models are integer
end to end; the Edge TPU check passes on our static export and names the op
when a model holds one the Edge TPU rejects. (Quality needs trained weights:
benchmarks/bench_edge.py.)
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from no_tensorflow import run_python

from tfcodec import FormatError, container
from tfcodec.models import HyperpriorConfig, register_model

pytest.importorskip("ai_edge_litert", reason="the edge runtime needs ai-edge-litert")

NAME = "test-edge-cw-tiny"
CONFIG = HyperpriorConfig("cw2020", 8, 16, 8, 8, num_slices=2, slice_hidden=(12,))
register_model(NAME, CONFIG)
STATIC = (128, 192)  # the Edge TPU export's input (height, width)
# A static size whose hyper-latent tile (20 latents) has room for its halo (8 each side):
# larger images go through this export in tiles.
TILED_STATIC = (320, 320)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _image(h, w, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (h + w)], axis=-1)
    return np.clip(base + rng.normal(0, 12, base.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A bundle on disk, a folder of 'training' images, and exports of it (float32, int8, static)."""
    import keras

    from tfcodec.codecs.hyperprior import build_coding_arrays
    from tfcodec.export.exporter import ExportOptions, export
    from tfcodec.fileio import write_image
    from tfcodec.models import build_model
    from tfcodec.weights import assign_keras_weights, keras_weights_of, save_bundle

    root = tmp_path_factory.mktemp("edge")
    keras.utils.set_random_seed(3)
    model = build_model(NAME)
    weights = keras_weights_of(model)
    assign_keras_weights(model, weights)
    coding = build_coding_arrays(model, [_image(64, 64, s).astype(np.float32) / 255 for s in range(2)])
    bundle = str(root / "tiny.npz")
    save_bundle(bundle, {"model": NAME, "family": "hyperprior", "config": json.loads(CONFIG.to_json())},
                weights, coding)
    train = root / "train"
    train.mkdir()
    for s in range(6):
        write_image(str(train / f"{s}.png"), _image(96, 128, seed=10 + s))
    f32 = str(root / "f32")
    export(bundle, f32, ExportOptions("float32"), progress=None)
    int8 = str(root / "int8")
    export(bundle, int8, ExportOptions("int8", calibration=str(train), calibration_images=4), progress=None)
    tpu = str(root / "tpu")
    export(bundle, tpu, ExportOptions("edgetpu", *STATIC, calibration=str(train), calibration_images=2),
           progress=None)
    tiles = str(root / "tpu-tiles")
    export(bundle, tiles, ExportOptions("edgetpu", *TILED_STATIC, calibration=str(train), calibration_images=2),
           progress=None)
    return {"root": root, "bundle": bundle, "train": str(train), "f32": f32, "int8": int8, "tpu": tpu, "tiles": tiles}


@pytest.fixture(scope="module")
def tf_coder(setup):
    from tfcodec.codecs.hyperprior import HyperpriorCodec
    from tfcodec.weights import load_bundle

    return HyperpriorCodec(load_bundle(setup["bundle"]))


def _edge(setup, which):
    from tfcodec.edge import EdgeCodec

    return EdgeCodec(setup[which], num_threads=1)


def _assert_same_latents(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def _manifest(folder):
    with open(os.path.join(folder, "manifest.json")) as f:
        return json.load(f)


def _tflite_files(folder):
    return sorted(os.path.join(folder, f) for f in os.listdir(folder) if f.endswith(".tflite"))


# -- the exported models ----------------------------------------------------------


def test_export_writes_manifest_models_and_coding(setup):
    from tfcodec.weights import load_bundle

    bundle = load_bundle(setup["bundle"])
    for which in ("int8", "tpu"):
        manifest = _manifest(setup[which])
        assert manifest["model"] == NAME and manifest["weights_hash"] == bundle.hash.hex()
        assert sorted(manifest["models"]) == ["analysis", "hyper_analysis", "lrp_0", "lrp_1", "synthesis"]
        for entry in manifest["models"].values():
            for tensor in entry["inputs"] + entry["outputs"]:
                assert tensor["dtype"] == "int8" and tensor["scale"] > 0 and "zero_point" in tensor
        # The analysis input is the pixel itself: scale 1/255, zero point -128.
        analysis_in = manifest["models"]["analysis"]["inputs"][0]
        assert analysis_in["zero_point"] == -128 and abs(analysis_in["scale"] * 255 - 1) < 1e-6
        with np.load(os.path.join(setup[which], "coding.npz")) as npz:
            assert sorted(npz.files) == manifest["coding"]["arrays"]
            for key, value in bundle.coding.items():
                np.testing.assert_array_equal(npz[key], value)
        assert os.path.exists(os.path.join(setup[which], "report.txt"))
    tpu = _manifest(setup["tpu"])
    assert tpu["input_size"] == {"height": STATIC[0], "width": STATIC[1]}
    assert tpu["models"]["analysis"]["inputs"][0]["shape_signature"] == [1, *STATIC, 3]
    int8 = _manifest(setup["int8"])
    assert int8["models"]["analysis"]["inputs"][0]["shape_signature"] == [1, -1, -1, 3]


def test_int8_models_are_integer_end_to_end(setup):
    from tfcodec.export.flatbuffer import float_operators, read_model

    for which in ("int8", "tpu"):
        files = _tflite_files(setup[which])
        assert len(files) == 5
        for path in files:
            info = read_model(path)
            assert [t.dtype for t in info.inputs + info.outputs] == ["INT8", "INT8"], path
            assert not float_operators(info), (path, [op.name for op in float_operators(info)])
            assert not [t for t in info.tensors if t.dtype.startswith("FLOAT")], path
            assert "DEQUANTIZE" not in info.op_counts() and "SQUARE" not in info.op_counts()


def test_ops_per_target(setup):
    """CPU int8: LOG/EXP/SQRT lookups and conv + DEPTH_TO_SPACE; Edge TPU: RSQRT and TRANSPOSE_CONV."""
    from tfcodec.export.flatbuffer import read_model

    cpu = read_model(os.path.join(setup["int8"], "analysis.tflite")).op_counts()
    assert {"LOG", "EXP"} <= set(cpu) and "RSQRT" not in cpu
    cpu = read_model(os.path.join(setup["int8"], "synthesis.tflite")).op_counts()
    assert cpu["DEPTH_TO_SPACE"] == 4 and "TRANSPOSE_CONV" not in cpu and "SQRT" in cpu
    tpu = read_model(os.path.join(setup["tpu"], "synthesis.tflite")).op_counts()
    assert tpu["TRANSPOSE_CONV"] == 4 and "RSQRT" in tpu and "DEPTH_TO_SPACE" not in tpu


@pytest.mark.parametrize("subpixel", [True, False])
def test_layer_rewrites_are_exact(subpixel):
    """conv + depth_to_space for a transposed convolution, and an input scale folded into the
    first layer: the same function as the Keras layers, in float."""
    import keras
    import tensorflow as tf

    from tfcodec.export.graphs import layer_rewrites, run_sequential

    first, second = (keras.layers.Conv2DTranspose(c, 5, strides=2, padding="same") for c in (4, 2))
    x = tf.random.stateless_normal((1, 6, 9, 3), (1, 2))
    seq = keras.Sequential([first, second])
    reference = seq(x).numpy()
    scale = np.array([0.5, 4.0, 0.03], np.float32)
    rewrites = layer_rewrites(seq, subpixel, input_scale=scale)
    assert sorted(rewrites) == ([0, 1] if subpixel else [0])
    rewritten = tf.function(lambda t: run_sequential(seq, t, rewrites=rewrites))(x * scale)
    np.testing.assert_allclose(rewritten.numpy(), reference, atol=1e-4)


@pytest.mark.parametrize("inverse", [False, True])
def test_gdn_forms_match_the_layer(inverse):
    """Both exported GDN forms compute the layer; the Edge TPU form's inverse floors the norm
    under its RSQRT, which only moves outputs whose norm is below the floor."""
    import tensorflow as tf

    from tfcodec.export.graphs import GDN_FORMS, INVERSE_GDN_FLOOR, _gdn
    from tfcodec.layers import GDN

    layer = GDN(inverse=inverse)
    x = tf.random.stateless_normal((1, 5, 7, 6), (3, 4))
    reference = layer(x).numpy()
    for form in GDN_FORMS:
        np.testing.assert_allclose(_gdn(layer, x, form).numpy(), reference, rtol=1e-5, atol=1e-6)
    layer.beta_stored.assign(np.full(6, 1e-3 ** 0.5, np.float32))   # beta = 1e-3 < the floor
    tiny = x * 1e-3
    norm = layer.beta.numpy() + np.einsum("nhwc,cd->nhwd", tiny.numpy() ** 2, layer.gamma.numpy())
    expected = layer(tiny).numpy()
    if inverse:
        expected = tiny.numpy() * norm / np.sqrt(np.maximum(norm, INVERSE_GDN_FLOOR))
    np.testing.assert_allclose(_gdn(layer, tiny, "rsqrt").numpy(), expected, rtol=1e-4, atol=1e-9)


@pytest.mark.parametrize("inverse", [False, True])
def test_simplified_gdn_forms_match_the_layer(inverse):
    """The simplified GDN (TFC's default, for imported models): x / (beta + gamma |x|) or
    times it, against a numpy reference, and both exported forms against the layer."""
    import tensorflow as tf

    from tfcodec.export.graphs import GDN_FORMS, _gdn
    from tfcodec.layers import GDN

    layer = GDN(inverse=inverse, simplified=True)
    x = tf.random.stateless_normal((1, 5, 7, 6), (3, 5))
    reference = layer(x).numpy()
    layer.gamma_stored.assign(layer.gamma_stored + 0.05)   # off-diagonal terms
    reference = layer(x).numpy()
    norm = layer.beta.numpy() + np.einsum("nhwc,cd->nhwd", np.abs(x.numpy()), layer.gamma.numpy())
    np.testing.assert_allclose(reference, x.numpy() * norm if inverse else x.numpy() / norm, rtol=1e-5)
    for form in GDN_FORMS:
        np.testing.assert_allclose(_gdn(layer, x, form).numpy(), reference, rtol=1e-5, atol=1e-6)


def _converter(function, shape, folder, layer=None):
    """A TFLite converter of function(layer(x)) (a fresh 3x3 convolution by default)."""
    import keras
    import tensorflow as tf

    layer = layer or keras.layers.Conv2D(4, 3, padding="same")
    if not layer.built:
        layer.build(shape)
    archive = keras.export.ExportArchive()
    archive.track(layer)
    archive.add_endpoint("serve", tf.function(lambda x: function(layer(x))),
                         input_signature=[tf.TensorSpec(shape, tf.float32)])
    archive.write_out(folder, verbose=False)
    return tf.lite.TFLiteConverter.from_saved_model(folder)


def _gdn_like(x):
    """An inverse GDN whose product feeds a convolution, as in the synthesis."""
    import tensorflow as tf

    rng = np.random.default_rng(5)
    gamma = tf.constant(np.abs(rng.normal(0, 0.1, (1, 1, 4, 4))).astype(np.float32))
    kernel = tf.constant(rng.normal(0, 0.5, (3, 3, 4, 4)).astype(np.float32))
    root = tf.sqrt(tf.nn.conv2d(x * x, gamma, 1, "VALID") + 0.5)
    return tf.nn.conv2d(x * root, kernel, 1, "SAME"), root


def test_int8_ranges_are_measured_not_taken_from_the_converter(tmp_path):
    """The converter's calibration gave a MUL operand (SQRT here) the product's range; ours
    gives it its own, and drops the tails (not at the model's input and output)."""
    import keras
    import tensorflow as tf

    from tfcodec.export.flatbuffer import read_model
    from tfcodec.export.graphs import activation_ranges, quantize_int8

    shape = (1, 16, 16, 3)
    rng = np.random.default_rng(0)
    samples = [rng.normal(0, 1, shape).astype(np.float32) for _ in range(4)]
    keras.utils.set_random_seed(1)
    layer = keras.layers.Conv2D(4, 3, padding="same")
    model = quantize_int8(_converter(lambda y: _gdn_like(y)[0], shape, str(tmp_path / "a"), layer), samples)
    roots = np.concatenate([_gdn_like(layer(x))[1].numpy().ravel() for x in samples])
    info = read_model(model)
    (sqrt,) = [op for op in info.operators if op.name == "SQRT"]
    out = sqrt.outputs[0]
    top = (127 - out.zero_point[0]) * out.scale[0]
    assert roots.max() * 0.9 < top < roots.max() * 1.1 and out.zero_point[0] == -128

    converter = _converter(lambda y: _gdn_like(y)[0], shape, str(tmp_path / "b"), layer)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x] for x in samples)
    converter._experimental_calibrate_only = True
    calibrated = converter.convert()
    exact, tail = activation_ranges(calibrated, samples, tail=0.0), activation_ranges(calibrated, samples, tail=0.01)
    graph = read_model(calibrated)
    io = {t.index for t in graph.inputs + graph.outputs}
    assert io <= set(exact)
    for i, (low, high) in exact.items():
        if i in io:
            assert tail[i] == (low, high)
        else:
            assert low <= tail[i][0] <= tail[i][1] <= high
    conv_in = np.concatenate([layer(x).numpy().ravel() for x in samples])
    first = graph.operators[0].outputs[0].index          # the first convolution's output
    assert graph.operators[0].name == "CONV_2D"
    k = int(0.01 * conv_in.size)
    assert np.isclose(tail[first][0], np.sort(conv_in)[k], rtol=1e-4, atol=1e-5)
    assert np.isclose(tail[first][1], np.sort(conv_in)[-1 - k], rtol=1e-4, atol=1e-5)


def test_compiler_log_is_parsed(tmp_path, monkeypatch):
    """run_compiler on a stand-in edgetpu_compiler printing the real compiler's log format."""
    from tfcodec.export import edgetpu

    fake = tmp_path / "bin" / "edgetpu_compiler"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\ncat <<'EOF'\nEdge TPU Compiler version 16.0.384591198\n\n"
                    "Model compiled successfully in 812 ms.\n\nInput model: a.tflite\nInput size: 1MiB\n"
                    "Output model: a_edgetpu.tflite\nNumber of Edge TPU subgraphs: 1\n"
                    "Total number of operations: 16\nOperation log: a_edgetpu.log\n"
                    "See the operation log file for individual operation details.\n\n"
                    "Input model: b.tflite\nTotal number of operations: 21\n"
                    "Number of operations that will run on Edge TPU: 17\n"
                    "Number of operations that will run on CPU: 4\nEOF\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent) + os.pathsep + os.environ.get("PATH", ""))
    result = edgetpu.run_compiler(["a.tflite", "b.tflite"], str(tmp_path))
    assert result["available"] and result["version"] == "16.0.384591198"
    assert result["models"]["a.tflite"] == {"total_ops": 16, "edgetpu_ops": 16, "cpu_ops": 0}
    assert result["models"]["b.tflite"] == {"total_ops": 21, "edgetpu_ops": 17, "cpu_ops": 4}
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert not edgetpu.run_compiler(["a.tflite"], str(tmp_path))["available"]


def test_edgetpu_check_passes_on_the_static_export(setup):
    from tfcodec.export.edgetpu import check_model

    manifest = _manifest(setup["tpu"])
    assert manifest["edgetpu_check"] and all(c["ok"] for c in manifest["edgetpu_check"].values())
    for path in _tflite_files(setup["tpu"]):
        result = check_model(path)
        assert result.ok, result.summary()
    # The CPU int8 export is not for the Edge TPU: the check says why.
    result = check_model(os.path.join(setup["int8"], "synthesis.tflite"))
    assert not result.ok and result.offending_ops() == ["DEPTH_TO_SPACE", "SQRT"]
    assert any("dynamic shape" in str(p) for p in result.problems)


def _convert_int8(function, shape, folder):
    """The converter's own int8 conversion (not ours), for ops we do not export."""
    import tensorflow as tf

    converter = _converter(function, shape, folder)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    rng = np.random.default_rng(0)
    converter.representative_dataset = lambda: ([rng.uniform(0, 1, shape).astype(np.float32)] for _ in range(4))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


def test_edgetpu_check_names_an_unsupported_op(setup):
    import tensorflow as tf

    from tfcodec.export.edgetpu import check_model

    root = setup["root"]
    leaky = _convert_int8(lambda x: tf.nn.leaky_relu(x, 0.1), (1, 16, 16, 3), str(root / "leaky"))
    result = check_model(leaky, "leaky.tflite")
    assert not result.ok and result.offending_ops() == ["LEAKY_RELU"]
    assert "LEAKY_RELU" in result.summary() and "not supported by the Edge TPU" in result.summary()
    # tf.square has no int8 kernel: it stays float between DEQUANTIZE/QUANTIZE (why our GDN export uses x*x).
    square = _convert_int8(lambda x: tf.square(x), (1, 16, 16, 3), str(root / "square"))
    result = check_model(square, "square.tflite")
    assert not result.ok and {"SQUARE", "DEQUANTIZE"} <= set(result.offending_ops())
    assert any("FLOAT32" in str(p) for p in result.problems)


# -- cross-runtime streams ----------------------------------------------------------


@pytest.mark.parametrize("which", ["int8", "tpu"])
def test_int8_encoder_transforms_follow_the_float_ones(setup, tf_coder, which):
    """The per-channel scales folded into the int8 models are undone by the exported gain
    tables (shifted by a constant per channel in the log domain): y * gain as in TF."""
    gains = tf_coder.model.gains
    with np.load(os.path.join(setup[which], "coding.npz")) as npz:
        for name, table in (("log_gain", gains.log_gain), ("log_inverse_gain", gains.log_inverse_gain)):
            shift = npz[f"gains/{name}"] - table.numpy()
            np.testing.assert_allclose(shift, np.broadcast_to(shift[:1], shift.shape), atol=1e-5)
    edge = _edge(setup, which)
    rgb = _image(*STATIC, seed=7)
    for quality in (0.0, 1.0):
        y_edge, _ = edge.analyse(rgb, quality)
        y_tf, _ = tf_coder.analyse(rgb, quality)
        assert np.sqrt(np.mean((y_edge - y_tf) ** 2) / np.mean(y_tf ** 2)) < 0.1


@pytest.mark.parametrize("which", ["int8", "tpu"])
def test_tf_stream_decodes_on_edge_to_identical_latents(setup, tf_coder, which):
    edge = _edge(setup, which)
    for size, quality in (((100, 150), 0.2), ((128, 192), 0.9), ((37, 70), 0.5)):
        rgb = _image(*size, seed=size[0])
        header, strings, encoded = tf_coder.encode_latents(rgb, quality)
        decoded, mean_feat = edge.decode_latents(header, strings)
        _assert_same_latents(decoded, encoded)
        tf_decoded, tf_mean = tf_coder.decode_latents(header, strings)
        _assert_same_latents(decoded, tf_decoded)
        np.testing.assert_array_equal(mean_feat, tf_mean)
        out = edge.decompress(container.pack(header, strings))
        assert out.shape == rgb.shape and out.dtype == np.uint8
        reference = tf_coder.decompress(container.pack(header, strings)).astype(np.float64)
        # Pixels come from the int8 decoder: close to the float one, not equal.
        assert np.mean(np.abs(out - reference)) < 8.0


@pytest.mark.parametrize("which", ["int8", "tpu"])
def test_edge_stream_decodes_on_tf_to_identical_latents(setup, tf_coder, which):
    edge = _edge(setup, which)
    for size, quality in (((100, 150), 0.0), ((64, 64), 0.7), ((128, 192), 1.0)):
        rgb = _image(*size, seed=size[1])
        header, strings, encoded = edge.encode_latents(rgb, quality)
        assert (header.model_id, header.weights_hash) == (tf_coder.name, tf_coder.bundle.hash)
        decoded, _ = tf_coder.decode_latents(header, strings)
        _assert_same_latents(decoded, encoded)
        _assert_same_latents(edge.decode_latents(header, strings)[0], encoded)


def test_static_export_codes_larger_images_in_tiles(setup, tf_coder):
    """An image larger than the Edge TPU export's input goes through it in tiles
    (`tfcodec.tiling`): its latents follow TF's whole-image ones as closely as one
    tile's do, the stream decodes to the same symbols on TF, and the tiled int8
    synthesis follows TF's."""
    edge = _edge(setup, "tiles")
    rgb = _image(430, 530, seed=11)
    y_edge, _ = edge.analyse(rgb, 0.5)
    y_tf, _ = tf_coder.analyse(rgb, 0.5)
    assert y_edge.shape == y_tf.shape == (28, 36, CONFIG.latent_channels)  # padded to 448x576
    assert np.sqrt(np.mean((y_edge - y_tf) ** 2) / np.mean(y_tf ** 2)) < 0.1
    header, strings, encoded = edge.encode_latents(rgb, 0.5)
    _assert_same_latents(tf_coder.decode_latents(header, strings)[0], encoded)
    data = container.pack(header, strings)
    out = edge.decompress(data).astype(np.float64)
    reference = tf_coder.decompress(data).astype(np.float64)
    assert out.shape == rgb.shape
    # 0.065 measured; 0.156 with the synthesis tiles' halo left out (seams).
    assert np.sqrt(np.mean((out - reference) ** 2) / np.var(reference)) < 0.1


def test_static_export_pads_narrower_images_by_reflection(setup, monkeypatch):
    """An image narrower or shorter than a static export's input reaches its
    analysis padded by reflection, latents by zeros. No padding reproduces the
    convolutions' own zero padding at the image's border, but reflection comes
    closest for a trained model: Kodak portraits through a 512x768 export
    lost 0.30 dB PSNR at q = 0.5 with it, 0.76 dB with edge replication
    (docs/edge.md). Random test weights show no such difference, so this
    checks what the models are given."""
    from tfcodec.codecs.latent_coding import STRIDE
    from tfcodec.edge.runtime import TFLiteModel
    from tfcodec.images import pad_image

    seen = {}
    call = TFLiteModel.__call__

    def spy(model, x):
        seen.setdefault(os.path.basename(model.path), x[0].copy())
        return call(model, x)

    monkeypatch.setattr(TFLiteModel, "__call__", spy)
    edge = _edge(setup, "tpu")
    rgb = _image(STATIC[0] - 64, STATIC[1] - 128, seed=21)  # 64 rows and 128 columns short
    edge.compress(rgb, 0.5)
    x = pad_image(rgb, STRIDE).astype(np.float32) / 255
    given = seen["analysis.tflite"]
    assert given.shape == (*STATIC, 3)
    np.testing.assert_array_equal(given, np.pad(x, ((0, 64), (0, 128), (0, 0)), mode="reflect"))
    latents = seen["hyper_analysis.tflite"]
    assert not latents[(STATIC[0] - 64) // 16:].any() and not latents[:, (STATIC[1] - 128) // 16:].any()


def test_tfcodec_decompress_cli_reads_edge_stream(setup):
    from tfcodec.cli import main
    from tfcodec.fileio import read_image

    edge = _edge(setup, "tpu")
    rgb = _image(90, 120, seed=4)
    stream = setup["root"] / "edge.tfc"
    stream.write_bytes(edge.compress(rgb, 0.4))
    out = setup["root"] / "edge-by-tf.png"
    assert main(["decompress", str(stream), str(out), "--model", setup["bundle"], "--quiet"]) == 0
    assert read_image(str(out)).shape == rgb.shape


def test_edge_cli_never_imports_tensorflow(setup, tf_coder):
    """compress on the static (TPU) export, decompress on the dynamic one: same weights, same format.

    `tfcodec edge` runs where TensorFlow is not installed, and `python -m tfcodec.edge`,
    where it is, leaves it unimported."""
    from tfcodec.fileio import read_image, write_image

    root = setup["root"]
    rgb = _image(120, 180, seed=8)
    write_image(str(root / "in.png"), rgb)

    def edge_cli(*args, block):
        proc = run_python(args, root / "site", block=block, cwd=str(root))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "HEAVY-MODULES []" in proc.stdout, proc.stdout

    edge_cli("-m", "tfcodec", "edge", "compress", "in.png", "out.tfc", "--models", setup["tpu"],
             "--quality", "0.6", "--threads", "1", block=True)
    edge_cli("-m", "tfcodec.edge", "decompress", "out.tfc", "out.png", "--models", setup["int8"], block=False)
    assert read_image(str(root / "out.png")).shape == rgb.shape
    data = (root / "out.tfc").read_bytes()
    header, strings = container.unpack(data)
    assert header.rate == 600
    _assert_same_latents(tf_coder.decode_latents(header, strings)[0],
                         _edge(setup, "int8").decode_latents(header, strings)[0])


# -- errors -------------------------------------------------------------------------


def test_static_export_too_small_to_tile_refuses_larger_images(setup):
    edge = _edge(setup, "tpu")
    with pytest.raises(FormatError, match="too small to tile.*--height/--width"):
        edge.compress(_image(130, 100), 0.5)


def test_edge_refuses_other_weights_and_tampered_models(setup, tmp_path):
    import shutil

    from tfcodec.codecs.latent_coding import LatentCoder

    edge = _edge(setup, "int8")
    data = edge.compress(_image(64, 64), 0.5)
    header, strings = container.unpack(data)
    other = container.pack(container.Header(header.model_id, b"\0" * 8, header.height, header.width,
                                            header.rate), strings)
    with pytest.raises(FormatError, match="other weights"):
        edge.decompress(other)
    assert isinstance(edge.latents, LatentCoder)  # the shared coder, not a copy
    copy = tmp_path / "copy"
    shutil.copytree(setup["int8"], copy)
    with open(copy / "synthesis.tflite", "r+b") as f:
        f.seek(-8, os.SEEK_END)
        f.write(b"\x01" * 8)
    from tfcodec.edge import EdgeCodec

    with pytest.raises(FormatError, match="does not match its manifest"):
        EdgeCodec(str(copy)).decompress(data)


def test_edge_cli_asks_for_the_export_folder_of_another_models_stream(setup, tmp_path, capsys):
    """The edge CLI picks models with --models DIR: its hint must not be the TF CLI's --model."""
    from tfcodec.cli import main

    header, strings = container.unpack(_edge(setup, "int8").compress(_image(64, 64), 0.5))
    stream = tmp_path / "other.tfc"
    stream.write_bytes(container.pack(container.Header("cw2020-small", header.weights_hash, header.height,
                                                       header.width, header.rate), strings))
    out = tmp_path / "out.png"
    assert main(["edge", "decompress", str(stream), str(out), "--models", setup["int8"]]) == 1
    err = capsys.readouterr().err
    assert f"made by model 'cw2020-small', not '{NAME}'" in err
    assert "--models DIR, DIR the export folder of model cw2020-small" in err
    assert "--model " not in err
    assert not out.exists()


def test_calibration_refuses_evaluation_images(tmp_path):
    from tfcodec.images import calibration_crops

    kodak = tmp_path / "kodak"
    kodak.mkdir()
    with pytest.raises(FormatError, match="training images only"):
        calibration_crops(str(kodak), 2)


def test_edge_codec_is_the_pipeline_on_the_litert_backend(setup, tf_coder):
    """One pipeline, two backends: the same codec class and latent coder, and the
    numpy gains the LiteRT backend applies are the Keras model's QualityGains."""
    import tensorflow as tf

    from tfcodec.codecs.hyperprior import HyperpriorCodec
    from tfcodec.edge import gain_vector

    edge = _edge(setup, "f32")
    assert isinstance(edge, HyperpriorCodec) and type(edge.latents) is type(tf_coder.latents)
    assert (edge.name, edge.identity, edge.rate_settings) == (tf_coder.name, tf_coder.identity,
                                                             tf_coder.rate_settings)
    gains = tf_coder.model.gains
    for quality in (0.0, 0.1, 0.437, 0.5, 0.999, 1.0):
        gain, inverse = gains(tf.constant([quality]))
        np.testing.assert_allclose(gain_vector(gains.log_gain.numpy(), quality), gain.numpy()[0], rtol=1e-6)
        np.testing.assert_allclose(gain_vector(gains.log_inverse_gain.numpy(), quality), inverse.numpy()[0],
                                   rtol=1e-6)
    # A float32 export runs the model's own transforms: pixels follow TF's closely.
    rgb = _image(96, 128, seed=2)
    data = tf_coder.compress(rgb, 0.6)
    assert np.abs(edge.decompress(data).astype(int) - tf_coder.decompress(data)).max() <= 2


def test_export_help_is_fast_and_clear():
    proc = subprocess.run([sys.executable, "-m", "tfcodec.export", "--help"], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, check=False)
    assert proc.returncode == 0
    for flag in ("--edgetpu", "--int8", "--float16", "--height", "--calibration", "--weights"):
        assert flag in proc.stdout
