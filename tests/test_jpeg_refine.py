"""The JPEG refiner (`jpeg-refine`): the JPEG header reader, the training examples, the model,
training through the shared loop, `tfcodec enhance`, the `jpeg+refine` evaluation codec, the
int8 export, and the shipped weights.

Images are generated here (never /work/shared). A tiny refiner registered here trains in
seconds; the shipped one is checked on a synthetic photo-like image.
"""

import dataclasses
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from no_tensorflow import run_python
from test_training import write_images
from tfcodec.codecs.jpeg_refine import GEOMETRY, decode_jpeg
from tfcodec.errors import FormatError
from tfcodec.jpegfile import conditioning, ijg_tables, read_header, table_features
from tfcodec.models import build_model, register_model
from tfcodec.models.config import JpegRefineConfig
from tfcodec.models.jpeg_refine import phase_planes
from tfcodec.tiling import run_tiled
from tfcodec.train import jpeg_degrade, loop
from tiny_models import ramp_image

TINY = "jpeg-refine-tiny"
TINY_CONFIG = JpegRefineConfig(filters=8, trunk_blocks=1, coarse_blocks=1, iterations=2,
                               quality_min=10, quality_max=20)
register_model(TINY, TINY_CONFIG)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def jpeg_bytes(rgb, quality=30, **options):
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality, **options)
    return buffer.getvalue()


