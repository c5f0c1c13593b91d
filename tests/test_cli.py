"""The `tfcodec` command as a user runs it: outputs, errors, nothing lost."""

import argparse
import importlib
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tfcodec import cli, container
from no_tensorflow import run_python
from tiny_models import ramp_image, write_bundle


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    bundle = write_bundle("test-cw-tiny", folder / "tiny.npz")
    image = folder / "in.png"
    Image.fromarray(ramp_image(70, 90)).save(image)
    return folder, bundle, image


def run(*args):
    return cli.main([str(a) for a in args])


def test_compress_info_decompress(setup, capsys):
    folder, bundle, image = setup
    out = folder / "a.tfc"
    assert run("compress", image, out, "--model", bundle, "--quality", "0.7") == 0
    header, _ = container.unpack(out.read_bytes())
    assert (header.width, header.height, header.rate) == (90, 70, 700)
    assert run("info", out) == 0
    assert "test-cw-tiny" in capsys.readouterr().out
    png = folder / "a.png"
    assert run("decompress", out, png, "--model", bundle) == 0
    assert np.asarray(Image.open(png)).shape == (70, 90, 3)


def test_bpp_target(setup):
    from tfcodec.api import load_codec

    folder, bundle, image = setup
    codec = load_codec(bundle)
    rgb = np.asarray(Image.open(image))
    low, high = (len(codec.compress(rgb, q)) * 8 / (70 * 90) for q in (0.0, 1.0))
    target = (low + high) / 2
    out = folder / "b.tfc"
    assert run("compress", image, out, "--model", bundle, "--bpp", f"{target:.4f}") == 0
    assert low <= out.stat().st_size * 8 / (70 * 90) <= target + 1e-3


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "text"])
def test_bad_streams_fail_cleanly_without_output(setup, damage, capsys):
    folder, bundle, image = setup
    good = folder / "good.tfc"
    run("compress", image, good, "--model", bundle)
    data = good.read_bytes()
    bad = folder / f"bad-{damage}.tfc"
    bad.write_bytes({"truncate": data[: len(data) // 2],
                     "flip": data[:20] + bytes([data[20] ^ 4]) + data[21:],
                     "empty": b"",
                     "text": b"hello, this is not a stream\n"}[damage])
    target = folder / f"bad-{damage}.png"
    assert run("decompress", bad, target, "--model", bundle) == 1
    assert "error" in capsys.readouterr().err
    assert not target.exists()
    assert not [p for p in os.listdir(folder) if p.endswith(".part")]


def test_stream_of_another_model_names_the_flag_that_picks_it(setup, capsys):
    folder, bundle, image = setup
    good = folder / "model.tfc"
    run("compress", image, good, "--model", bundle)
    header, strings = container.unpack(good.read_bytes())
    other = folder / "other-model.tfc"
    other.write_bytes(container.pack(container.Header("cw2020-small", header.weights_hash, header.height,
                                                      header.width, header.rate), strings))
    assert run("decompress", other, folder / "other-model.png", "--model", bundle) == 1
    assert "not 'test-cw-tiny': decode it with --model cw2020-small" in capsys.readouterr().err


def test_refuses_to_overwrite_input(setup, capsys):
    folder, bundle, image = setup
    before = image.read_bytes()
    assert run("compress", image, image, "--model", bundle) == 1
    assert "overwrite" in capsys.readouterr().err
    assert image.read_bytes() == before


def test_unreadable_image(setup, capsys):
    folder, bundle, _ = setup
    junk = folder / "junk.png"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 50)
    assert run("compress", junk, folder / "j.tfc", "--model", bundle) == 1
    assert "not a readable image" in capsys.readouterr().err


def test_missing_weights_file(setup, capsys):
    folder, _, image = setup
    assert run("compress", image, folder / "m.tfc", "--model", folder / "nope.npz") == 1
    assert "does not exist" in capsys.readouterr().err


