"""The `tfcodec` command as a user runs it: outputs, errors, nothing lost."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from PIL import Image

from tfcodec import cli, container
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


def test_help_lists_subcommands():
    proc = subprocess.run([sys.executable, "-m", "tfcodec.cli", "--help"],
                          capture_output=True, text=True, timeout=120)
    for name in ("compress", "decompress", "info", "train"):
        assert name in proc.stdout


def test_without_tensorflow_the_commands_that_need_it_say_what_to_install(setup, tmp_path):
    """TensorFlow is an extra: a plain install runs `info`, and the others name the builds."""
    folder, bundle, image = setup
    out = folder / "for_info.tfc"
    assert run("compress", image, out, "--model", bundle) == 0
    code = textwrap.dedent("""
        import importlib.util, sys
        find_spec = importlib.util.find_spec
        importlib.util.find_spec = lambda name, *a: None if name == "tensorflow" else find_spec(name, *a)
        from tfcodec import cli
        sys.exit(cli.main(sys.argv[1:]))
    """)
    missing = subprocess.run([sys.executable, "-c", code, "compress", str(image), str(tmp_path / "x.tfc")],
                             capture_output=True, text=True)
    assert missing.returncode == 1 and not (tmp_path / "x.tfc").exists()
    assert missing.stderr.strip().splitlines() == [
        cli.NO_TENSORFLOW.format(command="compress")]
    assert "tfcodec[tpu]" in missing.stderr
    info = subprocess.run([sys.executable, "-c", code, "info", str(out)], capture_output=True, text=True)
    assert info.returncode == 0 and "test-cw-tiny" in info.stdout
