"""CompressAI models imported into tfcodec compute what CompressAI computes.

Golden vectors: `tools/make_compressai_vectors.py`, run in its own venv with
compressai 1.2.8 and torch (never a dependency of tfcodec), writes random
models with non-trivial parameters (GDN away from its initial values, the
entropy bottleneck's medians off the integers) as CompressAI saves them, and
what CompressAI computes on tests/data/golden_image.png (edge-padded to
192x128). These tests import the checkpoints without torch and compare.
"""

import os

import numpy as np
import pytest
import tensorflow as tf

from tfcodec import api, container
from tfcodec.errors import FormatError
from tfcodec.evaluate.metrics import psnr
from tfcodec.importers import torch_checkpoint
from tfcodec.importers.bundle import save_imported
from tfcodec.importers.compressai import model_from_state_dict

DATA = os.path.join(os.path.dirname(__file__), "data", "compressai")
ARCHS = ("bmshj2018-hyperprior", "mbt2018-mean")
HEIGHT, WIDTH = 120, 176   # the golden image, before CompressAI's padding to 128x192


def _golden(arch):
    with np.load(os.path.join(DATA, f"{arch}.npz")) as npz:
        golden = {k: npz[k] for k in npz.files}
    golden["x"] = golden["x_uint8"].astype(np.float32) / np.float32(255)
    return golden


def _imported(arch, name=None):
    state = torch_checkpoint.state_dict(torch_checkpoint.load(os.path.join(DATA, name or f"{arch}.pth.tar")))
    return model_from_state_dict(state, arch, quality=3)


def _close(actual, expected, what):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    scale = max(float(np.max(np.abs(expected))), 1e-6)
    error = float(np.max(np.abs(actual - expected))) / scale
    assert error < 2e-5, f"{what}: max error {error:.2e} of its range"


@pytest.mark.parametrize("arch", ARCHS)
def test_transforms_compute_compressai_model(arch):
    golden = _golden(arch)
    _, model = _imported(arch)
    x = tf.constant(golden["x"])
    y = model.analysis(x)
    _close(y, golden["y"], "analysis (g_a)")
    _close(model.hyper_analysis(tf.constant(golden["y"])), golden["z"], "hyper-analysis (h_a)")
    _close(model.quantise_z(tf.constant(golden["z"])), golden["z_hat"], "z quantised about the medians")
    mean_features, scale_features = model.split_features(model.hyper_synthesis(tf.constant(golden["z_hat"])))
    _close(scale_features, golden["scales_hat"], "scales (h_s)")
    if "means_hat" in golden:
        _close(mean_features, golden["means_hat"], "means (h_s)")
    _close(model.synthesis(tf.constant(golden["y_hat"])), golden["x_hat"], "synthesis (g_s)")


@pytest.mark.parametrize("arch", ARCHS)
def test_likelihoods_match(arch):
    """The rate the Keras model estimates (eval mode) is CompressAI's."""
    golden = _golden(arch)
    _, model = _imported(arch)
    out = model.forward(tf.constant(golden["x"]), tf.ones((1,)), training=False)
    bits = float(out["y_bits"][0] + out["z_bits"][0])
    assert bits == pytest.approx(float(golden["likelihood_bits"]), rel=1e-3)


@pytest.mark.parametrize("arch", ARCHS)
def test_stream_decodes_like_compressai(arch, tmp_path):
    """A tfcodec file of the imported model decodes within 0.1 dB of CompressAI's own
    decompress output, and its payload is at most 2 % above CompressAI's strings (here it
    is 1-3 % below: tfcodec's tables and range coder; benchmarks/compare_compressai.py
    measures both on photos)."""
    golden = _golden(arch)
    _, model = _imported(arch)
    save_imported(model, "compressai-test", str(tmp_path / "m.npz"), {"from": "compressai"})
    codec = api.load_codec(str(tmp_path / "m.npz"))
    original = golden["x_uint8"][0, :HEIGHT, :WIDTH]
    data = codec.compress(original)
    decoded = codec.decompress(data)
    theirs = golden["x_decompressed"][0, :HEIGHT, :WIDTH]
    assert abs(psnr(original, decoded) - psnr(original, theirs)) < 0.1
    _, strings = container.unpack(data)
    payload = sum(len(s) for s in strings)
    assert -0.05 < payload / int(golden["stream_bytes"]) - 1 < 0.02, (payload, int(golden["stream_bytes"]))