def test_error_has_no_traceback_in_a_real_process(setup):
    folder, bundle, _ = setup
    bad = folder / "bad.tfc"
    bad.write_bytes(b"\x89TFC\x07")
    proc = subprocess.run([sys.executable, "-m", "tfcodec.cli", "info", str(bad)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "version 7" in proc.stderr


def test_every_subcommand_is_a_module_of_tfcodec_commands():
    """One CLI: each subcommand is tfcodec/commands/NAME.py, and nothing else parses a command line."""
    package = os.path.dirname(cli.__file__)
    commands = os.path.join(package, "commands")
    modules = {f[:-3] for f in os.listdir(commands) if f.endswith(".py") and f != "__init__.py"}
    assert modules == {name.replace("-", "_") for name in cli.SUBCOMMANDS}
    for name in cli.SUBCOMMANDS:
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(cli.module_name(name)).register(sub)
        assert list(sub.choices) == [name] and callable(sub.choices[name].get_default("func"))
    for folder, _, files in os.walk(package):
        for f in files:
            path = os.path.join(folder, f)
            if f.endswith(".py") and folder != commands and path != cli.__file__:
                with open(path) as source:
                    text = source.read()
                assert "argparse" not in text and "def register(subparsers" not in text, path


def test_a_subcommand_that_fails_to_import_is_an_error(monkeypatch):
    monkeypatch.setitem(cli.SUBCOMMANDS, "not-built", "a module that does not exist")
    with pytest.raises(ModuleNotFoundError, match="tfcodec.commands.not_built"):
        cli.build_parser()


def test_help_lists_every_subcommand_without_tensorflow(tmp_path):
    proc = run_python(["-m", "tfcodec", "--help"], tmp_path, block=True)
    assert proc.returncode == 0, proc.stderr
    listed = proc.stdout.split("COMMAND\n", 1)[1]
    for name in cli.SUBCOMMANDS:
        assert f"    {name} " in listed or f"    {name}\n" in listed, name
    assert "HEAVY-MODULES []" in proc.stdout


@pytest.mark.parametrize("alias, command", [("tfcodec.export", "export"), ("tfcodec.edge", "edge compress"),
                                            ("tfcodec.evaluate", "eval")])
def test_python_m_forms_are_the_tfcodec_subcommands(tmp_path, alias, command):
    """`python -m tfcodec.export --edgetpu ...` and the others users know run `tfcodec` itself."""
    proc = run_python(["-m", alias, *command.split()[1:], "--help"], tmp_path, block=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: tfcodec {command} ")
    own = subprocess.run([sys.executable, "-m", "tfcodec", *command.split(), "--help"], capture_output=True,
                         text=True, timeout=120, check=False)
    assert own.stdout == proc.stdout.rsplit("HEAVY-MODULES", 1)[0]


def test_edge_without_a_subcommand_shows_its_help(capsys):
    assert run("edge") == 2
    assert "compress" in capsys.readouterr().out


def test_edge_neither_needs_nor_imports_tensorflow(setup, tmp_path):
    """`tfcodec edge` reaches the edge runtime where TensorFlow is not installed, and leaves it
    unimported where it is (a full round trip on an export: tests/test_edge.py)."""
    image = setup[2]
    for block in (True, False):
        proc = run_python(["-m", "tfcodec", "edge", "compress", image, tmp_path / "e.tfc", "--models", tmp_path],
                          tmp_path / "site", block=block)
        assert proc.returncode == 1
        assert proc.stderr.startswith(f"tfcodec edge compress: error: {tmp_path} is not an edge export"), proc.stderr
        assert "HEAVY-MODULES []" in proc.stdout


def test_export_reports_errors_like_every_command(setup, capsys):
    folder, _, _ = setup
    assert run("export", "--weights", folder / "nope.npz", "--out", folder / "edge", "--float32") == 1
    assert capsys.readouterr().err == f"tfcodec export: error: weights file {folder / 'nope.npz'} does not exist\n"
    assert not (folder / "edge").exists()


def test_without_tensorflow_the_commands_that_need_it_say_what_to_install(setup, tmp_path):
    """TensorFlow is an extra: a plain install runs `info` (and compress/decompress on the shipped
    models: tests/test_fast_path.py), and the others name the builds."""
    folder, bundle, image = setup
    out = folder / "for_info.tfc"
    assert run("compress", image, out, "--model", bundle) == 0
    for command in ("truncate", "export"):
        args = [out, tmp_path / "x.tfc"] if command == "truncate" else ["--out", tmp_path / "x"]
        missing = run_python(["-m", "tfcodec", command, *args], tmp_path, block=True)
        assert missing.returncode == 1 and os.listdir(tmp_path) == ["sitecustomize.py"]  # nothing written
        assert missing.stderr.strip().splitlines() == [cli.NO_TENSORFLOW.format(command=command)]
    assert "tfcodec[tpu]" in missing.stderr
    info = run_python(["-m", "tfcodec", "info", out], tmp_path, block=True)
    assert info.returncode == 0 and "test-cw-tiny" in info.stdout


def test_batch_mode_codes_every_file_and_names_the_bad_one(setup, tmp_path, capsys):
    """`compress IN... --out-dir D`: one model load, every good file coded (the same bytes as
    one at a time), the bad one named and skipped, exit status 1; then `decompress` back."""
    folder, bundle, image = setup
    inputs = []
    for i in range(3):
        path = tmp_path / f"photo{i}.png"
        Image.fromarray(ramp_image(48 + 16 * i, 64, seed=i)).save(path)
        inputs.append(path)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    out = tmp_path / "streams"  # created by --out-dir
    assert run("compress", *inputs, broken, "--out-dir", out, "--model", bundle, "--quality", "0.4") == 1
    captured = capsys.readouterr()
    assert f"{broken}: error: " in captured.err and "1 of 4 files failed" in captured.err
    assert sorted(os.listdir(out)) == ["photo0.tfc", "photo1.tfc", "photo2.tfc"]
    single = tmp_path / "single.tfc"
    assert run("compress", inputs[1], single, "--model", bundle, "--quality", "0.4") == 0
    assert (out / "photo1.tfc").read_bytes() == single.read_bytes()
    capsys.readouterr()

    pixels = tmp_path / "pixels"
    streams = sorted(out.iterdir())
    assert run("decompress", *streams, "--out-dir", pixels, "--model", bundle, "--quiet") == 0
    assert capsys.readouterr().out == ""
    for i in range(3):
        assert np.asarray(Image.open(pixels / f"photo{i}.png")).shape == (48 + 16 * i, 64, 3)


def test_batch_mode_refuses_what_would_collide_or_is_ambiguous(setup, tmp_path, capsys):
    folder, bundle, image = setup
    (tmp_path / "a").mkdir()
    twin = tmp_path / "a" / image.name
    twin.write_bytes(image.read_bytes())
    assert run("compress", image, twin, "--out-dir", tmp_path / "out", "--model", bundle) == 1
    assert "would both be written to in.tfc" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    assert run("compress", image, "--model", bundle) == 1  # one path and no --out-dir
    assert "give IN OUT" in capsys.readouterr().err
