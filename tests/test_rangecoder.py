"""tfcodec.rangecoder: TFC 2.14 golden vectors, round trips and error cases.

The golden vectors (tests/data/rangecoder_vectors.npz) come from
tools/make_rangecoder_vectors.py run against tensorflow-compression 2.14.1.
Every coder path is checked: the lock-step numpy coder, the pure-Python
coder for few streams, and the decoder's two symbol-search strategies.
"""

import contextlib
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfcodec import FormatError
from tfcodec import rangecoder as rc
# Private names are reached where they live: a constant set on the package
# would not reach the module that reads it.
from tfcodec.rangecoder import common as rc_common
from tfcodec.rangecoder import encode as rc_encode
from tfcodec.rangecoder import introsort
from tfcodec.rangecoder import native as rc_native
from tfcodec.rangecoder import tables as rc_tables

VECTORS = os.path.join(os.path.dirname(__file__), "data", "rangecoder_vectors.npz")
_Z = np.load(VECTORS)
CASES = [str(c) for c in _Z["cases"]]


def _strings(name):
    data = _Z[f"{name}/data"].tobytes()
    out, o = [], 0
    for n in _Z[f"{name}/lengths"].tolist():
        out.append(data[o:o + n])
        o += n
    return out


def _flatten(obj):
    if isinstance(obj, bytes):
        return [obj]
    return [s for item in obj for s in _flatten(item)]


@contextlib.contextmanager
def coder_path(path):
    """Forces one implementation: 'native' (the compiled coder), 'vector' (numpy
    lanes), 'scalar' (Python)."""
    if path == "native":
        if not rc_native.available():
            pytest.skip("the compiled range coder is not built here")
        assert rc_native.in_use(), "TFCODEC_RANGECODER=numpy turns the compiled coder off"
        yield
        return
    saved = rc_common._SCALAR_MAX_STREAMS
    rc_common._SCALAR_MAX_STREAMS = {"vector": 0, "scalar": 1 << 30}[path]
    try:
        with rc_native.numpy_only():
            yield
    finally:
        rc_common._SCALAR_MAX_STREAMS = saved


def lookup_for(table, search):
    """A Lookup whose decoder uses the bucket table (prebuilt) or searchsorted."""
    lk = rc.Lookup(table)
    if search:
        lk.bucket_entries = rc_tables._BUCKET_MAX_ENTRIES + 1
    else:
        lk._buckets()
    return lk


PATHS = [("vector", False), ("vector", True), ("scalar", False), ("native", False)]


@contextlib.contextmanager
def encoder_tables(compact):
    """compact=True: the encoder gathers from the unpadded bounds table (what
    it does when the padded one would be too big)."""
    saved = rc_tables._PADDED_MAX_ENTRIES
    if compact:
        rc_tables._PADDED_MAX_ENTRIES = 0
    try:
        yield
    finally:
        rc_tables._PADDED_MAX_ENTRIES = saved


# -----------------------------------------------------------------------------
# Golden vectors
# -----------------------------------------------------------------------------
def test_vectors_are_from_tfc_2_14():
    assert str(_Z["tfc_version"]).startswith("2.14")
    kinds = {c.rstrip("0123456789") for c in CASES}
    assert kinds == {"code", "pmf", "table", "garbage"}


@pytest.mark.parametrize("name", [c for c in CASES if c.startswith("code")])
@pytest.mark.parametrize("path,search", PATHS)
def test_encode_matches_tfc_bytes(name, path, search):
    lookup = lookup_for(_Z[f"{name}/lookup"], search)
    index, value = _Z[f"{name}/index"], _Z[f"{name}/value"]
    rank = int(_Z[f"{name}/stream_rank"])
    expected = _strings(name)
    # The encoder has no "search" variant; that flag picks its compact tables.
    with coder_path(path), encoder_tables(compact=search):
        got = rc.encode_index(lookup, index, value, stream_rank=rank)
    if rank == 0:
        assert isinstance(got, bytes)
    assert _flatten(got) == expected, str(_Z[f"{name}/note"])
    if rank:
        with coder_path(path), encoder_tables(compact=search):
            packed = rc.encode_index(lookup, index, value, stream_rank=rank, packed=True)
        assert packed.tolist() == expected
        assert packed.data == b"".join(expected)


@pytest.mark.parametrize("name", [c for c in CASES if c.startswith("code")])
@pytest.mark.parametrize("path,search", PATHS)
def test_decode_tfc_bytes(name, path, search):
    lookup = lookup_for(_Z[f"{name}/lookup"], search)
    index, value = _Z[f"{name}/index"], _Z[f"{name}/value"]
    rank = int(_Z[f"{name}/stream_rank"])
    strings = _strings(name)
    if rank == 0:
        strings = strings[0]
    elif rank > 1:
        strings = np.array(strings, dtype=object).reshape(index.shape[:rank])
    with coder_path(path):
        got = rc.decode_index(lookup, index, strings, stream_rank=rank)
    assert got.dtype == np.int32 and got.shape == value.shape
    np.testing.assert_array_equal(got, value, err_msg=str(_Z[f"{name}/note"]))


