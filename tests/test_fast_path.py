"""The default `compress`/`decompress` path: the shipped LiteRT float models, without TensorFlow.

Streams from the LiteRT and Keras backends decode on each other; the shipped
models are the shipped weights' (tfcodec.edge.exports); other hyperprior
weights are exported once into the cache and then found without TensorFlow.
Kodak-scale figures (sizes, PSNR, how often a latent moves) are
benchmarks/compare_backends.py's.
"""

import json
import os

import numpy as np
import pytest
from PIL import Image

from no_tensorflow import run_python
from tfcodec import cli, container
from tfcodec.api import DEFAULT_MODEL, backend_name, codec_for_stream, load_codec
from tfcodec.edge import exports
from tfcodec.errors import FormatError
from tfcodec.weights import load_bundle, resolve
from tiny_models import ramp_image, write_bundle

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def photo():
    """A 200x296 image with edges and texture (not a multiple of the stride: padding is exercised)."""
    rng = np.random.default_rng(3)
    image = ramp_image(200, 296, seed=5).astype(np.int16)
    image[60:140, 80:200] = 255 - image[60:140, 80:200]
    image += rng.integers(-12, 13, image.shape, dtype=np.int16)
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def codecs():
    return load_codec("default", backend="tf"), load_codec("default", backend="litert")


def test_the_shipped_litert_models_are_the_shipped_weights():
    folder = exports.shipped_folder(DEFAULT_MODEL)
    assert folder is not None
    with open(os.path.join(folder, "manifest.json")) as f:
        manifest = json.load(f)
    bundle = load_bundle(resolve(DEFAULT_MODEL))
    assert manifest["model"] == bundle.model and manifest["weights_hash"] == bundle.hash.hex()
    assert manifest["mode"] == "float32" and manifest["input_size"] is None  # any image size
    with np.load(os.path.join(folder, "coding.npz")) as coding:
        for name, array in bundle.coding.items():
            np.testing.assert_array_equal(coding[name], array, err_msg=name)
        for name in ("log_gain", "log_inverse_gain"):
            key = next(k for k in bundle.keras if k.endswith(f"gains/{name}"))
            np.testing.assert_array_equal(coding[f"gains/{name}"], bundle.keras[key].astype(np.float32))


def test_transforms_agree_with_keras(codecs, photo):
    tf_codec, lite = codecs
    y_tf, z_tf = tf_codec.analyse(photo, 0.5)
    y_lite, z_lite = lite.analyse(photo, 0.5)
    assert y_lite.shape == y_tf.shape and z_lite.shape == z_tf.shape
    assert np.max(np.abs(y_lite - y_tf)) < 1e-3 * max(1.0, float(np.max(np.abs(y_tf))))
    x_tf = tf_codec.backend.synthesise(np.asarray(y_tf), 0.5)
    x_lite = lite.backend.synthesise(np.asarray(y_tf), 0.5)  # the export clips to [0, 1], as to_uint8 does
    error = np.abs(x_lite - np.clip(x_tf, 0, 1))
    # Rounding, plus the export's inverse-GDN floor (rsqrt(max(n, 0.01)), docs/edge.md) where a
    # norm is near 0: measured 0.44 grey levels at most, 0.03 on average.
    assert np.max(error) < 1 / 255 and np.mean(error) < 0.1 / 255


@pytest.mark.parametrize("quality", [0.1, 0.8])
def test_streams_decode_on_either_backend(codecs, photo, quality):
    tf_codec, lite = codecs
    for encoder in codecs:
        data = encoder.compress(photo, quality)
        pixels = [codec.decompress(data).astype(int) for codec in codecs]
        assert np.max(np.abs(pixels[0] - pixels[1])) <= 1
    # This image's latents sit clear of rounding boundaries: both encoders write the same bytes.
    assert tf_codec.compress(photo, quality) == lite.compress(photo, quality)


