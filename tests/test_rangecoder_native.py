"""The compiled range coder (tfcodec/rangecoder/_native.c) against the numpy coder.

The numpy coder is the reference (tests/test_rangecoder.py holds it to TFC's bytes); the compiled
one must write exactly its bytes and read back exactly its values, on every table shape the
format allows: 16-bit and narrower rows, escape rows with Elias-gamma payloads up to 2**30 - 1,
1-D tables, int32 and int64 input, streams interleaved or contiguous. Corrupt streams are fuzzed
in tests/test_rangecoder_fuzz.py. Where the extension is not built (no compiler), these tests
skip, except the one that checks the numpy fallback; in CI they fail instead if the machine could
have built it (a C compiler and Python's headers).
"""

import os
import subprocess
import sys

import numpy as np
import pytest

from compiled_paths import require_compiled
from tfcodec import FormatError
from tfcodec import rangecoder as rc
from tfcodec.rangecoder import native

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def _needs_native(request):
    require_compiled(request, native._PATH, "tfcodec.rangecoder._native")


def _gaussian_rows(precision, scales, support=None):
    rows = []
    for s in scales:
        k = support or max(1, int(np.ceil(6 * s)))
        x = np.arange(-k, k + 1)
        pmf = np.exp(-0.5 * (x / s) ** 2)
        rows.append(rc.pmf_to_quantized_cdf(pmf / pmf.sum(), precision))
    return rows


def _random_table(rng):
    """A lookup of random shape: Gaussian or random rows, 2-D or 1-D, escapes or not."""
    kind = int(rng.integers(0, 4))
    if kind == 0:  # the codec's own: Gaussian rows, 16 or 12 bits
        precision = int(rng.choice([12, 16]))
        scales = np.exp(rng.uniform(np.log(0.11), np.log(40.0), int(rng.integers(1, 12))))
        return rc.build_lookup(_gaussian_rows(precision, scales), precision, overflow=bool(rng.integers(0, 2)))
    if kind == 1:  # random rows at a random precision, some symbols of zero probability
        precision = int(rng.integers(1, 17))
        rows = []
        for _ in range(int(rng.integers(1, 6))):
            n = int(rng.integers(1, min(1 << precision, 40) + 1))
            cuts = np.sort(rng.integers(0, (1 << precision) + 1, n - 1))
            rows.append(np.concatenate([[0], cuts, [1 << precision]]))
        return rc.build_lookup(rows, precision, overflow=bool(rng.integers(0, 2)))
    if kind == 2:  # 1-D, rows of mixed precision and overflow
        parts = []
        for _ in range(int(rng.integers(1, 5))):
            p = int(rng.integers(1, 17))
            n = int(rng.integers(2, min(1 << p, 12) + 1)) if p > 1 else 2
            cuts = np.sort(rng.choice(np.arange(1, 1 << p), n - 1, replace=False)) if (1 << p) > n else np.arange(1, n)
            parts.append(np.concatenate([[p if rng.integers(0, 2) else -p, 0], cuts, [1 << p]]))
        return np.concatenate(parts).astype(np.int32)
    # Escapes only: tiny rows, values far outside.
    return rc.build_lookup([[0, 3000, 4000, 4096], [0, 4096], [0, 1, 4096]], 12, overflow=True)


def _codable_values(lk, rng, index):
    """Values the numpy coder accepts: in range and of nonzero probability, or escaped."""
    nsym = lk.num_symbols[index]
    value = (rng.random(index.shape) * nsym).astype(np.int64)
    cdf = lk._cdf16
    pos = lk._start[index] + value
    zero = cdf[pos] == cdf[pos + 1]
    if zero.any():  # the row's first symbol of nonzero probability instead
        for k in np.flatnonzero(zero.reshape(-1)):
            r = int(index.reshape(-1)[k])
            widths = np.diff(cdf[lk._start[r]:lk._start[r] + nsym.reshape(-1)[k] + 1].astype(np.int64))
            value.reshape(-1)[k] = int(np.flatnonzero(widths)[0])
    esc = lk.overflow[index] & (rng.random(index.shape) < 0.15)
    if esc.any():
        far = np.where(rng.random(index.shape) < 0.05, (1 << 30) - 1, rng.integers(1, 5000, index.shape))
        sign = rng.integers(0, 2, index.shape) * 2 - 1
        escaped = np.where(sign < 0, -far, nsym - 2 + far)
        value = np.where(esc, escaped, value)
    return value


def test_encoder_and_decoder_match_the_numpy_coder_on_10k_random_streams():
    rng = np.random.default_rng(20261207)
    streams = 0
    while streams < 10_000:
        table = _random_table(rng)
        lk = rc.Lookup(table)
        lanes = int(rng.integers(1, 200))
        per = int(rng.integers(0, 120))
        index = rng.integers(0, lk.num_rows, (lanes, per))
        value = _codable_values(lk, rng, index)
        layout = int(rng.integers(0, 3))
        if layout == 1:  # int32, interleaved (the codec's own layout)
            index = np.ascontiguousarray(index.T.astype(np.int32)).T
            value = np.ascontiguousarray(value.T.astype(np.int32)).T
        elif layout == 2:
            index, value = index.astype(np.int16), value.astype(np.int32)
            if lk.overflow.any():
                index = index.astype(np.int64)
        with native.numpy_only():
            expected = rc.encode_index(lk, index, value, stream_rank=1)
        got = rc.encode_index(lk, index, value, stream_rank=1)
        assert got == expected
        packed = rc.encode_index(lk, index, value, stream_rank=1, packed=True)
        assert packed.data == b"".join(expected) and packed.lengths.tolist() == [len(s) for s in expected]
        np.testing.assert_array_equal(rc.decode_index(lk, index, expected, stream_rank=1), value)
        np.testing.assert_array_equal(rc.decode_index(lk, index, packed, stream_rank=1), value)
        streams += lanes