def photo(h=96, w=128, seed=0):
    """Smooth shapes and gradients with a little noise: what blocking shows on."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.stack([100 + 80 * np.sin(xx / 23 + seed), 60 + yy * 150 / h,
                     128 + 100 * np.cos((xx + 2 * yy) / 31)], -1)
    disc = ((yy - h / 2) ** 2 + (xx - w / 3) ** 2) < (min(h, w) / 4) ** 2
    base[disc] = [220, 180, 40]
    return np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- header


@pytest.mark.parametrize("quality", [1, 5, 10, 25, 50, 75, 90, 100])
@pytest.mark.parametrize("subsampling,label", [(0, "4:4:4"), (1, "4:2:2"), (2, "4:2:0")])
def test_header_tables_and_chroma_are_what_libjpeg_wrote(quality, subsampling, label):
    header = read_header(jpeg_bytes(ramp_image(40, 56), quality, subsampling=subsampling))
    luma, chroma = ijg_tables(quality)
    assert (header.luma_table == luma).all() and (header.chroma_table == chroma).all()
    assert header.chroma_label == label and (header.width, header.height) == (56, 40)
    assert not header.progressive


def test_progressive_jpeg_is_read_and_decodes_like_the_baseline_one():
    rgb = ramp_image(48, 64)
    baseline, progressive = jpeg_bytes(rgb, 40), jpeg_bytes(rgb, 40, progressive=True)
    assert read_header(progressive).progressive
    assert (decode_jpeg(progressive)[0] == decode_jpeg(baseline)[0]).all()


@pytest.mark.parametrize("make,message", [
    (lambda: b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "not a JPEG file"),
    (lambda: b"", "not a JPEG file"),
    (lambda: jpeg_bytes(ramp_image(32, 32))[:30], "truncated"),
    (lambda: jpeg_bytes(ramp_image(32, 32)[..., 0]), "grayscale JPEG is not supported"),
    (lambda: _cmyk_jpeg(), "4-component JPEG"),
])
def test_what_the_refiner_cannot_take_is_refused_in_one_line(make, message):
    with pytest.raises(FormatError, match=message) as error:
        decode_jpeg(make(), "in.jpg")
    assert "\n" not in str(error.value) and str(error.value).startswith("in.jpg: ")


def _cmyk_jpeg():
    buffer = io.BytesIO()
    Image.fromarray(ramp_image(32, 32)).convert("CMYK").save(buffer, "JPEG")
    return buffer.getvalue()


def test_a_huge_claimed_size_is_refused_before_decoding():
    data = bytearray(jpeg_bytes(ramp_image(16, 16)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = (60000).to_bytes(2, "big") * 2  # height, width
    with pytest.raises(FormatError, match="60000x60000 is too large"):
        decode_jpeg(bytes(data), "huge.jpg")


def test_truncated_image_data_is_refused():
    data = jpeg_bytes(photo(), 50)
    with pytest.raises(FormatError, match="cannot be decoded"):
        decode_jpeg(data[:len(data) // 2], "cut.jpg")


def test_conditioning_scales_steps_logarithmically_and_flags_subsampling():
    luma, chroma = ijg_tables(50)
    features = table_features(luma, chroma, (2, 2))
    assert features.shape == (130,) and features[-2:].tolist() == [1.0, 1.0]
    assert features[0] == pytest.approx(np.log2(16) / 8)
    assert (table_features(np.ones(64), np.full(64, 256), (1, 1))[:128] == [0.0] * 64 + [1.0] * 64).all()


# ----------------------------------------------------------------------------- training examples


def test_training_decoder_is_the_inference_decoder():
    """libjpeg through TensorFlow (training) and through Pillow (inference) give the same pixels,
    and the conditioning the pipeline attaches is the one read from the bytes it made."""
    rgb = photo(80, 112)
    for branch in range(2 * (TINY_CONFIG.quality_max - TINY_CONFIG.quality_min + 1)):
        decoded, size = jpeg_degrade.degrade(tf.constant(rgb), branch, TINY_CONFIG)
        quality = TINY_CONFIG.quality_min + branch // 2
        encoded = tf.io.encode_jpeg(rgb, quality=quality, chroma_downsampling=branch % 2 == 0).numpy()
        pixels, header = decode_jpeg(encoded)
        assert int(size) == len(encoded)
        assert (decoded.numpy() == pixels).all()
        table = jpeg_degrade._conditioning_table(TINY_CONFIG)
        assert np.array_equal(table[branch], conditioning(header))


def test_training_examples_are_keyed_crops_at_even_phases():
    make = jpeg_degrade.make_example_fn(TINY_CONFIG)
    image = tf.constant(photo(200, 160))
    first = make(image, tf.constant([3, 7], tf.int64), 64)
    again = make(image, tf.constant([3, 7], tf.int64), 64)
    assert first["image"].shape == first["jpeg"].shape == (64, 64, 3)
    assert all(np.array_equal(first[k].numpy(), again[k].numpy()) for k in first)
    phases = {tuple(make(image, tf.constant([3, i], tf.int64), 64)["phase"].numpy()) for i in range(24)}
    assert len(phases) > 4 and all(p % 2 == 0 and 0 <= p < 16 for phase in phases for p in phase)
    assert not np.array_equal(first["image"].numpy(), first["jpeg"].numpy())


def test_phase_planes_follow_the_grid():
    planes = phase_planes(8, 8, tf.constant([[0, 0], [4, 6]])).numpy()
    # an MCU (period 8 at half resolution) later, the planes repeat; a shifted grid shifts them
    assert np.allclose(phase_planes(16, 16, tf.zeros((1, 2), tf.int32)).numpy()[0, 8:, 8:], planes[0], atol=1e-5)
    assert np.allclose(planes[1], np.roll(planes[0], (-2, -3), axis=(0, 1)), atol=1e-5)


# ----------------------------------------------------------------------------- model


def test_the_untrained_model_returns_the_jpeg():
    model = build_model(TINY)
    jpeg = tf.random.uniform((1, 32, 48, 3))
    estimates = model.run({"jpeg": jpeg, "conditioning": tf.zeros((1, 130)), "phase": tf.zeros((1, 2), tf.int32)})
    assert len(estimates) == 2 and all(np.array_equal(e.numpy(), jpeg.numpy()) for e in estimates)


def _randomised(name):
    """A model whose every weight is random (the correction layer is zero when fresh)."""
    model = build_model(name)
    rng = np.random.default_rng(1)
    for variable in model.weights:
        variable.assign(rng.normal(0, 0.2, variable.shape).astype(np.float32))
    return model


def test_tiles_give_the_whole_image():
    """The halo covers the network's reach: a tiled run is the whole run (the shipped size)."""
    model = _randomised("jpeg-refine-small")

    class Bare:
        def run(self, image, cond, k):
            out = model.run({"jpeg": image[None], "conditioning": cond[None],
                             "phase": tf.zeros((1, 2), tf.int32)}, k)[-1]
            return out.numpy()[0]

    image = np.random.default_rng(0).uniform(size=(160, 320, 3)).astype(np.float32)
    cond = np.full(130, 0.5, np.float32)
    whole = Bare().run(image, cond, 3)
    tiled = run_tiled(lambda tile: Bare().run(tile, cond, 3), image, (160, 160), GEOMETRY)
    # float32 sums in another order (random weights make outputs of ~30): 1e-4 of the range
    assert np.abs(tiled - whole).max() < 1e-4 * np.abs(whole).max()
    # and the test can tell: half the halo is visibly short of the reach
    short = dataclasses.replace(GEOMETRY, halo=GEOMETRY.halo // 2)
    assert np.abs(run_tiled(lambda tile: Bare().run(tile, cond, 3), image, (160, 160), short) - whole).max() > 0.1


# ----------------------------------------------------------------------------- training and use


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny refiner trained 4 steps through `tfcodec train`'s loop, exported to a bundle."""
    from tfcodec.train.export_weights import export_from_checkpoint

    root = tmp_path_factory.mktemp("refine")
    images = write_images(str(root / "photos"))
    config = loop.TrainConfig(model=TINY, data=images, workdir=str(root / "run"), steps=4, batch=2, patch=64,
                              checkpoint_every=2, log_every=2, image_every=2, validation=images,
                              validation_images=2, validation_size=192, validate_every=4,
                              data_dir=str(root / "tfds"), learning_rate=1e-3)
    losses = {}
    assert loop.train(config, progress=False, on_step=lambda s, m: losses.setdefault(s, m)) == 4
    bundle = str(root / "tiny.npz")
    assert export_from_checkpoint(config.workdir, bundle, images, count=4) == 4
    return {"root": root, "images": images, "bundle": bundle, "losses": losses, "workdir": config.workdir}


def test_training_logs_the_jpeg_rate_and_validates(trained):
    losses = trained["losses"]
    assert sorted(losses) == [1, 2, 3, 4]
    # "bpp" is the JPEG's own rate: libjpeg at quality 10-20 on these crops
    assert all(0.2 < m["bpp"] < 6 and np.isfinite(m["loss"]) for m in losses.values())
    logs = os.listdir(os.path.join(trained["workdir"], "logs"))
    assert logs


def test_bundle_records_the_best_step_count(trained):
    from tfcodec.weights import load_bundle

    meta = load_bundle(trained["bundle"]).meta
    errors = meta["calibration_mse_per_iteration"]
    assert meta["family"] == "jpeg-refine" and len(errors) == 2
    assert meta["best_iterations"] == int(np.argmin(errors)) + 1


def test_enhance_command_writes_a_png_and_keeps_the_jpeg(trained, tmp_path):
    source = tmp_path / "in.jpg"
    source.write_bytes(jpeg_bytes(photo(70, 90), 15))
    before = source.read_bytes()
    out = tmp_path / "out.png"
    result = _cli("enhance", source, out, "--model", trained["bundle"], "--iterations", "2")
    assert result.returncode == 0, result.stderr
    assert "2 steps" in result.stdout
    assert np.asarray(Image.open(out)).shape == (70, 90, 3)
    assert source.read_bytes() == before


@pytest.mark.parametrize("setup,message", [
    (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 32), "not a JPEG file"),
    (lambda p: p.write_bytes(jpeg_bytes(ramp_image(32, 32)[..., 0])), "grayscale JPEG is not supported"),
    (lambda p: None, "cannot read"),
])
def test_enhance_refuses_bad_input_in_one_line(trained, tmp_path, setup, message):
    source = tmp_path / "in.jpg"
    setup(source)
    result = _cli("enhance", source, tmp_path / "out.png", "--model", trained["bundle"])
    assert result.returncode != 0
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.png").exists()


