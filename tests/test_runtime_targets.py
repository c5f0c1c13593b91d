"""Exports that name their runtime (`tfcodec export --runtime`), and the runtimes themselves.

The op-version tables are checked against the binaries we can install: the
ai-edge-litert tfcodec runs on, and tflite-runtime 2.14.0 in a venv of its own
with numpy < 2 (`tools/make_venvs.sh tflite214`; CI makes it and sets
TFCODEC_TFLITE214_VENV, so there these tests run instead of skipping). In that
venv an `--int8 --runtime tflite-runtime-2.14` export and an `--edgetpu` export
of a tiny model compress and decompress, and their streams decode with
`tfcodec decompress`; the default `--int8` export is refused there in one line
that names the op and the --runtime to use. The Android app's LiteRT and the
Coral stack cannot run here: they are covered by their tables only.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from tiny_models import ramp_image, write_bundle

from tfcodec.export import runtimes

pytest.importorskip("ai_edge_litert", reason="the exports are checked with ai-edge-litert")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAME = "test-cw-tiny"
STATIC = (128, 192)


@pytest.fixture(scope="module")
def venv_python():
    """The tflite-runtime 2.14 venv's python: required where CI made it, else skipped if absent
    (asked for first, so a skip costs no export)."""
    required = os.environ.get("TFCODEC_TFLITE214_VENV")
    venv = required or os.path.join(ROOT, ".venv-tflite214")
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        if required:
            pytest.fail(f"TFCODEC_TFLITE214_VENV={required} has no bin/python")
        pytest.skip("no tflite-runtime 2.14 venv (make it with VENVS=. bash tools/make_venvs.sh tflite214)")
    return python


def _in_venv(python, *args, cwd):
    """tfcodec's modules from the checkout, run by that python (a venv's: as copied to a device)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = ROOT
    return subprocess.run([python, *map(str, args)], capture_output=True, text=True, timeout=300,
                          env=env, cwd=str(cwd), check=False)


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """A tiny bundle and its exports: --int8 for tflite-runtime 2.14, LiteRT and the Android
    app's LiteRT 1.0.1, and --edgetpu."""
    from tfcodec.export.exporter import ExportOptions, export
    from tfcodec.fileio import write_image

    root = tmp_path_factory.mktemp("targets")
    bundle = write_bundle(NAME, root / "tiny.npz", seed=5)
    train = root / "train"
    train.mkdir()
    for s in range(4):
        write_image(str(train / f"{s}.png"), ramp_image(96, 128, seed=20 + s))
    folders = {}
    for key, options in {
        "int8-214": ExportOptions("int8", calibration=str(train), calibration_images=2,
                                  runtime="tflite-runtime-2.14"),
        "int8": ExportOptions("int8", calibration=str(train), calibration_images=2),
        "int8-android": ExportOptions("int8", calibration=str(train), calibration_images=2,
                                      runtime="android-litert-1.0"),
        "tpu": ExportOptions("edgetpu", *STATIC, calibration=str(train), calibration_images=2),
    }.items():
        folders[key] = str(root / key)
        export(bundle, folders[key], options, progress=None)
    return {"root": root, "bundle": bundle, "train": str(train), **folders}


def _manifest(folder):
    with open(os.path.join(folder, "manifest.json")) as f:
        return json.load(f)


# -- the tables ---------------------------------------------------------------------


def test_every_runtime_has_a_cited_table():
    for runtime in runtimes.RUNTIMES.values():
        table = runtime.table
        assert table["runtime"] == runtime.name
        assert table["sources"] and all(len(s) > 40 for s in table["sources"])
        for op in ("CONV_2D", "MUL", "QUANTIZE", "DEQUANTIZE", "RSQRT", "TANH"):
            assert table["max_versions"].get(op, 0) >= 1, (runtime.name, op)


def test_int8_gdn_form_follows_the_table():
    assert runtimes.int8_gdn_forms(runtimes.get("litert")) == {"gdn": "log-exp", "igdn": "log-exp"}
    # tflite-runtime 2.14 registers LOG and SQRT only as version 1 (float): the int8 GDN is RSQRT.
    assert runtimes.get("tflite-runtime-2.14").max_versions["LOG"] == 1
    assert runtimes.int8_gdn_forms(runtimes.get("tflite-runtime-2.14")) == {"gdn": "rsqrt", "igdn": "rsqrt"}
    assert runtimes.int8_gdn_forms(runtimes.get("coral")) == {"gdn": "rsqrt", "igdn": "rsqrt"}