@pytest.mark.parametrize("name", [c for c in CASES if c.startswith("garbage")])
@pytest.mark.parametrize("path,search", PATHS)
def test_decode_arbitrary_bytes_like_tfc(name, path, search):
    """TFC decodes anything and reports a finalize flag; we raise FormatError
    exactly where that flag is false and otherwise return TFC's values."""
    lookup = lookup_for(_Z[f"{name}/lookup"], search)
    index = _Z[f"{name}/index"]
    ok, decoded = _Z[f"{name}/ok"], _Z[f"{name}/decoded"]
    strings = _strings(name)
    with coder_path(path):
        for i, s in enumerate(strings):
            if ok[i]:
                np.testing.assert_array_equal(rc.decode_index(lookup, index[i], s), decoded[i])
            else:
                with pytest.raises(FormatError):
                    rc.decode_index(lookup, index[i], s)
        # All streams at once: fails iff any one fails.
        if ok.all():
            np.testing.assert_array_equal(rc.decode_index(lookup, index, strings, 1), decoded)
        else:
            with pytest.raises(FormatError):
                rc.decode_index(lookup, index, strings, 1)


@pytest.mark.parametrize("name", [c for c in CASES if c.startswith("pmf")])
def test_pmf_to_quantized_cdf_matches_tfc(name):
    got = rc.pmf_to_quantized_cdf(_Z[f"{name}/pmf"], int(_Z[f"{name}/precision"]))
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, _Z[f"{name}/cdf"], err_msg=str(_Z[f"{name}/note"]))


@pytest.mark.parametrize("name", [c for c in CASES if c.startswith("table")])
def test_lookup_validation_matches_tfc(name):
    table = _Z[f"{name}/lookup"]
    if bool(_Z[f"{name}/valid"]):
        rc.Lookup(table)
    else:
        with pytest.raises(ValueError):
            rc.Lookup(table)


# -----------------------------------------------------------------------------
# Round trips (hypothesis)
# -----------------------------------------------------------------------------
@st.composite
def tables(draw):
    """Random valid lookups: mixed precisions, zero-probability symbols,
    overflow rows, 1-D (padded or not) or 2-D layout."""
    rows = draw(st.integers(1, 5))
    cdfs, precs = [], []
    for _ in range(rows):
        p = draw(st.integers(1, 16))
        n = draw(st.integers(1, min(1 << p, 12)))
        cuts = sorted(draw(st.lists(st.integers(1, (1 << p) - 1), min_size=n - 1,
                                    max_size=n - 1, unique=True)))
        cdf = [0] + cuts + [1 << p]
        # Zero-probability symbols: repeat some inner values.
        for k in range(1, len(cdf) - 2):
            if draw(st.booleans()) and draw(st.booleans()):
                cdf[k + 1] = cdf[k]
        cdfs.append(cdf)
        precs.append(-p if draw(st.booleans()) else p)
    if draw(st.booleans()):
        width = 1 + max(len(c) for c in cdfs) + draw(st.integers(0, 2))
        table = np.zeros((rows, width), np.int32)
        for i, (c, p) in enumerate(zip(cdfs, precs)):
            table[i, 0] = p
            table[i, 1:1 + len(c)] = c
            table[i, 1 + len(c):] = 1 << abs(p)
    else:
        parts = []
        for i, (c, p) in enumerate(zip(cdfs, precs)):
            pad = draw(st.integers(0, 2))
            if i + 1 < rows and precs[i + 1] == 1 << abs(p):
                precs[i + 1] = -precs[i + 1]  # TFC would read it as padding
            parts.append([p] + c + [1 << abs(p)] * pad)
        parts = [[precs[i]] + part[1:] for i, part in enumerate(parts)]
        table = np.array([x for part in parts for x in part], np.int32)
    return table