def test_enhance_never_overwrites_its_input_and_checks_iterations(trained, tmp_path):
    source = tmp_path / "in.jpg"
    source.write_bytes(jpeg_bytes(photo(40, 40), 20))
    before = source.read_bytes()
    same = _cli("enhance", source, source, "--model", trained["bundle"])
    assert same.returncode != 0 and "refusing to overwrite" in same.stderr
    assert source.read_bytes() == before
    too_many = _cli("enhance", source, tmp_path / "o.png", "--model", trained["bundle"], "--iterations", "3")
    assert too_many.returncode != 0 and "--iterations must be in 1..2" in too_many.stderr


def test_enhance_turns_the_output_upright(trained, tmp_path):
    rgb = photo(32, 48)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    source = tmp_path / "rotated.jpg"
    source.write_bytes(jpeg_bytes(rgb, 30, exif=exif.tobytes()))
    assert _cli("enhance", source, tmp_path / "o.png", "--model", trained["bundle"]).returncode == 0
    assert np.asarray(Image.open(tmp_path / "o.png")).shape == (48, 32, 3)


def test_a_refiner_is_not_a_stream_codec(trained, tmp_path):
    source = tmp_path / "in.png"
    Image.fromarray(photo(32, 32)).save(source)
    result = _cli("compress", source, tmp_path / "o.tfc", "--model", trained["bundle"])
    assert result.returncode != 0 and "tfcodec enhance" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_evaluation_codec_keeps_the_jpeg_rate(trained):
    from tfcodec.evaluate.classical import get_classical
    from tfcodec.evaluate.runner import EvalError, resolve_codec

    entry = resolve_codec(f"jpeg+refine:{trained['bundle']}@1")
    rgb = photo(64, 80)
    data = entry.codec.compress(rgb, 20)
    assert data == get_classical("jpeg").compress(rgb, 20)
    decoded = entry.codec.decompress(data)
    assert decoded.shape == rgb.shape and decoded.dtype == np.uint8
    assert "steps 1" in entry.identity and entry.kind == "hybrid"
    with pytest.raises(EvalError, match="@K"):
        resolve_codec("jpeg+refine@0")
    with pytest.raises(EvalError, match="not a JPEG refiner"):
        resolve_codec("jpeg+refine:default")


