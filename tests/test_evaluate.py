"""Tests for `tfcodec eval` (tfcodec.evaluate): metrics, BD-rate, codecs, runner, outputs.

Images are generated here (smooth gradients + noise), never read from shared
data; the learned codec is a fake injected as ``tfcodec.api``.
"""

import csv
import json
import math
import sys
import types
import zlib

import numpy as np
import pytest

from tfcodec.evaluate import bdrate, metrics, runner
from tfcodec.evaluate.classical import CLASSICAL, get_classical


def make_image(h=64, w=96, seed=0):
    """A smooth colour gradient plus mild noise, uint8 HxWx3."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.stack([255 * xx / w, 255 * yy / h, 128 + 100 * np.sin((xx + yy) / 9.0 + seed)], axis=-1)
    return np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)


def distort(img, sigma, seed=1):
    rng = np.random.default_rng(seed)
    return np.clip(img.astype(np.float64) + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- metrics


@pytest.mark.parametrize("seed", [0, 1])
def test_psnr_matches_numpy(seed):
    a = make_image(seed=seed)
    b = distort(a, 5 + 5 * seed, seed=seed + 10)
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    expected = 10 * np.log10(255.0**2 / mse)
    assert metrics.psnr(a, b) == pytest.approx(expected, abs=1e-3)
    assert metrics.psnr(a, a) == metrics.PSNR_CAP  # identical -> capped, not inf


def test_msssim_matches_tf_directly_on_full_size_images():
    import tensorflow as tf

    a = make_image(192, 200, seed=3)
    b = distort(a, 10)
    assert metrics.msssim_scales(192, 200) == (5, 11)
    direct = float(tf.image.ssim_multiscale(a[None].astype(np.float32), b[None].astype(np.float32),
                                            max_val=255.0)[0])
    assert metrics.msssim(a, b) == pytest.approx(direct, abs=1e-6)


def test_msssim_small_images_use_fewer_scales():
    import tensorflow as tf

    # 64x96: 64 -> 32 -> 16 fits the 11-tap window, 8 does not: 3 scales.
    assert metrics.msssim_scales(64, 96) == (3, 11)
    # TF rounds odd sizes up when halving: 161 px still has 11 px at the 5th scale, 160 does not.
    assert metrics.msssim_scales(160, 500)[0] == 4 and metrics.msssim_scales(161, 500)[0] == 5
    a = make_image(seed=0)
    light, heavy = metrics.msssim(a, distort(a, 4)), metrics.msssim(a, distort(a, 20))
    assert 0 < heavy < light < 1 and metrics.msssim(a, a) == pytest.approx(1.0, abs=1e-6)
    # One scale: MS-SSIM with weight 1 is plain SSIM, an independent check of the renormalisation.
    c = make_image(20, 30, seed=4)
    d = distort(c, 8)
    assert metrics.msssim_scales(20, 30) == (1, 11)
    ssim = float(tf.image.ssim(c[None].astype(np.float32), d[None].astype(np.float32), max_val=255.0)[0])
    assert metrics.msssim(c, d) == pytest.approx(ssim, abs=1e-5)


def test_msssim_db_and_bpp():
    assert metrics.msssim_db(0.9) == pytest.approx(10.0)
    assert metrics.msssim_db(0.99) == pytest.approx(20.0)
    assert metrics.msssim_db(1.0) == metrics.MSSSIM_DB_CAP
    assert metrics.bits_per_pixel(1000, 50, 40) == pytest.approx(4.0)


# ----------------------------------------------------------------------------- BD-rate

RATES = np.array([0.1, 0.2, 0.35, 0.6, 1.0, 1.6])
QUAL = 30 + 4.5 * np.log2(RATES) + np.array([0.0, 0.2, 0.1, 0.3, 0.15, 0.25])


def test_bd_rate_zero_against_itself():
    assert bdrate.bd_rate(RATES, QUAL, RATES, QUAL) == pytest.approx(0.0, abs=1e-9)
    assert bdrate.bd_quality(RATES, QUAL, RATES, QUAL) == pytest.approx(0.0, abs=1e-9)


def test_bd_rate_sign_and_magnitude():
    # Same quality with 80% of the bits: -20 %, and the reverse +25 %.
    assert bdrate.bd_rate(RATES, QUAL, RATES * 0.8, QUAL) == pytest.approx(-20.0, abs=1e-6)
    assert bdrate.bd_rate(RATES * 0.8, QUAL, RATES, QUAL) == pytest.approx(25.0, abs=1e-6)
    # A better codec sampled at other rates of the same smooth curve: still about -20 %.
    curve = lambda r: 30 + 4.5 * np.log2(r)  # noqa: E731
    test_rates = np.array([0.12, 0.25, 0.5, 0.9, 1.5])
    got = bdrate.bd_rate(RATES, curve(RATES), test_rates, curve(test_rates / 0.8))
    assert got == pytest.approx(-20.0, abs=0.5)
    # BD-PSNR: +0.5 dB everywhere is +0.5 dB; the 0.8x-rate codec gains 4.5*log2(1/0.8) dB.
    assert bdrate.bd_quality(RATES, QUAL, RATES, QUAL + 0.5) == pytest.approx(0.5, abs=1e-9)
    assert bdrate.bd_quality(RATES, curve(RATES), test_rates, curve(test_rates / 0.8)) == pytest.approx(
        4.5 * math.log2(1 / 0.8), abs=0.05)


def test_bd_no_overlap_is_none():
    assert bdrate.bd_rate([0.1, 0.2], [20, 22], [1.0, 2.0], [30, 33]) is None
    assert bdrate.bd_quality([0.1, 0.2], [20, 22], [1.0, 2.0], [30, 33]) is None
    assert bdrate.bd_rate([0.1], [20], [0.1, 0.2], [20, 22]) is None


def test_pchip_integral_matches_scipy():
    scipy_interp = pytest.importorskip("scipy.interpolate")
    rng = np.random.default_rng(0)
    for n in (2, 3, 5, 8):
        x = np.sort(rng.uniform(0, 10, n))
        y = np.cumsum(rng.normal(size=n))
        lo, hi = x[0] + 0.2 * (x[-1] - x[0]), x[-1] - 0.05
        expected = scipy_interp.PchipInterpolator(x, y).integrate(lo, hi)
        assert bdrate.pchip_integral(x, y, lo, hi) == pytest.approx(expected, rel=1e-9, abs=1e-12)


# ----------------------------------------------------------------------------- classical codecs


@pytest.mark.parametrize("name", CLASSICAL)
def test_classical_roundtrip(name):
    try:
        runner._check_available(name)
    except runner.EvalError as e:
        pytest.skip(str(e))
    codec = get_classical(name)
    img = make_image(seed=2)
    mid = codec.rate_settings[len(codec.rate_settings) * 2 // 3]
    data = codec.compress(img, mid)
    out = codec.decompress(data)
    assert isinstance(data, bytes) and len(data) > 0
    assert out.shape == img.shape and out.dtype == np.uint8
    assert metrics.psnr(img, out) > 20
    assert codec.identity and "Pillow" in codec.identity


# ----------------------------------------------------------------------------- end to end


class FakeLearnedCodec:
    """Quantise pixels by ``setting`` and zlib them: lossy, real bytes, counts its calls."""

    name = "fake"
    rate_settings = [4, 16, 48]
    identity = "fake-weights-sha256:0123"
    calls = 0

    def compress(self, rgb, setting):
        FakeLearnedCodec.calls += 1
        q = (rgb // setting).astype(np.uint8)
        header = np.array([*rgb.shape[:2], setting], dtype=">u4").tobytes()
        return header + zlib.compress(q.tobytes(), 9)

    def decompress(self, data):
        h, w, step = np.frombuffer(data[:12], dtype=">u4")
        q = np.frombuffer(zlib.decompress(data[12:]), dtype=np.uint8).reshape(h, w, 3)
        return np.clip(q.astype(np.int32) * step + step // 2, 0, 255).astype(np.uint8)


@pytest.fixture
def fake_api(monkeypatch):
    module = types.ModuleType("tfcodec.api")
    module.load_codec = lambda name: FakeLearnedCodec()
    monkeypatch.setitem(sys.modules, "tfcodec.api", module)
    FakeLearnedCodec.calls = 0
    return module


def _write_images(folder):
    from PIL import Image

    folder.mkdir()
    imgs = {"a.png": make_image(64, 96, seed=0), "b.png": make_image(64, 96, seed=5)}
    for name, img in imgs.items():
        Image.fromarray(img).save(folder / name)
    return imgs


def test_eval_end_to_end_with_cache(tmp_path, fake_api, capsys):
    from tfcodec.cli import main

    imgs = _write_images(tmp_path / "data")
    published = tmp_path / "paper.json"
    published.write_text(json.dumps({"name": "Paper 2020", "bpp": [0.5, 1.0, 2.0, 4.0],
                                     "psnr": [28.0, 31.0, 34.0, 38.0]}))
    out = tmp_path / "out"
    args = ["eval", "--data", str(tmp_path / "data"), "--out", str(out), "--quiet",
            "--codecs", "jpeg,webp,tfcodec:default", "--settings", "jpeg=20,60,90",
            "--settings", "webp=30,70,90", "--anchor", "jpeg", "--published", str(published)]
    assert main(args) == 0
    n_points = (3 + 3 + 3) * 2
    assert FakeLearnedCodec.calls == 3 * 2

    res = json.loads((out / "results.json").read_text())
    assert res["stats"] == {"points_computed": n_points, "points_from_cache": 0}
    assert res["codecs"] == ["jpeg", "webp", "tfcodec:default"]
    assert len(res["points"]) == n_points and len(res["averaged"]) == 9
    assert res["anchor"] == "jpeg" and "PCHIP" in res["bd_method"]
    # bpp is the real file size: recompute one fake point from its bytes.
    p = next(q for q in res["points"] if q["codec"] == "tfcodec:default" and q["setting"] == 16
             and q["image"] == "a.png")
    data = FakeLearnedCodec().compress(imgs["a.png"], 16)
    FakeLearnedCodec.calls -= 1
    assert p["bytes"] == len(data) and p["bpp"] == pytest.approx(len(data) * 8 / (64 * 96))
    assert p["msssim_scales"] == 3
    # Averages are means over the two images.
    pts = [q for q in res["points"] if q["codec"] == "jpeg" and q["setting"] == 60]
    avg = next(q for q in res["averaged"] if q["codec"] == "jpeg" and q["setting"] == 60)
    assert avg["psnr"] == pytest.approx(np.mean([q["psnr"] for q in pts]))
    assert avg["bpp"] == pytest.approx(np.mean([q["bpp"] for q in pts]))
    bd = {r["codec"]: r for r in res["bd"]}
    assert bd["jpeg"]["bd_rate_psnr"] == pytest.approx(0.0, abs=1e-9)
    assert set(bd) == {"jpeg", "webp", "tfcodec:default", "Paper 2020"}
    assert res["curves"]["Paper 2020"]["kind"] == "published"

    with open(out / "points.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == n_points + 9 and sum(r["image"] == "MEAN" for r in rows) == 9
    md = (out / "summary.md").read_text()
    assert "PCHIP" in md and "| tfcodec:default |" in md and "Paper 2020" in md
    for png in ("psnr_vs_bpp.png", "msssim_db_vs_bpp.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # Same run again: everything from the cache, the codec is never called.
    assert main(args) == 0
    res2 = json.loads((out / "results.json").read_text())
    assert res2["stats"] == {"points_computed": 0, "points_from_cache": n_points}
    assert FakeLearnedCodec.calls == 3 * 2
    assert [q["psnr"] for q in res2["averaged"]] == [q["psnr"] for q in res["averaged"]]

    # Adding a codec computes only its points.
    args3 = [a if a != "jpeg,webp,tfcodec:default" else "jpeg,webp,tfcodec:default,jp2" for a in args]
    assert main(args3 + ["--settings", "jp2=0.5,1.0"]) == 0
    res3 = json.loads((out / "results.json").read_text())
    assert res3["stats"] == {"points_computed": 2 * 2, "points_from_cache": n_points}

    # A new model identity invalidates only that codec's points.
    FakeLearnedCodec.identity = "fake-weights-sha256:4567"
    try:
        assert main(args) == 0
    finally:
        FakeLearnedCodec.identity = "fake-weights-sha256:0123"
    res4 = json.loads((out / "results.json").read_text())
    assert res4["stats"] == {"points_computed": 3 * 2, "points_from_cache": 6 * 2}
    capsys.readouterr()


def test_cli_errors_are_messages(tmp_path, capsys, monkeypatch):
    from tfcodec.cli import main

    _write_images(tmp_path / "data")
    base = ["eval", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "o"), "--quiet"]
    assert main(base + ["--codecs", "jpeg,bmp"]) == 1
    assert "unknown codec 'bmp'" in capsys.readouterr().err
    assert main(base + ["--codecs", "jpeg", "--settings", "webp=10"]) == 1
    assert "not in --codecs" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "tfcodec.api", None)  # learned-codec API absent
    assert main(base + ["--codecs", "jpeg,tfcodec:default"]) == 1
    assert "tfcodec.api" in capsys.readouterr().err
    assert main(["eval", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "o"), "--codecs", "jpeg"]) == 1
    assert "not a directory" in capsys.readouterr().err


def test_settings_and_published_parsing(tmp_path):
    assert runner.parse_settings_overrides(["jpeg=10,50", "tfcodec:m.h5=1,2.5,x"]) == {
        "jpeg": [10, 50], "tfcodec:m.h5": [1, 2.5, "x"]}
    with pytest.raises(runner.EvalError):
        runner.parse_settings_overrides(["jpeg"])
    f = tmp_path / "p.json"
    f.write_text(json.dumps([{"name": "A", "bpp": [0.1, 0.2], "msssim": [0.9, 0.99]}]))
    (curve,) = runner.load_published(f)
    assert curve["psnr"] is None and curve["msssim_db"] == pytest.approx([10.0, 20.0])
    f.write_text(json.dumps({"name": "B", "bpp": [0.1, 0.2]}))
    with pytest.raises(runner.EvalError):
        runner.load_published(f)


def test_two_weights_files_of_one_model_get_distinct_labels(tmp_path):
    """Comparing checkpoints of one model: labels take the file stem when they clash."""
    from tfcodec.evaluate.evaluation import _distinct_labels

    old, new = tmp_path / "step85k.npz", tmp_path / "step105k.npz"
    old.write_bytes(b"x")
    new.write_bytes(b"y")

    def entry(label):
        return runner.CodecEntry(label, None, "id", [0.5], "learned", "")

    got = _distinct_labels([(f"tfcodec:{old}", entry("tfcodec:cw2020-small")),
                            (f"tfcodec:{new}", entry("tfcodec:cw2020-small")),
                            ("tfcodec:rnn-gru-small", entry("tfcodec:rnn-gru-small")),
                            ("jpeg", entry("jpeg"))])
    assert [e.label for e in got] == ["tfcodec:cw2020-small@step85k", "tfcodec:cw2020-small@step105k",
                                      "tfcodec:rnn-gru-small", "jpeg"]
    # A file whose model label is unique keeps the plain label.
    assert _distinct_labels([(f"tfcodec:{old}", entry("tfcodec:cw2020-small"))])[0].label == "tfcodec:cw2020-small"