def draw_values(data, lookup, index, far):
    """Values with nonzero probability; overflow rows also get escapes."""
    cdf = lookup._cdf16
    values = np.zeros(index.shape, np.int64)
    flat = values.reshape(-1)
    for n, r in enumerate(index.reshape(-1).tolist()):
        s = int(lookup._start[r])
        freq = np.diff(cdf[s:s + lookup.num_symbols[r] + 1].astype(np.int64))
        ok = np.flatnonzero(freq > 0)
        if lookup.overflow[r]:
            maxv = int(lookup.num_symbols[r]) - 1
            choice = data.draw(st.integers(0, 3))
            if choice == 0:
                flat[n] = -data.draw(st.integers(1, far))
            elif choice == 1:
                flat[n] = maxv + data.draw(st.integers(0, far))
            else:
                ok = ok[ok < maxv]
                flat[n] = int(data.draw(st.sampled_from(ok.tolist()))) if len(ok) else maxv
        else:
            flat[n] = int(data.draw(st.sampled_from(ok.tolist())))
    return values


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(table=tables(), data=st.data())
def test_roundtrip_all_paths_agree(table, data):
    lookup = rc.Lookup(table)
    rank = data.draw(st.integers(0, 2))
    shape = tuple(data.draw(st.lists(st.integers(0, 7), min_size=rank, max_size=rank)))
    shape += (data.draw(st.integers(0, 30)),)
    index = np.asarray(data.draw(st.lists(st.integers(0, lookup.num_rows - 1),
                                          min_size=int(np.prod(shape)),
                                          max_size=int(np.prod(shape)))),
                       np.int32).reshape(shape)
    far = data.draw(st.sampled_from([3, 100, (1 << 30) - 2]))
    value = draw_values(data, lookup, index, far)
    dtype = data.draw(st.sampled_from([np.int32, np.int64]))
    value = value.astype(dtype)
    with coder_path("vector"):
        vec = rc.encode_index(table, index, value, stream_rank=rank)
    with coder_path("scalar"):
        sca = rc.encode_index(table, index, value, stream_rank=rank)
    assert vec == sca
    if rank:
        for path in ("vector", "scalar"):
            with coder_path(path):
                packed = rc.encode_index(table, index, value, stream_rank=rank, packed=True)
            assert packed.tolist() == _flatten(vec)
    for path, search in PATHS:
        with coder_path(path):
            out = rc.decode_index(lookup_for(table, search), index, vec, stream_rank=rank)
            np.testing.assert_array_equal(out, value)
            if rank:
                out = rc.decode_index(lookup_for(table, search), index, packed, stream_rank=rank)
                np.testing.assert_array_equal(out, value)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), streams=st.integers(5, 300),
       per=st.integers(1, 300))
def test_roundtrip_skewed_tables_many_carries(seed, streams, per):
    """Near-certain and 2**-16 symbols: long delayed (state 1) runs, carries
    through 0xFFFF digits, renormalization on every step."""
    rng = np.random.default_rng(seed)
    cdfs = [[0, 1, 2, 65534, 65535, 65536], [0, 65535, 65536], [0, 1, 65536],
            [0, 32768, 65536], [0, 65000, 65536]]
    table = rc.build_lookup(cdfs, 16)
    index = rng.integers(0, len(cdfs), (streams, per))
    lens = np.array([len(c) - 1 for c in cdfs])
    likely = np.array([2, 0, 1, 0, 0])
    value = np.where(rng.random(index.shape) < 0.9, likely[index],
                     (rng.random(index.shape) * lens[index]).astype(int))
    with coder_path("vector"):
        vec = rc.encode_index(table, index, value, 1)
        np.testing.assert_array_equal(rc.decode_index(table, index, vec, 1), value)
        packed = rc.encode_index(table, index, value, 1, packed=True)
        assert packed.tolist() == vec  # dropped and stripped zero bytes cut out
        np.testing.assert_array_equal(rc.decode_index(table, index, packed, 1), value)
    with coder_path("scalar"):
        assert rc.encode_index(table, index[:3], value[:3], 1) == vec[:3]


@pytest.mark.parametrize("streams, per", [(40, 300), (300, 40), (300, 260)])
def test_carries_land_on_the_right_digit_every_layout(streams, per):
    """The vector encoder places digits, and the carries their records hold,
    with a running digit count whose dtype and method depend on the shape
    (cumsum below 256 lanes, row additions above; uint8 counts up to 255
    steps, uint16 beyond): every stream must match the scalar port of TFC's
    coder byte for byte."""
    rng = np.random.default_rng(streams * 1000 + per)
    cdfs = [[0, 1, 2, 65534, 65535, 65536], [0, 65535, 65536], [0, 32768, 65536]]
    table = rc.build_lookup(cdfs, 16)
    index = rng.integers(0, len(cdfs), (streams, per))
    value = np.where(rng.random(index.shape) < 0.9, np.array([2, 0, 0])[index],
                     rng.integers(0, 2, index.shape))
    with coder_path("vector"):
        vec = rc.encode_index(table, index, value, 1)
    with coder_path("scalar"):
        assert rc.encode_index(table, index, value, 1) == vec


