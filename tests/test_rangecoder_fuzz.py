"""Fuzzes tfcodec.rangecoder.decode_index with mutated range-coded streams.

More than 10,000 truncated, bit-flipped, extended, spliced and random
streams go through the decoder. Allowed outcomes: FormatError, or int32
values of the requested shape. Anything else (another exception type, a
hang, unbounded memory) fails. The numpy lock-step decoder, the
pure-Python one and the compiled one (where built) must also agree on every
input, stream by stream.
"""

import signal
import tracemalloc

import numpy as np
import pytest

from tfcodec import FormatError
from tfcodec import rangecoder as rc
from tfcodec.rangecoder import common as rc_common
from tfcodec.rangecoder import native as rc_native

SEED = 20240611
PER = 48  # symbols per stream
BATCH = 64


def _tables():
    rng = np.random.default_rng(SEED)
    x = np.arange(-40, 41)
    gauss = [rc.pmf_to_quantized_cdf(np.exp(-0.5 * (x / s) ** 2) / (s * np.sqrt(2 * np.pi)), 16)
             for s in (0.3, 2.0, 9.0)]
    plain = rc.build_lookup(gauss, 16)
    escapes = rc.build_lookup([[0, 3000, 4000, 4096], [0, 4096]], 12, overflow=True)
    mixed = []
    for p in (1, 3, 7, 11, 16):
        n = min(1 << p, 9)
        cuts = np.sort(rng.choice(np.arange(1, 1 << p), n - 1, replace=False))
        mixed.append(np.concatenate([[p if p % 2 else -p, 0], cuts, [1 << p] * 2]))
    mixed = np.concatenate(mixed).astype(np.int32)  # 1-D, mixed overflow rows
    return {"plain": plain, "escapes": escapes, "mixed": mixed}


def _valid_streams(lookup, rng, count):
    lk = rc.Lookup(lookup)
    index = rng.integers(0, lk.num_rows, (count, PER))
    nsym = lk.num_symbols[index]
    value = (rng.random(index.shape) * nsym).astype(np.int64)
    esc = lk.overflow[index] & (rng.random(index.shape) < 0.2)
    value = np.where(esc, rng.integers(-3000, 3000, index.shape), value)
    # Avoid zero-probability symbols in the random tables.
    cdf = lk._cdf16
    pos = lk._start[index] + np.clip(value, 0, nsym - 1)
    value = np.where(~esc & (cdf[pos] == cdf[pos + 1]), 0, value)
    return index, rc.encode_index(lookup, index, value, stream_rank=1)


def _mutate(s: bytes, rng, pool) -> bytes:
    b = bytearray(s)
    op = int(rng.integers(0, 10))
    if op == 0 and b:  # truncate
        return bytes(b[:int(rng.integers(0, len(b)))])
    if op == 1 and b:  # flip a few bits
        for _ in range(int(rng.integers(1, 5))):
            b[int(rng.integers(0, len(b)))] ^= 1 << int(rng.integers(0, 8))
        return bytes(b)
    if op == 2:  # extend
        return bytes(b) + rng.bytes(int(rng.integers(1, 6)))
    if op == 3:  # random bytes
        return rng.bytes(int(rng.integers(0, 2 * len(b) + 8)))
    if op == 4:  # constant fill
        return bytes([int(rng.choice([0, 0xFF, 0x80]))]) * int(rng.integers(0, 2 * len(b) + 8))
    if op == 5 and b:  # delete a byte
        k = int(rng.integers(0, len(b)))
        return bytes(b[:k] + b[k + 1:])
    if op == 6:  # insert a byte
        k = int(rng.integers(0, len(b) + 1))
        return bytes(b[:k] + rng.bytes(1) + b[k:])
    if op == 7:  # splice with another stream
        other = pool[int(rng.integers(0, len(pool)))]
        return bytes(b[:int(rng.integers(0, len(b) + 1))] + other[int(rng.integers(0, len(other) + 1)):])
    if op == 8:  # way too long
        return bytes(b) * int(rng.integers(2, 200))
    return bytes(b)  # unchanged (must decode)


def _decode(lookup, index, strings, rank):
    """FormatError -> None; anything else must be a well-formed array."""
    try:
        out = rc.decode_index(lookup, index, strings, stream_rank=rank)
    except FormatError:
        return None
    assert out.dtype == np.int32 and out.shape == index.shape
    return out