def test_checkpoint_formats_import_alike():
    """The legacy torch format and the training example's checkpoint give the same model."""
    _, a = _imported("bmshj2018-hyperprior")
    _, b = _imported("bmshj2018-hyperprior", "bmshj2018-hyperprior-legacy.pth.tar")
    for u, v in zip(a.weights, b.weights):
        np.testing.assert_array_equal(u.numpy(), v.numpy())
    name, _ = _imported("mbt2018-mean", "mbt2018-mean-checkpoint.pth.tar")
    assert name.startswith("compressai-mbt2018-mean-q3")


def test_wrong_architecture_is_refused():
    state = torch_checkpoint.state_dict(torch_checkpoint.load(os.path.join(DATA, "mbt2018-mean.pth.tar")))
    with pytest.raises(FormatError, match="shape|not a CompressAI"):
        model_from_state_dict(state, "bmshj2018-hyperprior", 3)
    with pytest.raises(FormatError, match="qualities are 1 to 8"):
        model_from_state_dict(state, "mbt2018-mean", 9)
    with pytest.raises(FormatError, match="not a CompressAI"):
        model_from_state_dict({"conv.weight": np.zeros((1, 1, 1, 1))}, "mbt2018-mean", 3)


def test_a_user_imports_then_codes_exports_and_decodes_on_the_edge(tmp_path, capsys):
    """`tfcodec import-weights`, then compress, decompress, `tfcodec export --int8` and the
    edge runtime decoding the TF stream: the whole path a CompressAI user takes."""
    from PIL import Image

    from tfcodec import cli

    bundle, image = tmp_path / "mbt-q3.npz", tmp_path / "in.png"
    Image.fromarray(_golden("mbt2018-mean")["x_uint8"][0]).save(image)
    assert cli.main(["import-weights", "--from", "compressai", "--arch", "mbt2018-mean", "--quality", "3",
                     os.path.join(DATA, "mbt2018-mean-checkpoint.pth.tar"), "--out", str(bundle)]) == 0
    assert "model compressai-mbt2018-mean-q3-n16-m24" in capsys.readouterr().out
    stream = tmp_path / "a.tfc"
    assert cli.main(["compress", str(image), str(stream), "--model", str(bundle)]) == 0
    assert cli.main(["decompress", str(stream), str(tmp_path / "tf.png"), "--model", str(bundle)]) == 0
    calibration = tmp_path / "calibration"
    calibration.mkdir()
    for i in range(2):
        Image.fromarray(np.roll(_golden("mbt2018-mean")["x_uint8"][0], 40 * i, axis=1)).save(calibration / f"{i}.png")
    export = tmp_path / "edge"
    assert cli.main(["export", "--weights", str(bundle), "--out", str(export), "--int8", "--quiet",
                     "--calibration", str(calibration), "--calibration-images", "2"]) == 0
    assert cli.main(["edge", "decompress", "--models", str(export), str(stream), str(tmp_path / "edge.png")]) == 0
    tf_png = np.asarray(Image.open(tmp_path / "tf.png"), np.float64)
    edge_png = np.asarray(Image.open(tmp_path / "edge.png"), np.float64)
    original = np.asarray(Image.open(image), np.float64)
    # The int8 synthesis costs some quality; the stream (the latents) is the same.
    assert psnr(original, edge_png) > psnr(original, tf_png) - 3.0


def test_import_errors_are_one_line(tmp_path, capsys):
    from tfcodec import cli

    png = tmp_path / "in.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    assert cli.main(["import-weights", "--from", "compressai", "--arch", "mbt2018-mean", "--quality", "3",
                     str(png), "--out", str(tmp_path / "x.npz")]) == 1
    err = capsys.readouterr().err
    assert "is not a PyTorch checkpoint" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert cli.main(["import-weights", "--from", "compressai", os.path.join(DATA, "mbt2018-mean.pth.tar"),
                     "--out", str(tmp_path / "x.npz")]) == 1
    assert "needs --arch and --quality" in capsys.readouterr().err
    assert not (tmp_path / "x.npz").exists()