def test_interleaved_int32_streams_with_late_carries_match_scalar(monkeypatch):
    """Interleaved int32 input takes the per-step position path, and carries
    that wait in base for the next digit, or outlive the last one, or meet
    the finalize's state 1 all land where TFC's coder (the scalar port)
    puts them."""
    seen = {}
    encode_lanes, collect = rc_encode._encode_lanes, rc_encode._collect_streams

    def spy_lanes(pairs, positions, steps_lohi, packed=False):
        seen["per_step"] = isinstance(positions, tuple)
        return encode_lanes(pairs, positions, steps_lohi, packed)

    def spy_collect(rec_high, rec_ren, late_carry, state1, *rest):
        seen["late_carry"], seen["state1"] = int(late_carry.sum()), int(state1.sum())
        seen["waiting"] = int(((rec_high[:-1] >> 16) & ~rec_ren[:-1]).sum())
        return collect(rec_high, rec_ren, late_carry, state1, *rest)

    monkeypatch.setattr(rc_encode, "_encode_lanes", spy_lanes)
    monkeypatch.setattr(rc_encode, "_collect_streams", spy_collect)
    rng = np.random.default_rng(11)
    cdfs = [[0, 1, 2, 65534, 65535, 65536], [0, 65535, 65536], [0, 1, 65536],
            [0, 32768, 65536], [0, 65000, 65536]]
    table = rc.Lookup(rc.build_lookup(cdfs, 16))
    streams, per = 3000, 12
    rows = rng.integers(0, len(cdfs), per * streams).astype(np.int32)
    likely = np.array([2, 0, 1, 0, 0])
    lens = np.array([len(c) - 1 for c in cdfs])
    values = np.where(rng.random(rows.size) < 0.9, likely[rows],
                      (rng.random(rows.size) * lens[rows]).astype(int)).astype(np.int32)
    index_t, value_t = rows.reshape(per, streams).T, values.reshape(per, streams).T
    with coder_path("vector"):
        packed = rc.encode_index(table, index_t, value_t, 1, packed=True)
        listed = rc.encode_index(table, index_t, value_t, 1)
        decoded = rc.decode_index(table, index_t, packed, 1)
    assert seen["per_step"]
    # The data reaches every carry case (counts from the last call).
    assert seen["late_carry"] and seen["state1"] and seen["waiting"]
    with coder_path("scalar"):
        expected = rc.encode_index(table, index_t.copy(), value_t.copy(), 1)
    assert listed == expected
    assert packed.tolist() == expected
    np.testing.assert_array_equal(decoded, value_t)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_pmf_to_quantized_cdf_properties(data):
    precision = data.draw(st.integers(1, 16))
    n = data.draw(st.integers(2, min(1 << precision, 300)))
    pmf = np.array(data.draw(st.lists(st.floats(0, 1, width=32), min_size=n, max_size=n)),
                   np.float64)
    # Roughly normalized (the fix-up loop runs once per unit of rounding error).
    pmf *= data.draw(st.floats(0.8, 1.25)) / max(pmf.sum(), 1e-9)
    cdf = rc.pmf_to_quantized_cdf(pmf.astype(np.float32), precision)
    freq = np.diff(cdf.astype(np.int64))
    assert cdf[0] == 0 and cdf[-1] == 1 << precision
    assert (freq >= 1).all()
    # Usable as a lookup row straight away.
    rc.Lookup(np.concatenate([[precision], cdf]))


def test_libstdcxx_sort_sorts():
    rng = np.random.default_rng(0)
    for n in (0, 1, 2, 5, 16, 17, 100, 1000):
        keys = rng.integers(0, 5, n).tolist()  # many ties
        items = [[k, i] for i, k in enumerate(keys)]
        introsort.libstdcxx_sort(items, lambda a, b: a[0] < b[0])
        assert [k for k, _ in items] == sorted(keys)
    # Depth limit 0 goes through the heap sort.
    items = [[k, i] for i, k in enumerate(rng.integers(0, 9, 200).tolist())]
    introsort._heap_sort(items, 0, len(items), lambda a, b: a[0] < b[0])
    assert [k for k, _ in items] == sorted(k for k, _ in items)


# -----------------------------------------------------------------------------
# API details
# -----------------------------------------------------------------------------
def test_stream_shapes_and_string_containers():
    table = rc.build_lookup([[0, 10, 60, 64], [0, 32, 64]], 6)
    index = np.array([[[0, 1, 0], [1, 1, 0]]] * 3)  # (3, 2, 3)
    value = np.array([[[2, 1, 0], [0, 1, 1]]] * 3)
    one = rc.encode_index(table, index, value)
    assert isinstance(one, bytes)
    flat = rc.encode_index(table, index, value, stream_rank=1)
    assert isinstance(flat, list) and len(flat) == 3
    nested = rc.encode_index(table, index, value, stream_rank=2)
    assert len(nested) == 3 and all(len(x) == 2 for x in nested)
    full = rc.encode_index(table, index, value, stream_rank=3)
    assert len(full[0][0]) == 3
    for rank, strings in ((0, one), (1, flat), (1, tuple(flat)), (2, nested), (3, full),
                          (1, np.array(flat + [b""], dtype=object)[:3]),
                          (1, [bytearray(s) for s in flat])):
        np.testing.assert_array_equal(rc.decode_index(table, index, strings, rank), value)