def test_the_readme_commands_import_no_tensorflow(tmp_path):
    """The README's first line after a plain install: compress and decompress on the shipped
    default, with TensorFlow blocked as if not installed."""
    stream, png = tmp_path / "example.tfc", tmp_path / "example.png"
    for args in (["compress", os.path.join(ROOT, "docs", "example.png"), stream], ["decompress", stream, png]):
        proc = run_python(["-m", "tfcodec", *args], tmp_path / "site", block=True, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert "HEAVY-MODULES []" in proc.stdout and "litert" in proc.stdout
        assert proc.stderr == ""  # not even LiteRT's XNNPACK note
    original = np.asarray(Image.open(os.path.join(ROOT, "docs", "example.png")).convert("RGB"))
    assert np.asarray(Image.open(png)).shape == original.shape


def test_backend_tf_keeps_the_keras_path(tmp_path, capsys):
    image, stream = tmp_path / "in.png", tmp_path / "a.tfc"
    Image.fromarray(ramp_image(64, 80)).save(image)
    assert cli.main(["compress", str(image), str(stream), "--backend", "tf"]) == 0
    assert "cw2020-small-full-range, tf," in capsys.readouterr().out
    assert cli.main(["decompress", str(stream), str(tmp_path / "a.png")]) == 0
    assert "cw2020-small-full-range, litert," in capsys.readouterr().out
    without_tf = run_python(["-m", "tfcodec", "compress", image, stream, "--backend", "tf"], tmp_path / "site",
                            block=True)
    assert without_tf.returncode == 1
    assert without_tf.stderr.startswith("tfcodec compress: error: the hyperprior model cw2020-small-full-range "
                                        "on the tf backend needs TensorFlow, which is not installed"), \
        without_tf.stderr


def test_other_weights_are_exported_once_then_run_without_tensorflow(tmp_path, capsys):
    bundle = tmp_path / "tiny.npz"
    write_bundle("test-cw-tiny", bundle)
    image, stream = tmp_path / "in.png", tmp_path / "a.tfc"
    Image.fromarray(ramp_image(70, 90)).save(image)
    weights_hash = container.weights_hash(bundle.read_bytes())
    assert exports.cached_folder(weights_hash) is None
    # auto never exports: without a cached export, the Keras path
    assert cli.main(["compress", str(image), str(stream), "--model", str(bundle)]) == 0
    assert "test-cw-tiny, tf," in capsys.readouterr().out
    assert cli.main(["compress", str(image), str(stream), "--model", str(bundle), "--backend", "litert"]) == 0
    assert "exporting test-cw-tiny" in capsys.readouterr().out
    folder = exports.cached_folder(weights_hash)
    assert folder is not None and not [n for n in os.listdir(os.path.dirname(folder)) if n.startswith(".")]
    # From now on the stream's weights hash finds the export, in a process without TensorFlow.
    proc = run_python(["-m", "tfcodec", "decompress", stream, tmp_path / "a.png"], tmp_path / "site", block=True)
    assert proc.returncode == 0 and "HEAVY-MODULES []" in proc.stdout and "test-cw-tiny, litert" in proc.stdout, \
        proc.stderr
    keras_pixels = load_codec(str(bundle), backend="tf").decompress(stream.read_bytes()).astype(int)
    assert np.max(np.abs(np.asarray(Image.open(tmp_path / "a.png")).astype(int) - keras_pixels)) <= 1


def test_what_litert_cannot_run_is_refused_or_left_to_tf():
    with pytest.raises(FormatError, match="recurrent family has no edge export"):
        load_codec("rnn", backend="litert")
    assert backend_name(load_codec("rnn", backend="auto")) == "tf"
    with pytest.raises(FormatError, match="refinement needs gradients"):
        load_codec("default", 5, "litert")
    assert backend_name(load_codec("default", 5, "auto")) == "tf"
    with pytest.raises(FormatError, match="backend must be one of"):
        load_codec("default", backend="tflite")


def test_a_stream_of_other_weights_is_refused_on_litert(codecs, photo):
    data = bytearray(codecs[1].compress(photo, 0.3))
    header, strings = container.unpack(bytes(data))
    other = container.pack(container.Header(header.model_id, bytes(8), header.height, header.width, header.rate),
                           strings)
    with pytest.raises(FormatError, match="other weights"):
        codec_for_stream(other, backend="auto").decompress(other)