class _Watchdog:
    """Turns a hang into a test failure (SIGALRM; the suite runs on Linux)."""

    def __init__(self, seconds):
        self.seconds = seconds

    def __enter__(self):
        def fire(signum, frame):
            raise TimeoutError("decoder did not finish in time (hang?)")
        self.old = signal.signal(signal.SIGALRM, fire)
        signal.alarm(self.seconds)

    def __exit__(self, *exc):
        signal.alarm(0)
        signal.signal(signal.SIGALRM, self.old)


@pytest.mark.parametrize("name", ["plain", "escapes", "mixed"])
def test_fuzz_decode(name):
    rng = np.random.default_rng([SEED, len(name)])
    lookup = rc.Lookup(_tables()[name])
    lookup._buckets()
    n_batches = 55  # 55 * 64 = 3520 mutated streams per table, 10,560 in total
    index, valid = _valid_streams(lookup, rng, n_batches * BATCH)
    outcomes = {"error": 0, "decoded": 0}
    saved = rc_common._SCALAR_MAX_STREAMS
    with _Watchdog(300):
        for bi in range(n_batches):
            sl = slice(bi * BATCH, (bi + 1) * BATCH)
            idx = index[sl]
            mutated = [_mutate(s, rng, valid) for s in valid[sl]]
            # One stream at a time, pure-Python decoder.
            rc_common._SCALAR_MAX_STREAMS = 1 << 30
            try:
                with rc_native.numpy_only():
                    single = [_decode(lookup, i, s, 0) for i, s in zip(idx, mutated)]
                    # Differential check on a few streams with the numpy decoder.
                    rc_common._SCALAR_MAX_STREAMS = 0
                    for k in rng.choice(BATCH, 4, replace=False).tolist():
                        vec = _decode(lookup, idx[k], mutated[k], 0)
                        assert (vec is None) == (single[k] is None)
                        if vec is not None:
                            np.testing.assert_array_equal(vec, single[k])
                    # All streams at once, numpy decoder: fails iff any one fails.
                    batch = _decode(lookup, idx, mutated, 1)
            finally:
                rc_common._SCALAR_MAX_STREAMS = saved
            bad = [s is None for s in single]
            assert (batch is None) == any(bad)
            if batch is not None:
                np.testing.assert_array_equal(batch, np.stack(single))
            if rc_native.in_use():
                # The compiled decoder: every stream alone, then all at once.
                for k in range(BATCH):
                    native = _decode(lookup, idx[k], mutated[k], 0)
                    assert (native is None) == bad[k]
                    if native is not None:
                        np.testing.assert_array_equal(native, single[k])
                native = _decode(lookup, idx, mutated, 1)
                assert (native is None) == any(bad)
                if native is not None:
                    np.testing.assert_array_equal(native, batch)
            outcomes["error"] += sum(bad)
            outcomes["decoded"] += len(bad) - sum(bad)
    assert outcomes["error"] + outcomes["decoded"] == n_batches * BATCH
    # Both outcomes must actually occur.
    assert outcomes["error"] > 0.2 * n_batches * BATCH
    assert outcomes["decoded"] > 0.05 * n_batches * BATCH


def test_fuzz_memory_is_bounded_by_the_index():
    """Peak allocation depends on the (trusted) index, not on stream bytes."""
    rng = np.random.default_rng(SEED + 1)
    lookup = rc.Lookup(_tables()["escapes"])
    index = np.zeros((BATCH, PER), np.int64)
    huge = [rng.bytes(1 << 20)] * BATCH  # 64 MiB of garbage, refused early
    tracemalloc.start()
    try:
        with pytest.raises(FormatError):
            rc.decode_index(lookup, index, huge, stream_rank=1)
        _, peak = tracemalloc.get_traced_memory()
        assert peak < 4 << 20
        tracemalloc.reset_peak()
        garbage = [rng.bytes(int(rng.integers(0, 400))) for _ in range(BATCH)]
        _decode(lookup, index, garbage, 1)
        _, peak = tracemalloc.get_traced_memory()
        assert peak < 8 << 20
    finally:
        tracemalloc.stop()


def test_fuzz_all_zero_and_all_ones_never_hang():
    tables = _tables()
    with _Watchdog(60):
        for table in tables.values():
            lk = rc.Lookup(table)
            index = np.tile(np.arange(lk.num_rows), (8, 40))
            for fill in (b"\x00", b"\xff", b"\x55"):
                for n in (0, 1, 3, 50, 400):
                    _decode(lk, index, [fill * n] * 8, 1)
                    _decode(lk, index[0], fill * n, 0)