def test_empty_inputs():
    table = rc.build_lookup([[0, 3, 8]], 3)
    assert rc.encode_index(table, np.zeros(0, int), np.zeros(0, int)) == b""
    assert rc.encode_index(table, np.zeros((0, 4), int), np.zeros((0, 4), int), 1) == []
    assert rc.encode_index(table, np.zeros((2, 0), int), np.zeros((2, 0), int), 1) == [b"", b""]
    assert rc.decode_index(table, np.zeros((0, 4), int), [], 1).shape == (0, 4)
    assert rc.decode_index(table, np.zeros((2, 0), int), [b"", b""], 1).shape == (2, 0)
    # An empty lookup can code nothing, but accepts empty input.
    empty = np.zeros((0, 3), np.int32)
    assert rc.encode_index(empty, np.zeros(0, int), np.zeros(0, int)) == b""
    for shape in [(0, 4), (2, 0), (9, 0)]:
        packed = rc.encode_index(table, np.zeros(shape, int), np.zeros(shape, int), 1, packed=True)
        assert packed.tolist() == [b""] * shape[0] and packed.data == b""
        assert rc.decode_index(table, np.zeros(shape, int), packed, 1).shape == shape


# -----------------------------------------------------------------------------
# Packed output and reused scratch arrays
# -----------------------------------------------------------------------------
def _gaussian_like_case(streams, per, seed=0):
    rng = np.random.default_rng(seed)
    cdfs = [rc.pmf_to_quantized_cdf(np.exp(-0.5 * (np.arange(-40, 41) / s) ** 2), 16)
            for s in (0.3, 2.0, 9.0)]
    table = rc.build_lookup(cdfs, 16)
    index = rng.integers(0, 3, (streams, per))
    value = np.clip(np.rint(rng.normal(40, 5, (streams, per))), 0, 80).astype(np.int32)
    return table, index, value


def test_packed_strings_behave_like_the_list():
    table, index, value = _gaussian_like_case(64, 50)
    strings = rc.encode_index(table, index, value, 1)
    packed = rc.encode_index(table, index, value, 1, packed=True)
    assert len(packed) == 64 and packed.lengths.tolist() == [len(x) for x in strings]
    assert list(packed) == strings and packed[3] == strings[3] and packed[-1] == strings[-1]
    assert packed[2:5] == strings[2:5]
    with pytest.raises(IndexError):
        packed[64]
    assert rc.PackedStrings(b"".join(strings), [len(x) for x in strings]) == packed
    assert "64 strings" in repr(packed)
    # Higher stream ranks pack the streams in C order.
    nested = rc.encode_index(table, index.reshape(8, 8, 50), value.reshape(8, 8, 50), 2)
    assert rc.encode_index(table, index.reshape(8, 8, 50), value.reshape(8, 8, 50), 2,
                           packed=True).tolist() == _flatten(nested)


def test_packed_strings_validation():
    with pytest.raises(ValueError, match="add up to 3 bytes"):
        rc.PackedStrings(b"abcd", [1, 2])
    with pytest.raises(ValueError, match="negative"):
        rc.PackedStrings(b"ab", [3, -1])
    table, index, value = _gaussian_like_case(8, 5)
    with pytest.raises(ValueError, match="stream_rank >= 1"):
        rc.encode_index(table, index[0], value[0], 0, packed=True)
    packed = rc.encode_index(table, index, value, 1, packed=True)
    with pytest.raises(ValueError, match="7 packed strings"):
        rc.decode_index(table, index[:7].reshape(7, 5), rc.PackedStrings(
            packed.data[:int(packed.lengths[:7].sum())], packed.lengths[:7]), 2)


def test_results_do_not_alias_reused_scratch_arrays():
    """The coders reuse per-thread temporaries; nothing they return may be one."""
    table, index, value = _gaussian_like_case(300, 40)
    strings = rc.encode_index(table, index, value, 1)
    decoded = rc.decode_index(table, index, strings, 1)
    # A smaller call reuses the same blocks, a bigger one regrows them.
    for streams, per, seed in [(200, 30, 1), (500, 70, 2), (300, 40, 3)]:
        other_t, other_i, other_v = _gaussian_like_case(streams, per, seed)
        other = rc.encode_index(other_t, other_i, other_v, 1)
        np.testing.assert_array_equal(rc.decode_index(other_t, other_i, other, 1), other_v)
        np.testing.assert_array_equal(decoded, value)
        assert rc.encode_index(table, index, value, 1) == strings


def test_scratch_arrays_are_per_thread():
    from concurrent.futures import ThreadPoolExecutor

    cases = [_gaussian_like_case(200 + 50 * k, 30 + k, seed=k) for k in range(4)]
    expected = [rc.encode_index(*c, 1) for c in cases]

    def work(k):
        table, index, value = cases[k % 4]
        for _ in range(5):
            strings = rc.encode_index(table, index, value, 1)
            assert strings == expected[k % 4]
            np.testing.assert_array_equal(rc.decode_index(table, index, strings, 1), value)
        return True

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(8)))