def test_int8_export_runs_without_tensorflow_close_to_float(trained, tmp_path):
    from tfcodec.api import load_refiner

    out = tmp_path / "int8"
    result = _cli("export", "--weights", trained["bundle"], "--out", out, "--int8", "--calibration",
                  trained["images"], "--calibration-images", "4")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["family"] == "jpeg-refine" and sorted(manifest["models"]) == ["refine_1", "refine_2"]
    source = tmp_path / "in.jpg"
    source.write_bytes(jpeg_bytes(photo(64, 96), 15))
    run = run_python(["-m", "tfcodec", "enhance", source, tmp_path / "e8.png", "--model", out],
                     tmp_path / "site", cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert "HEAVY-MODULES []" in run.stdout and run.stderr == ""
    int8 = np.asarray(Image.open(tmp_path / "e8.png")).astype(int)
    float32 = load_refiner(trained["bundle"]).enhance(source.read_bytes()).astype(int)
    assert np.abs(int8 - float32).mean() < 2.0


def test_export_refuses_what_the_refiner_has_not(trained, tmp_path):
    result = _cli("export", "--weights", trained["bundle"], "--out", tmp_path / "tpu", "--edgetpu",
                  "--calibration", trained["images"])
    assert result.returncode != 0 and "no Edge TPU export" in result.stderr


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "tfcodec", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, check=False, timeout=300,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.dirname(__file__)])))


# ----------------------------------------------------------------------------- the shipped refiner


def test_shipped_refiner_improves_a_low_quality_jpeg():
    """The shipped weights, at their default step count, on a photo-like image none of them saw."""
    from tfcodec.api import load_refiner
    from tfcodec.evaluate.metrics import psnr

    refiner = load_refiner("jpeg-refine")
    rgb = photo(128, 192, seed=3)
    for quality, subsampling in ((10, 2), (30, 0)):
        data = jpeg_bytes(rgb, quality, subsampling=subsampling)
        plain = decode_jpeg(data)[0]
        assert psnr(rgb, refiner.enhance(data)) > psnr(rgb, plain) + 0.3


def test_shipped_refiner_runs_on_its_litert_export_like_keras():
    from tfcodec.api import load_refiner
    from tfcodec.export.jpeg_refine import LiteRTRefiner

    litert, keras_refiner = load_refiner("jpeg-refine"), load_refiner("jpeg-refine", "tf")
    assert isinstance(litert.backend, LiteRTRefiner) and litert.identity.startswith(keras_refiner.identity)
    data = jpeg_bytes(photo(96, 144, seed=5), 20)
    for k in range(1, keras_refiner.iterations + 1):
        difference = np.abs(litert.enhance(data, k).astype(int) - keras_refiner.enhance(data, k).astype(int))
        assert difference.max() <= 1 and (difference > 0).mean() < 0.01


def test_enhance_with_the_shipped_refiner_imports_no_tensorflow(tmp_path):
    source = tmp_path / "in.jpg"
    source.write_bytes(jpeg_bytes(photo(64, 80), 25))
    run = run_python(["-m", "tfcodec", "enhance", source, tmp_path / "out.png"], tmp_path / "site", cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert "HEAVY-MODULES []" in run.stdout and run.stderr == ""
    assert np.asarray(Image.open(tmp_path / "out.png")).shape == (64, 80, 3)