def test_android_table_is_for_the_apps_litert():
    """The JVM tests cannot load LiteRT's native library: the app's LiteRT is covered by its
    table, which must be the one of the version the app builds with."""
    with open(os.path.join(ROOT, "android_demo", "app", "build.gradle")) as f:
        gradle = f.read()
    assert "com.google.ai.edge.litert:litert:1.0.1'" in gradle
    assert "litert:1.0.1" in runtimes.get("android-litert-1.0").title
    assert "1.0.1" in " ".join(runtimes.get("android-litert-1.0").table["sources"])


def test_unknown_runtime_is_refused_with_the_choices():
    with pytest.raises(runtimes.UnsupportedOp, match="unknown runtime 'pi'.*tflite-runtime-2.14"):
        runtimes.get("pi")


def test_the_runtime_to_export_for_lacks_the_missing_op():
    assert runtimes.target_for("LOG", 2, "2.14.0").name == "tflite-runtime-2.14"
    assert runtimes.target_for("LOG", 2).name == "tflite-runtime-2.14"
    # A release older than every table but the Coral stack's gets the Coral table.
    assert runtimes.target_for("LOG", 2, "2.10.1").name == "coral"
    assert runtimes.target_for("RSQRT", 3, "2.5.0.post1").name == "coral"


def _probe(python, folder, cwd):
    proc = _in_venv(python, os.path.join(ROOT, "tools", "probe_op_versions.py"), "probe", folder, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def probe_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("probe")
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "probe_op_versions.py"), "make",
                           str(folder)], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    return folder


def test_tflite_runtime_214_table_is_what_the_binary_registers(venv_python, probe_models, tmp_path):
    probed = _probe(venv_python, probe_models, tmp_path)
    assert probed["runtime"] == "tflite_runtime 2.14.0"
    assert probed["max_versions"] == runtimes.get("tflite-runtime-2.14").max_versions


def test_installed_litert_registers_the_litert_table(probe_models, tmp_path):
    probed = _probe(sys.executable, probe_models, tmp_path)["max_versions"]
    short = {op: v for op, v in runtimes.get("litert").max_versions.items() if probed.get(op, 0) < v}
    assert not short, f"the installed ai-edge-litert registers less than the litert table: {short}"


# -- the export ---------------------------------------------------------------------


def test_exports_record_and_keep_to_their_runtime(exports):
    from tfcodec.export.flatbuffer import read_model

    for key, runtime in (("int8-214", "tflite-runtime-2.14"), ("int8", "litert"), ("tpu", "coral"),
                         ("int8-android", "android-litert-1.0")):
        manifest = _manifest(exports[key])
        assert manifest["runtime"]["name"] == runtime
        target = runtimes.get(runtime)
        for model in manifest["models"].values():
            info = read_model(os.path.join(exports[key], model["file"]))
            assert runtimes.unregistered(info, target) == []
    assert _manifest(exports["int8"])["gdn_form"] == "log-exp"
    assert _manifest(exports["int8-214"])["gdn_form"] == "rsqrt"
    # LiteRT 1.0.1 has int8 LOG but not int8 SQRT: log-exp analysis, rsqrt synthesis.
    assert _manifest(exports["int8-android"])["gdn_form"] == "log-exp GDN, rsqrt IGDN"
    # The default --int8 export is exactly what tflite-runtime 2.14 cannot load.
    analysis = read_model(os.path.join(exports["int8"], "analysis.tflite"))
    assert ("LOG", 2) in runtimes.unregistered(analysis, runtimes.get("tflite-runtime-2.14"))