def test_scratch_keeps_only_blocks_up_to_its_limit(monkeypatch):
    scratch = rc_common._Scratch()
    a = scratch.array("x", (10, 4), np.int64)
    assert scratch.array("x", (5, 4), np.int32).base is not None
    assert scratch.blocks["x"].size == 320
    monkeypatch.setattr(rc_common, "_SCRATCH_MAX_BYTES", 100)
    big = scratch.array("y", (20,), np.int64)
    assert big.shape == (20,) and "y" not in scratch.blocks
    assert a.shape == (10, 4)


def test_lookup_object_is_reused_and_build_lookup():
    table = rc.build_lookup([[0, 1, 4], [0, 2, 3, 4]], 2, overflow=True)
    assert table[0, 0] == -2 and table.dtype == np.int32
    lk = rc.Lookup(table)
    assert lk.num_rows == 2 and list(lk.num_symbols) == [2, 3] and lk.overflow.all()
    index = np.tile([0, 1], (20, 50))
    value = np.tile([-7, 9], (20, 50))
    with rc_native.numpy_only():
        enc = rc.encode_index(lk, index, value, 1)
        assert lk._bounds_cache is not None  # cached on the object itself
        np.testing.assert_array_equal(rc.decode_index(lk, index, enc, 1), value)
        assert lk._bucket_cache is not None
    if rc_native.in_use():
        assert rc.encode_index(lk, index, value, 1) == enc
        assert lk._native_cache is not None  # the compiled coder's arrays, likewise


def test_scalar_and_vector_paths_switch_on_stream_count():
    table = rc.build_lookup([[0, 5, 16]], 4)
    rng = np.random.default_rng(3)
    for streams in (1, rc_common._SCALAR_MAX_STREAMS, rc_common._SCALAR_MAX_STREAMS + 1, 40):
        value = rng.integers(0, 2, (streams, 33))
        enc = rc.encode_index(table, np.zeros_like(value), value, 1)
        np.testing.assert_array_equal(rc.decode_index(table, np.zeros_like(value), enc, 1),
                                      value)


def test_vector_path_streams_longer_than_65535_symbols():
    """Over 2**16 digits in a stream (the per-stream digit count must not
    wrap): symbols of probability 2**-16 each emit one 16-bit digit."""
    table = rc.build_lookup([[0, 1, 65535, 65536], [0, 30000, 65536]], 16)
    rng = np.random.default_rng(5)
    streams, per = rc_common._SCALAR_MAX_STREAMS + 1, 70_000
    index = (rng.random((streams, per)) < 0.02).astype(np.int32)
    value = np.where(index == 0, 2 * rng.integers(0, 2, (streams, per)),
                     rng.integers(0, 2, (streams, per)))
    with coder_path("vector"):
        vec = rc.encode_index(table, index, value, 1)
        np.testing.assert_array_equal(rc.decode_index(table, index, vec, 1), value)
        packed = rc.encode_index(table, index, value, 1, packed=True)
        assert packed.tolist() == vec  # dropped and stripped zero bytes cut out
        np.testing.assert_array_equal(rc.decode_index(table, index, packed, 1), value)
    with coder_path("scalar"):
        assert rc.encode_index(table, index[:2], value[:2], 1) == vec[:2]


def test_escape_extremes():
    table = rc.build_lookup([[0, 1000, 4000, 4096]], 12, overflow=True)
    maxv = 2
    value = np.array([-(1 << 30) + 1, (1 << 30) - 2 + maxv, -1, maxv, 0, 1])
    for path in ("vector", "scalar"):
        with coder_path(path):
            enc = rc.encode_index(table, np.zeros((8, 6), int), np.tile(value, (8, 1)), 1)
            np.testing.assert_array_equal(
                rc.decode_index(table, np.zeros((8, 6), int), enc, 1), np.tile(value, (8, 1)))
    with pytest.raises(ValueError, match="2\\*\\*30"):
        rc.encode_index(table, [0], [-(1 << 30)])
    with pytest.raises(ValueError, match="2\\*\\*30"):
        rc.encode_index(table, [0], [(1 << 30) - 1 + maxv])


# -----------------------------------------------------------------------------
# Errors
# -----------------------------------------------------------------------------
@pytest.mark.parametrize("table", [
    np.array([[0, 0, 1]]), np.array([[17, 0, 1 << 17]]), np.array([[3, 1, 8]]),
    np.array([[3, 0, 5, 4, 8]]), np.array([[3, 0, 5, 7]]), np.array([[3, 0, 8, 9]]),
    np.array([[3, 0]]), np.array([3, 0, 8, 3]), np.zeros((2, 2, 3), np.int32),
    np.array([[3.0, 0.0, 8.0]]), np.array([[3, 0, 1 << 40]]),
    np.array([1, 0, 1, 2, 2, 0, 1, 4]),  # "2" after a precision-1 CDF is padding
])
def test_malformed_lookup(table):
    with pytest.raises(ValueError):
        rc.Lookup(table)
    with pytest.raises(ValueError):
        rc.encode_index(table, [0], [0])