def test_single_stream_and_nested_ranks():
    lk = rc.Lookup(rc.build_lookup(_gaussian_rows(16, [0.5, 3.0]), 16, overflow=True))
    rng = np.random.default_rng(1)
    index = rng.integers(0, 2, (3, 4, 50))
    value = _codable_values(lk, rng, index)
    for rank in (0, 1, 2, 3):
        with native.numpy_only():
            expected = rc.encode_index(lk, index, value, stream_rank=rank)
        assert rc.encode_index(lk, index, value, stream_rank=rank) == expected
        np.testing.assert_array_equal(rc.decode_index(lk, index, expected, stream_rank=rank), value)


def test_values_it_cannot_code_raise_the_numpy_coders_errors():
    lk = rc.Lookup(rc.build_lookup([[0, 10, 10, 16]], 4))
    with pytest.raises(ValueError, match=r"value=3 not in range \[0, 3\)"):
        rc.encode_index(lk, np.zeros((2, 5), np.int32), np.full((2, 5), 3), stream_rank=1)
    with pytest.raises(ValueError, match="zero probability"):
        rc.encode_index(lk, np.zeros((2, 5), np.int32), np.ones((2, 5), np.int32), stream_rank=1)
    esc = rc.Lookup(rc.build_lookup([[0, 8, 16]], 4, overflow=True))
    with pytest.raises(ValueError, match="2\\*\\*30"):
        rc.encode_index(esc, np.zeros(3, np.int32), np.array([0, 1 << 30, 0]))


def test_corrupt_streams_raise_format_error_naming_the_stream():
    lk = rc.Lookup(rc.build_lookup(_gaussian_rows(16, [1.0]), 16))
    index = np.zeros((3, 40), np.int32)
    good = rc.encode_index(lk, index, np.full((3, 40), 6), stream_rank=1)
    with pytest.raises(FormatError, match="stream 1 is corrupt"):
        rc.decode_index(lk, index, [good[0], good[1] + b"\x01\x02", good[2]], stream_rank=1)
    esc = rc.Lookup(rc.build_lookup([[0, 8, 16]], 4, overflow=True))
    with pytest.raises(FormatError, match="escape code too long"):
        rc.decode_index(esc, np.zeros(4, np.int32), b"\x80" + b"\x00" * 40)


def test_numpy_only_and_the_environment_switch_it_off():
    assert native.backend() == "native"
    with native.numpy_only():
        assert native.backend() == "numpy"
    assert native.backend() == "native"
    proc = subprocess.run([sys.executable, "-c", "from tfcodec.rangecoder import native; print(native.backend())"],
                          capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "TFCODEC_RANGECODER": "numpy"}, timeout=120)
    assert proc.stdout.strip() == "numpy", proc.stderr


def test_fallback_without_the_extension_codes_the_same_bytes():
    """Where the extension could not be built, the package imports and codes with numpy."""
    code = (
        "import sys; sys.modules['tfcodec.rangecoder._native'] = None\n"
        "import numpy as np\n"
        "from tfcodec import rangecoder as rc\n"
        "from tfcodec.rangecoder import native\n"
        "assert not native.available() and native.backend() == 'numpy'\n"
        "lk = rc.build_lookup([[0, 5, 11, 16]], 4)\n"
        "v = np.arange(60).reshape(3, 20) % 3\n"
        "s = rc.encode_index(lk, np.zeros_like(v), v, 1, packed=True)\n"
        "assert (rc.decode_index(lk, np.zeros_like(v), s, 1) == v).all()\n"
        "print(s.data.hex())\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lk = rc.build_lookup([[0, 5, 11, 16]], 4)
    v = np.arange(60).reshape(3, 20) % 3
    assert rc.encode_index(lk, np.zeros_like(v), v, 1, packed=True).data.hex() == proc.stdout.strip()


def test_real_workload_benchmark_replays_the_codecs_calls(tmp_path, capsys):
    """benchmarks/bench_rangecoder.py on one small image: it records compress/decompress's coder
    calls, replays them with every coder (checking bytes and values) and reports the ratios."""
    pytest.importorskip("constriction")
    pytest.importorskip("tensorflow")
    import importlib.util
    import shutil

    images = tmp_path / "images"
    images.mkdir()
    shutil.copy(os.path.join(ROOT, "docs", "example.png"), images / "example.png")
    spec = importlib.util.spec_from_file_location("bench_rangecoder", os.path.join(ROOT, "benchmarks", "bench_rangecoder.py"))
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    out = tmp_path / "report.txt"
    bench.main(["--images", str(images), "--qualities", "0.5", "--repeat", "1",
                "--cache", str(tmp_path / "workload.npz"), "--out", str(out)])
    report = out.read_text()
    assert "encode_index calls" in report and "1 images x qualities" in report
    assert "tfcodec, compiled (_native.c) / constriction throughput" in report
    assert "tfcodec, numpy (reference) / constriction throughput" in report
    assert "recording" in capsys.readouterr().err
    # The recording is reused: a second run replays without compressing again.
    bench.main(["--images", str(images), "--qualities", "0.5", "--repeat", "1",
                "--cache", str(tmp_path / "workload.npz")])
    assert "recording" not in capsys.readouterr().err