def test_export_refuses_an_op_its_runtime_lacks_and_writes_nothing(exports, tmp_path, capsys):
    from tfcodec.cli import main

    out = tmp_path / "refused"
    code = main(["export", "--weights", exports["bundle"], "--out", str(out), "--int8", "--gdn", "log-exp",
                 "--runtime", "tflite-runtime-2.14", "--calibration", exports["train"],
                 "--calibration-images", "1", "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1, err
    assert "analysis.tflite: LOG version 2 is not registered by tflite-runtime-2.14" in err
    assert "it has LOG up to version 1" in err
    assert not out.exists() or not os.listdir(out)


# -- for real, in tflite-runtime 2.14 -------------------------------------------------


@pytest.mark.parametrize("key", ["int8-214", "tpu"])
def test_exports_code_in_tflite_runtime_214_and_decode_in_tfcodec(venv_python, exports, key):
    from tfcodec.cli import main
    from tfcodec.fileio import read_image, write_image

    python = venv_python
    work = exports["root"] / f"run-{key}"
    work.mkdir(exist_ok=True)
    rgb = ramp_image(100, 140, seed=9)
    write_image(str(work / "in.png"), rgb)
    for args in (("compress", "in.png", "out.tfc", "--quality", "0.5"), ("decompress", "out.tfc", "edge.png")):
        proc = _in_venv(python, "-m", "tfcodec.edge", *args, "--models", exports[key], cwd=work)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    edge = read_image(str(work / "edge.png"))
    assert edge.shape == rgb.shape
    assert main(["decompress", str(work / "out.tfc"), str(work / "tf.png"), "--model", exports["bundle"],
                 "--quiet"]) == 0
    tf_decoded = read_image(str(work / "tf.png"))
    # Same symbols, int8 against float synthesis: the pixels agree closely, not exactly.
    difference = np.abs(edge.astype(np.float64) - tf_decoded.astype(np.float64))
    assert tf_decoded.shape == rgb.shape and difference.mean() < 8, difference.mean()


def test_device_names_the_missing_op_and_the_runtime_to_export_for(venv_python, exports):
    from tfcodec.fileio import write_image

    python = venv_python
    work = exports["root"] / "run-refused"
    work.mkdir(exist_ok=True)

    write_image(str(work / "in.png"), ramp_image(64, 64, seed=2))
    proc = _in_venv(python, "-m", "tfcodec.edge", "compress", "in.png", "out.tfc", "--models", exports["int8"],
                    cwd=work)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert os.path.join(exports["int8"], "analysis.tflite") in lines[0]
    assert "tflite_runtime 2.14.0 has no LOG version 2" in lines[0]
    assert "--runtime tflite-runtime-2.14" in lines[0]
    assert not (work / "out.tfc").exists()


def test_a_file_no_interpreter_reads_is_one_line_naming_it(tmp_path):
    from tfcodec import FormatError
    from tfcodec.edge.runtime import TFLiteModel

    path = tmp_path / "synthesis.tflite"
    path.write_bytes(b"TFL3" + b"\x00" * 60)
    with pytest.raises(FormatError) as error:
        TFLiteModel(str(path))
    message = str(error.value)
    assert message.startswith(f"{path}: ai_edge_litert ") and "cannot load this model" in message
    assert "\n" not in message


def test_a_model_its_kernels_refuse_at_allocation_is_one_line(tmp_path):
    """A registered (op, version) whose kernel rejects the model when tensors are allocated (an
    ADD with one input here; an older runtime's kernel refusing a type in the field)."""
    from tfcodec import FormatError
    from tfcodec.edge.runtime import TFLiteModel

    sys.path.insert(0, os.path.join(ROOT, "tools"))
    try:
        from probe_op_versions import _schema, one_op_model
    finally:
        sys.path.pop(0)
    path = tmp_path / "add.tflite"
    path.write_bytes(one_op_model(_schema().BuiltinOperator.ADD, 1))
    with pytest.raises(FormatError) as error:
        TFLiteModel(str(path))
    message = str(error.value)
    assert message.startswith(f"{path}: ai_edge_litert ") and "cannot load this model" in message
    assert "\n" not in message


def test_the_tables_ship_in_the_package():
    """An installed (not editable) tfcodec must carry every table: setup.py's package_data."""
    import ast
    import fnmatch

    with open(os.path.join(ROOT, "setup.py")) as f:
        tree = ast.parse(f.read())
    setup_call = next(node for node in ast.walk(tree) if isinstance(node, ast.Call)
                      and getattr(node.func, "id", "") == "setup")
    package_data = ast.literal_eval(next(k.value for k in setup_call.keywords if k.arg == "package_data"))
    for runtime in runtimes.RUNTIMES:
        path = f"export/op_versions/{runtime}.json"
        assert os.path.exists(os.path.join(ROOT, "tfcodec", path))
        assert any(fnmatch.fnmatch(path, pattern) for pattern in package_data["tfcodec"]), path