def test_encode_argument_errors():
    table = rc.build_lookup([[0, 3, 3, 8], [0, 8]], 3)  # symbol 1 of row 0: p = 0
    for index, value, rank, match in [
        ([2], [0], 0, "index"), ([-1], [0], 0, "index"),
        ([0], [3], 0, "not in range"), ([0], [-1], 0, "not in range"),
        ([1], [1], 0, "not in range"),
        ([0, 0], [0], 0, "shape"), ([0], [0], 2, "stream_rank"),
        ([0], [0.5], 0, "integer"), ([0], [1 << 33], 0, "int32"),
    ]:
        with pytest.raises(ValueError, match=match):
            rc.encode_index(table, index, value, rank)
    for path in ("vector", "scalar"):
        with coder_path(path), pytest.raises(ValueError, match="zero probability"):
            rc.encode_index(table, np.zeros((6, 4), int), np.tile([0, 2, 1, 0], (6, 1)), 1)
    # Many streams: past a row's end (into the padded table's padding or
    # beyond its width) and negative values are out of range, not p = 0.
    index = np.zeros((6, 4), int)
    index[:, 2] = 1
    for bad in (1, 2, 7, -1):
        value = np.zeros((6, 4), int)
        value[3, 2] = bad
        for path, compact in (("vector", False), ("vector", True), ("scalar", False)):
            with coder_path(path), encoder_tables(compact), \
                    pytest.raises(ValueError, match=f"value={bad} not in range .* row 1"):
                rc.encode_index(table, index, value, 1)


def test_interleaved_streams_match_copies():
    """Streams laid out position-major (a transposed view, read without a copy)
    code and decode exactly like the same arrays made contiguous."""
    rng = np.random.default_rng(5)
    cdfs = [rc.pmf_to_quantized_cdf(rng.random(n) + 0.01, 12) for n in (2, 5, 30, 300)]
    lookup = rc.Lookup(rc.build_lookup(cdfs, 12))
    rows = rng.integers(0, 4, 37 * 16)
    values = (rng.random(rows.size) * np.array([2, 5, 30, 300])[rows]).astype(np.int32)
    index_t, value_t = rows.reshape(37, 16).T, values.reshape(37, 16).T  # 16 streams
    assert not index_t.flags.c_contiguous
    expected = rc.encode_index(lookup, index_t.copy(), value_t.copy(), 1)
    for compact in (False, True):
        with encoder_tables(compact):
            fresh = rc.Lookup(rc.build_lookup(cdfs, 12))  # builds its tables under `compact`
            assert rc.encode_index(fresh, index_t, value_t, 1) == expected
            packed = rc.encode_index(fresh, index_t, value_t, 1, packed=True)
            assert packed.tolist() == expected
    np.testing.assert_array_equal(rc.decode_index(lookup, index_t, expected, 1), value_t)
    np.testing.assert_array_equal(rc.decode_index(lookup, index_t, packed, 1), value_t)


def test_decode_format_errors():
    table = rc.build_lookup([[0, 3, 8], [0, 1, 2, 6, 8]], 3)
    rng = np.random.default_rng(0)
    index = rng.integers(0, 2, (6, 40))
    value = (rng.random(index.shape) * np.array([2, 4])[index]).astype(int)
    enc = rc.encode_index(table, index, value, 1)
    for path in ("vector", "scalar"):
        with coder_path(path):
            with pytest.raises(FormatError, match="stream 2"):
                rc.decode_index(table, index, enc[:2] + [enc[2] + b"\x01"] + enc[3:], 1)
            with pytest.raises(FormatError):  # far too long for 40 symbols
                rc.decode_index(table, index[0], enc[0] * 50)

def test_truncation_is_mostly_undetectable_without_framing():
    """Documented limit: a prefix of a TFC stream is usually itself a valid
    stream (TFC's finalize check accepts it), and often the exact encoding of
    other values, so no decoder can flag it. strict=True catches the rest."""
    table = rc.build_lookup([[0, 3, 8], [0, 1, 2, 6, 8]], 3)
    rng = np.random.default_rng(0)
    index = rng.integers(0, 2, (6, 40))
    value = (rng.random(index.shape) * np.array([2, 4])[index]).astype(int)
    enc = rc.encode_index(table, index, value, 1)
    rejected = 0
    for s, i, v in zip(enc, index, value):
        for cut in range(len(s)):
            try:
                got = rc.decode_index(table, i, s[:cut], strict=True)
            except FormatError:
                rejected += 1
                continue
            assert not np.array_equal(got, v)
            assert rc.encode_index(table, i, got) == s[:cut]
    assert rejected > 0


