"""Every user-given path works as a URL of any filesystem TensorFlow reads.

Exercised with TensorFlow's in-process `ram://` filesystem and with `file://`
URLs (both go through tf.io.gfile, as gs:// does on Cloud TPUs): training data
folders (tfds-prepared), validation, export-weights (workdir, out,
calibration), weights bundles (`--model URL`), edge export (--calibration,
--out), eval (--data, --out, the point cache), and end to end: train, resume,
export-weights, compress with the exported weights.

Each test runs in its own tmp folder as the working directory and checks that
no local `ram:` or `file:` folder appeared there (a URL mistaken for a local
path by os.makedirs/open would create one).
"""

import dataclasses
import json
import os
import uuid

import numpy as np
import pytest
import tensorflow as tf
from tiny_models import ramp_image, write_bundle

from tfcodec import fileio
from tfcodec.errors import FormatError

MODEL = "test-bmshj-tiny"  # registered by tiny_models


def ram(name):
    """A fresh ram:// folder (the filesystem lives as long as the test process)."""
    return f"ram://tfcodec-test-{uuid.uuid4().hex[:10]}/{name}"


@pytest.fixture(autouse=True)
def no_local_url_folders(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    yield
    leaked = [n for n in os.listdir(tmp_path) if n.endswith(":")]
    assert not leaked, f"a URL was used as a local path: {leaked} created in the working directory"


@pytest.fixture(params=["ram", "file"])
def root(request, tmp_path):
    """A URL folder: ram://... or file:///tmp/..."""
    if request.param == "ram":
        return ram("root")
    return "file://" + str(tmp_path / "url-root")


def write_photos(folder, count=4, size=(80, 96)):
    """Images in `folder` and `folder`/nested, and a file that is not an image."""
    fileio.makedirs(fileio.join(folder, "nested"))
    for i in range(count):
        where = fileio.join(folder, "nested") if i % 2 else folder
        fileio.write_image(fileio.join(where, f"{i}.png"), ramp_image(*size, seed=i))
    fileio.write_atomic(fileio.join(folder, "notes.txt"), b"not an image")
    return folder


def copy_tree(src, dst):
    """Copies a local folder to a URL, through tf.io.gfile."""
    for path in fileio.walk_files(src):
        rel = os.path.relpath(path, src).split(os.sep)
        target = fileio.join(dst, *rel)
        fileio.makedirs(target.rsplit("/", 1)[0])
        tf.io.gfile.copy(path, target, overwrite=True)
    return dst


def url_bundle(root, local_dir):
    """A tiny bundle at a URL (written locally, then copied up)."""
    local = write_bundle(MODEL, local_dir / f"{MODEL}.npz")
    fileio.makedirs(fileio.join(root, "weights"))
    url = fileio.join(root, "weights", f"{MODEL}.npz")
    fileio.write_atomic(url, fileio.read_bytes(local))
    return url, local


# ----------------------------------------------------------------------------- training data


def test_list_images_on_urls(root, tmp_path):
    from tfcodec.train.data import list_images

    photos = write_photos(fileio.join(root, "photos"))
    found = list_images(photos)
    assert len(found) == 4 and found == sorted(found)
    assert all(p.startswith(photos + "/") for p in found)
    assert sum("/nested/" in p for p in found) == 2
    if root.startswith("file://"):  # the same files as the local path lists
        local = list_images(photos[len("file://"):])
        assert [p[len("file://"):] for p in found] == local

    with pytest.raises(ValueError, match="does not exist"):
        list_images(fileio.join(root, "missing"))
    fileio.makedirs(fileio.join(root, "empty"))
    with pytest.raises(ValueError, match="no images"):
        list_images(fileio.join(root, "empty"))


def test_validation_images_from_urls(root):
    from tfcodec.train.data import validation_images

    photos = write_photos(fileio.join(root, "photos"))
    crops = list(validation_images(photos, limit=3, size=64))
    assert len(crops) == 3 and all(c.shape == (1, 64, 64, 3) for c in crops)


def test_folder_dataset_from_url(root, tmp_path):
    from tfcodec.train import data as data_lib
    from tfcodec.train.folder_dataset import prepare_folder

    photos = write_photos(fileio.join(root, "photos"))
    data_dir = str(tmp_path / "tfds")
    builder = prepare_folder(photos, data_dir)
    assert builder.info.splits["train"].num_examples == 4
    assert str(builder.data_dir).startswith(data_dir)
    batch = next(iter(data_lib.training_dataset(photos, patch=64, batch=2, data_dir=data_dir)))
    assert batch.shape == (2, 64, 64, 3)
    # A trailing slash names the same folder; a file:// data dir is that local folder to tfds.
    assert prepare_folder(photos + "/", "file://" + data_dir).data_dir == builder.data_dir

    # tfds cannot write to ram://: said in one line, not a KeyError deep in etils.
    with pytest.raises(ValueError, match="cannot write to ram://"):
        prepare_folder(photos, ram("tfds"))
    with pytest.raises(ValueError, match="does not exist"):
        prepare_folder(fileio.join(root, "missing"), data_dir)


# ----------------------------------------------------------------------------- weights


def test_bundle_resolve_load_and_compress_from_url(root, tmp_path, capsys):
    from tfcodec.cli import main
    from tfcodec.weights import load_bundle, resolve

    url, local = url_bundle(root, tmp_path)
    assert resolve(url) == url
    assert load_bundle(url).hash == load_bundle(local).hash
    missing = fileio.join(root, "weights", "missing.npz")
    with pytest.raises(FormatError, match="does not exist"):
        resolve(missing)

    image = fileio.join(root, "in.png")
    fileio.write_image(image, ramp_image(64, 96))
    stream = fileio.join(root, "in.tfc")
    back = fileio.join(root, "back.png")
    assert main(["compress", image, stream, "--model", url, "--quality", "0.5", "--quiet"]) == 0
    assert main(["decompress", stream, back, "--model", url, "--quiet"]) == 0
    assert fileio.read_image(back).shape == (64, 96, 3)
    assert main(["info", stream]) == 0
    capsys.readouterr()

    assert main(["compress", image, stream, "--model", missing, "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "does not exist" in err and err.count("\n") == 1


# ----------------------------------------------------------------------------- export-weights


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """A two-step run of the tiny model in a local workdir (its photos local too)."""
    from tfcodec.train.loop import TrainConfig, train

    base = tmp_path_factory.mktemp("local-run")
    photos = write_photos(str(base / "photos"))
    config = TrainConfig(model=MODEL, data=str(photos), workdir=str(base / "run"), steps=2, batch=2,
                         patch=64, checkpoint_every=2, log_every=1, image_every=100)
    assert train(config, progress=False) == 2
    return {"workdir": config.workdir, "photos": photos, "base": base}


def test_export_weights_with_url_workdir_out_and_calibration(local_run, root, capsys):
    from tfcodec.cli import main
    from tfcodec.train.export_weights import export_from_checkpoint
    from tfcodec.weights import load_bundle

    workdir = copy_tree(local_run["workdir"], fileio.join(root, "run"))
    latest = tf.train.latest_checkpoint(fileio.join(workdir, "checkpoints"))
    assert latest.startswith(workdir), latest  # the copy is what gets read, not the local run
    calibration = write_photos(fileio.join(root, "train"), count=2)
    fileio.makedirs(fileio.join(root, "out"))
    out = fileio.join(root, "out", "w.npz")
    assert main(["export-weights", "--workdir", workdir, "--out", out, "--calibration", calibration,
                 "--calibration-images", "2"]) == 0
    assert f"wrote {out} from step 2" in capsys.readouterr().out
    bundle = load_bundle(out)
    assert bundle.meta["model"] == MODEL and bundle.meta["step"] == 2

    local_out = str(local_run["base"] / f"local-{uuid.uuid4().hex[:6]}.npz")
    export_from_checkpoint(local_run["workdir"], local_out, local_run["photos"], count=2)
    local = load_bundle(local_out)
    assert sorted(local.keras) == sorted(bundle.keras)
    for key in local.keras:
        np.testing.assert_array_equal(local.keras[key], bundle.keras[key])

    # A missing workdir or calibration folder: one line, exit 1, as for local paths.
    for args, message in ((["--workdir", fileio.join(root, "nope"), "--calibration", calibration],
                           "config.json does not exist"),
                          (["--workdir", workdir, "--calibration", fileio.join(root, "nope")],
                           "does not exist")):
        assert main(["export-weights", "--out", out, *args]) == 1
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


# ----------------------------------------------------------------------------- edge export


def test_calibration_folder_on_url(root):
    from tfcodec.images import calibration_crops

    train = write_photos(fileio.join(root, "train"))
    images = calibration_crops(train, 2)
    assert len(images) == 2 and images[0].shape == (64, 64, 3)
    with pytest.raises(FormatError, match="does not exist"):
        calibration_crops(fileio.join(root, "missing"), 2)
    fileio.makedirs(fileio.join(root, "empty"))
    with pytest.raises(FormatError, match="no images"):
        calibration_crops(fileio.join(root, "empty"), 2)
    kodak = write_photos(fileio.join(root, "data", "Kodak"), count=1)
    with pytest.raises(FormatError, match="training images only"):
        calibration_crops(kodak, 2)


def test_edge_export_to_url(tmp_path, monkeypatch):
    """ram:// only: file:// takes the same gfile path, and a conversion costs seconds."""
    pytest.importorskip("ai_edge_litert", reason="the edge export's checks need ai-edge-litert")
    from tfcodec.cli import main
    from tfcodec.export import edgetpu

    root = ram("edge")
    url, _ = url_bundle(root, tmp_path)
    train = write_photos(fileio.join(root, "train"), count=2)
    out = fileio.join(root, "edge")
    # float32: int8 reads --calibration through calibration_crops (tested above) and
    # quantising costs seconds more.
    assert main(["export", "--weights", url, "--out", out, "--float32", "--quiet"]) == 0
    manifest = json.loads(fileio.read_bytes(fileio.join(out, "manifest.json")))
    assert manifest["model"] == MODEL and manifest["weights_file"] == f"{MODEL}.npz"
    for entry in manifest["models"].values():
        assert len(fileio.read_bytes(fileio.join(out, entry["file"]))) == entry["bytes"]
    assert fileio.exists(fileio.join(out, "coding.npz")) and fileio.exists(fileio.join(out, "report.txt"))

    # edgetpu_compiler writes local files only: refused up front for a URL --out.
    monkeypatch.setattr(edgetpu, "compiler_path", lambda: "/usr/bin/edgetpu_compiler")
    assert main(["export", "--weights", url, "--out", fileio.join(root, "tpu"), "--edgetpu", "--height", "64",
                 "--width", "64", "--calibration", train, "--quiet"]) == 1
    assert main(["export", "--weights", fileio.join(root, "nope.npz"), "--out", out, "--float32", "--quiet"]) == 1


# ----------------------------------------------------------------------------- eval


def test_eval_reads_and_writes_urls(root, tmp_path, capsys):
    from tfcodec.cli import main

    data = fileio.join(root, "test-images")
    fileio.makedirs(fileio.join(data, "sub"))
    for i in range(2):
        fileio.write_image(fileio.join(data, f"{i}.png"), ramp_image(64, 96, seed=i))
    fileio.write_image(fileio.join(data, "sub", "not-listed.png"), ramp_image(64, 64))  # not recursive
    fileio.write_atomic(fileio.join(data, "readme.txt"), b"x")
    weights, _ = url_bundle(root, tmp_path)
    out = fileio.join(root, "eval")
    args = ["eval", "--data", data, "--out", out, "--quiet", "--codecs", f"jpeg,tfcodec:{weights}",
            "--settings", "jpeg=30,90", "--settings", f"tfcodec:{weights}=0.2,0.8", "--anchor", "jpeg"]
    assert main(args) == 0
    res = json.loads(fileio.read_bytes(fileio.join(out, "results.json")))
    assert [im["name"] for im in res["config"]["images"]] == ["0.png", "1.png"]
    assert res["codecs"] == ["jpeg", f"tfcodec:{MODEL}"]
    assert res["stats"] == {"points_computed": 8, "points_from_cache": 0}
    assert res["config"]["cache"] == fileio.join(out, "cache")
    rows = fileio.read_bytes(fileio.join(out, "points.csv")).decode().splitlines()
    assert rows[0].startswith("codec,setting,image") and len(rows) == 1 + 8 + 4
    assert f"tfcodec:{MODEL}" in fileio.read_bytes(fileio.join(out, "summary.md")).decode()
    for png in ("psnr_vs_bpp.png", "msssim_db_vs_bpp.png"):
        assert fileio.read_bytes(fileio.join(out, png))[:8] == b"\x89PNG\r\n\x1a\n"
    assert len([p for p in fileio.walk_files(fileio.join(out, "cache")) if p.endswith(".json")]) == 8
    capsys.readouterr()

    # Again: every point from the cache at the URL.
    assert main(args) == 0
    res = json.loads(fileio.read_bytes(fileio.join(out, "results.json")))
    assert res["stats"] == {"points_computed": 0, "points_from_cache": 8}
    capsys.readouterr()

    assert main(["eval", "--data", fileio.join(root, "nope"), "--out", out, "--codecs", "jpeg"]) == 1
    err = capsys.readouterr().err
    assert "not a directory" in err and err.count("\n") == 1


# ----------------------------------------------------------------------------- end to end


@pytest.mark.parametrize("scheme", ["ram", "file"])
def test_train_resume_export_and_compress_on_urls(scheme, tmp_path):
    """train -> resume -> export-weights -> compress, with every path but tfds' data dir a URL."""
    from tfcodec.api import load_codec
    from tfcodec.train.export_weights import export_from_checkpoint
    from tfcodec.train.loop import TrainConfig, train
    from tfcodec.weights import load_bundle

    base = ram("e2e") if scheme == "ram" else "file://" + str(tmp_path / "e2e")
    photos = write_photos(fileio.join(base, "photos"))
    workdir = fileio.join(base, "run")
    config = TrainConfig(model=MODEL, data=photos, workdir=workdir, steps=2, batch=2, patch=64,
                         checkpoint_every=2, log_every=1, image_every=100, data_dir=str(tmp_path / "tfds"))
    assert train(config, progress=False) == 2
    assert json.loads(fileio.read_bytes(fileio.join(workdir, "config.json")))["model"] == MODEL
    # Resumed from step 2, validating (at the last step) on the URL folder too.
    resumed = dataclasses.replace(config, steps=4, validation=photos, validation_images=1,
                                  validation_size=192, validation_qualities="0.5")
    assert train(resumed, progress=False) == 4
    assert tf.io.gfile.glob(fileio.join(workdir, "logs", "*"))  # TensorBoard events at the URL
    latest = tf.train.latest_checkpoint(fileio.join(workdir, "checkpoints"))
    assert latest.startswith(workdir) and latest.endswith("-4"), latest

    out = fileio.join(base, "w.npz")
    assert export_from_checkpoint(workdir, out, photos, count=2) == 4
    assert load_bundle(out).meta["step"] == 4
    codec = load_codec(out)
    rgb = ramp_image(64, 96)
    decoded = codec.decompress(codec.compress(rgb, 0.5))
    assert decoded.shape == rgb.shape and decoded.dtype == np.uint8
    # Nothing of the run went to local disk but tfds' copy of the photos.
    local = sorted(os.listdir(tmp_path))
    assert local == (["tfds"] if scheme == "ram" else ["e2e", "tfds"]), local