def test_decode_escape_runaway_is_format_error():
    """All-zero bits would make TFC's Elias-gamma loop spin forever."""
    table = np.array([[-16, 0, 65536]])  # every value escapes
    for path in ("vector", "scalar"):
        with coder_path(path):
            for data in (b"", b"\x00" * 40, b"\x00\x00\x00\x01"):
                with pytest.raises(FormatError, match="escape"):
                    rc.decode_index(table, np.zeros((8, 3), int), [data] * 8, 1)


def test_decode_argument_errors():
    table = rc.build_lookup([[0, 3, 8]], 3)
    enc = rc.encode_index(table, np.zeros((2, 3), int), np.zeros((2, 3), int), 1)
    with pytest.raises(ValueError, match="stream shape"):
        rc.decode_index(table, np.zeros((2, 3), int), enc[:1], 1)
    with pytest.raises(TypeError, match="trailing zero"):
        rc.decode_index(table, np.zeros((2, 3), int), np.array(enc), 1)
    with pytest.raises(TypeError, match="bytes"):
        rc.decode_index(table, np.zeros(3, int), "abc")
    with pytest.raises(TypeError, match="stream_rank"):
        rc.decode_index(table, np.zeros(3, int), b"", stream_rank=1.0)
    with pytest.raises(ValueError, match="index"):
        rc.decode_index(table, np.ones(3, int), b"")
    assert issubclass(FormatError, ValueError)


def test_benchmark_runs_and_round_trips(capsys):
    """benchmarks/bench_rangecoder_synthetic.py checks every coder's round trip itself;
    one quick round with both stream layouts, packed and not."""
    pytest.importorskip("constriction")
    import importlib.util
    import pathlib
    path = pathlib.Path(__file__).resolve().parents[1] / "benchmarks" / "bench_rangecoder_synthetic.py"
    spec = importlib.util.spec_from_file_location("bench_rangecoder_synthetic", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    bench.main(["--repeat", "1", "--streams", "1536", "--no-gaussian"])
    out = capsys.readouterr().out
    names = sorted(line[:27].strip() for line in out.splitlines() if line.startswith("tfcodec "))
    assert names == ["tfcodec", "tfcodec interleaved", "tfcodec interleaved packed",
                     "tfcodec packed"]
    assert "ratio = throughput" in out


@pytest.mark.parametrize("escapes", [0, 1, 5])
def test_overflow_rows_fast_path_matches_scalar(escapes):
    """Overflow tables take the padded fast path while no value needs an
    escape, and start over on the general path when one does: the bytes are
    the scalar (TFC-port) coder's either way."""
    rng = np.random.default_rng(escapes)
    cdfs = [rc.pmf_to_quantized_cdf(rng.random(n) + 0.01, 14) for n in (3, 9, 40)]
    table = rc.build_lookup(cdfs, 14, overflow=True)
    index = rng.integers(0, 3, (12, 50))
    value = (rng.random(index.shape) * (np.array([3, 9, 40])[index] - 1)).astype(np.int32)
    for k in range(escapes):  # far outside and negative values: escapes
        value[rng.integers(12), rng.integers(50)] = (-1) ** k * (1000 + k)
    with coder_path("scalar"):
        expected = rc.encode_index(table, index, value, 1)
    for compact in (False, True):
        with coder_path("vector"), encoder_tables(compact):
            assert rc.encode_index(rc.Lookup(table), index, value, 1) == expected
    np.testing.assert_array_equal(rc.decode_index(table, index, expected, 1), value)


def test_escapes_in_lanes_of_unequal_length_match_the_scalar_coder():
    """Lanes whose escapes make them shorter than others are padded to a common number of steps
    with full-interval steps. Those are no-ops only in the initial state: a lane that ends with a
    size of exactly 2**16 renormalizes on one and gains a digit (found by fuzzing the compiled
    coder against this one; about 1 batch in 9 of these hit it when the padding came last)."""
    rng = np.random.default_rng(5)
    # 1-wide symbols at 16 bits drive a lane's size down to 1 and so to 2**16 after renormalizing.
    lk = rc.Lookup(rc.build_lookup([[0, 1, 2, 3, 65535, 65536], [0, 1, 65535, 65536], [0, 30000, 65536]],
                                   16, overflow=True))
    for _ in range(60):
        index = rng.integers(0, 3, (16, 30))
        nsym = lk.num_symbols[index]
        value = rng.integers(0, 3, index.shape) % (nsym - 1)
        escape = rng.random(index.shape) < 0.1
        value = np.where(escape, rng.integers(-50, 50, index.shape) * 7 + 100, value)
        with coder_path("scalar"):
            expected = rc.encode_index(lk, index, value, 1)
        with coder_path("vector"):
            assert rc.encode_index(lk, index, value, 1) == expected
            np.testing.assert_array_equal(rc.decode_index(lk, index, expected, 1), value)
