"""The decoder: ``decode_index`` and its two coder paths.

A pure-Python port of TFC's RangeDecoder and OverflowDecode reads a few
streams one by one (``_decode_scalar``); many streams are decoded in
lock-step by ``_decode_lanes``, which finds each symbol through the
two-level inverse CDF of :class:`~tfcodec.rangecoder.tables.Lookup` in exact
float64 arithmetic. Both end with TFC's finalize check, so corrupt streams
raise :class:`tfcodec.FormatError` where TFC would notice.
"""

from __future__ import annotations

import bisect

import numpy as np

from tfcodec.errors import FormatError
from tfcodec.rangecoder import native
from tfcodec.rangecoder.common import (_FOUR, _GAMMA_MAX_ZEROS, _INT32_MAX, _MASK, _ONE16, _ONE16_U64,
                                       _ONE_U64, _SIXTEEN, _THIRTYTWO, _U64_MASK, _check_rank,
                                       _check_rows, _int_array, _scratch, _use_scalar_coder)
from tfcodec.rangecoder.encode import encode_index
from tfcodec.rangecoder.strings import PackedStrings, _flatten_strings
from tfcodec.rangecoder.tables import _BUCKET_MAX_ENTRIES, Lookup, _as_lookup

_ZERO_I32 = np.int32(0)
# Adding 2**52 to a float64 integer below 2**52 leaves the integer in the low
# mantissa bits: the decoder reads them as int64, less the bits of 2**52.
_TWO52 = float(1 << 52)
_TWO52_BITS = np.float64(_TWO52).view(np.int64)


def decode_index(lookup, index, strings, stream_rank: int = 0,
                 strict: bool = False) -> np.ndarray:
    """Decodes values coded by :func:`encode_index` or TFC (``entropy_decode_index``).

    ``index`` fixes the output shape and the row of every symbol; ``strings``
    holds one bytes per stream (nested like ``index.shape[:stream_rank]``),
    or a :class:`PackedStrings` of them in C order. Returns int32 values.

    Raises :class:`tfcodec.FormatError` when a stream is detectably corrupt:
    TFC's finalize check fails (unread bytes, or a final state the encoder
    cannot end in), an escape code is impossible, or the stream is longer
    than its symbols allow. Range-coded bytes carry no redundancy, so most
    truncations and many bit flips still decode (to other values); frame the
    streams with lengths and a checksum to catch those. ``strict=True``
    additionally re-encodes the result and requires the exact input bytes
    (rejects every non-canonical stream, at about twice the cost).
    """
    table = _as_lookup(lookup)
    index = _int_array(index, "index", fits_int32=False)  # _check_rows checks the rows
    stream_shape, lanes, per = _check_rank(index.shape, stream_rank)
    if stream_shape:
        flat_strings = _flatten_strings(strings, stream_shape)
    else:
        flat_strings = _flatten_strings(strings, ())
    if lanes == 0:
        return np.zeros(index.shape, np.int32)
    idx = index.reshape(lanes, per)
    _check_rows(idx, table.num_rows)
    use_native = native.in_use()
    # Whether any symbol's row has escapes (the compiled decoder does not need to know, and
    # the check costs a gather: there any overflow row in the table counts).
    has_ovf = bool(idx.size and table.overflow.any() and (use_native or table.overflow[idx].any()))
    # An honest stream is at most 4 + 2 bytes per coding step long (an
    # escaped value adds at most 2 * 30 binary steps); refusing longer ones
    # up front bounds all later work by the (trusted) index size.
    max_steps = per * (1 + (2 * (_GAMMA_MAX_ZEROS + 1) if has_ovf else 0))
    if isinstance(flat_strings, PackedStrings):
        lens = flat_strings.lengths
    else:
        lens = np.fromiter(map(len, flat_strings), np.int64, lanes)
    too_long = np.flatnonzero(lens > 4 + 2 * max_steps)
    if too_long.size:
        i = int(too_long[0])
        raise FormatError(f"range-coded stream {i} is longer than its "
                          f"{per} symbols can explain ({lens[i]} bytes)")
    if use_native:
        out = _decode_native(table, idx, flat_strings, lens)
    elif _use_scalar_coder(lanes):
        out = np.empty((lanes, per), np.int32)
        for i in range(lanes):
            out[i] = _decode_scalar(table, idx[i], flat_strings[i], i)
    else:
        out = _decode_lanes(table, idx, flat_strings, lens, has_ovf)
    if strict:
        again = encode_index(table, idx, out, stream_rank=1)
        for i, (a, b) in enumerate(zip(again, flat_strings)):
            if a != b:
                raise _corrupt(i, "not the encoding of the values it decodes to")
    return out.reshape(index.shape)


def _decode_native(table: Lookup, idx, strings, lens) -> np.ndarray:
    """The compiled decoder (native.py); output laid out like ``_decode_lanes``'."""
    lanes, per = idx.shape
    data = strings.data if isinstance(strings, PackedStrings) else b"".join(strings)
    if idx.T.flags.c_contiguous and per > 1:
        out = np.empty((per, lanes), np.int32).T
    else:
        out = np.empty((lanes, per), np.int32)
    failed = native.decode(table, idx, data, lens, out)
    if failed is not None:
        raise _corrupt(*failed)
    return out


def _corrupt(lane, why):
    return FormatError(f"range-coded stream {lane} is corrupt or truncated ({why})")


def _finalize_ok(base, sm1, value, consumed) -> bool:
    """TFC RangeDecoder::Finalize: the value the encoder must have picked."""
    if not consumed:
        return False
    upper = (base + sm1) & _MASK
    if base == 0 or upper < base:
        return value == 0
    shift = 24 if ((base - 1) >> 24) < (upper >> 24) else 16
    mid = ((base - 1) >> shift) + 1
    return ((mid << shift) & _MASK) == value


def _decode_scalar(table: Lookup, rows, data: bytes, lane: int) -> np.ndarray:
    """Direct port of TFC's RangeDecoder + OverflowDecode, one stream."""
    cdf = table._list()
    starts = table._start[rows].tolist()
    nsyms = table.num_symbols[rows].tolist()
    ovfs = table.overflow[rows].tolist()
    n = len(data)
    src = data + b"\x00\x00\x00\x00"
    st = {"base": 0, "sm1": _MASK, "value": int.from_bytes(src[:4], "big"), "pos": 4}

    def renorm(base, sm1):
        if sm1 < _ONE16:
            pos = st["pos"]
            word = (src[pos] << 8 | src[pos + 1]) if pos < n else 0
            st["value"] = ((st["value"] << 16) & _MASK) | word
            st["pos"] = pos + 2
            base = (base << 16) & _MASK
            sm1 = (sm1 << 16) | 0xFFFF
        st["base"], st["sm1"] = base, sm1

    def symbol(start, stop):
        base, size = st["base"], st["sm1"] + 1
        t = -((-((((st["value"] - base) & _MASK) + 1) << 16)) // size)
        k = bisect.bisect_left(cdf, t, start + 1, stop)
        a = (size * cdf[k - 1]) >> 16
        b = ((size * cdf[k]) >> 16) - 1
        renorm((base + a) & _MASK, b - a)
        return k - start - 1

    def bit():
        # TFC's DecodeLinearly({0, 1, 2}, precision=1).
        base, size = st["base"], st["sm1"] + 1
        half = size >> 1
        if ((st["value"] - base) & _MASK) >= half:
            renorm((base + half) & _MASK, size - half - 1)
            return 1
        renorm(base, half - 1)
        return 0

    out = []
    for j in range(len(starts)):
        s0 = starts[j]
        sym = symbol(s0, s0 + nsyms[j] + 1)
        if ovfs[j] and sym == nsyms[j] - 1:
            zeros = 0
            while bit() == 0:
                zeros += 1
                if zeros > _GAMMA_MAX_ZEROS:
                    raise _corrupt(lane, "escape code too long")
            v = 1 << zeros
            for k in range(zeros - 1, -1, -1):
                v |= bit() << k
            if bit():
                sym = -v
            else:
                sym = v + nsyms[j] - 2
                if sym > _INT32_MAX:
                    raise _corrupt(lane, "escaped value out of int32 range")
        out.append(sym)
    if not _finalize_ok(st["base"], st["sm1"], st["value"], st["pos"] >= n):
        raise _corrupt(lane, "final state mismatch")
    return np.array(out, np.int32).reshape(-1)


def _decode_lanes(table: Lookup, idx, strings, lens, has_ovf) -> np.ndarray:
    """Decodes all streams in lock-step; returns int32 [lanes, per].

    Per step, u = (offset + 1) / size is computed in float64. TFC's
    "smallest v with lower_bound <= size * v" is the first 16-bit CDF entry
    c with c >= u * 2**16; comparing c / 2**16 < u instead is exact, because
    a non-integer u * 2**16 is at least 2**-32 away from an integer, far
    more than float64's rounding, and scaling by powers of two is exact. The
    entry comes from one gather in the inverse-CDF table (bucket
    ceil(u * 2**p / 2**k), again exact) plus one compare, or else from a
    searchsorted over all rows' CDFs (rows offset by 2**17).

    The loop keeps only what the next step needs (offset, size, read
    pointer) and records each step's CDF position; symbols, and TFC's
    ``base`` for the final check, are derived afterwards in whole-array
    passes. ``base`` follows from the invariant base + offset == the last
    32 bits read (mod 2**32). Every gather uses mode="clip": the indices are
    in range by construction (offset < size holds for any input bytes), and
    numpy buffers the output of the default mode.
    """
    lanes, per = idx.shape
    nwords = (lens + 1) // 2
    wstart = np.zeros(lanes, np.int64)
    np.cumsum(nwords[:-1] + 1, out=wstart[1:])
    # One zero word after each stream: reads past the end return 0, like TFC.
    if isinstance(strings, PackedStrings):
        # Each stream's bytes move to its word start, in one scatter.
        padded = np.zeros(2 * int(wstart[-1] + nwords[-1] + 1), np.uint8)
        shift = 2 * wstart - strings._offsets[:-1]
        padded[np.repeat(shift, lens) + np.arange(len(strings.data))] = \
            np.frombuffer(strings.data, np.uint8)
        words = padded.view(">u2").astype(np.uint16)
    else:
        buf = b"".join([s + (b"\x00\x00\x00" if len(s) & 1 else b"\x00\x00") for s in strings])
        words = np.frombuffer(buf, ">u2").astype(np.uint16)  # small: stays in cache
    wend = wstart + nwords
    off = _read32(words, wstart, wend)
    ptr = wstart + 2  # next word to read (unclamped; reads clamp to wend)
    size = np.full(lanes, 1 << 32, np.uint64)

    # Step j decodes column j of every stream; intp rows make np.take cheap.
    idx_t = _scratch.array("dec_index", (per, lanes), np.intp)
    np.copyto(idx_t, idx.T)
    bound_pairs = table._decoder_pairs()
    use_bk = table.bucket_entries <= _BUCKET_MAX_ENTRIES and (
        table._bucket_cache is not None or 16 * lanes * per >= table.bucket_entries)
    shf_all = _scratch.array("dec_shift", idx_t.shape, np.float64)
    if use_bk:
        btab, boff, bk, cdf_frac = table._buckets()
        # Bucket of u: ceil(u * 2**p / 2**k) - 1 + the row's offset.
        bscale_tab = np.ldexp(1.0, np.abs(table.precision) - bk)
        bscale = bscale_tab[0] if bscale_tab.min() == bscale_tab.max() else None
        # The row offsets carry 2**52: the sum's float64 bits then read, less
        # those of 2**52, as the integer bucket (cheaper than a float->int cast).
        np.take((boff - 1).astype(np.float64) + _TWO52, idx_t, out=shf_all, mode="clip")
        gi = np.empty(lanes, np.intp)
        tb = np.empty(lanes, np.float64)
        tb_bits = tb.view(np.int64)
        cp = np.empty(lanes, np.float64)
        corr = np.empty(lanes, np.bool_)
        neg = np.empty(lanes, np.bool_)
        g32 = np.empty(lanes, np.int32)
    else:
        np.take(table._rowkey, idx_t, out=shf_all, mode="clip")
    if has_ovf:
        esc_tab = np.where(table.overflow, table._start + table.num_symbols, -1)
        esc_g = np.empty(lanes, np.int64)
        escaped = []
    g_all = _scratch.array("dec_position", (per, lanes), np.intp)
    t = np.empty(lanes, np.float64)
    lo = np.empty(lanes, np.uint64)
    hi = np.empty(lanes, np.uint64)
    w = np.empty(lanes, np.uint16)
    w64 = np.empty(lanes, np.uint64)
    rp = np.empty(lanes, np.int64)
    sh = np.empty(lanes, np.uint64)
    ren = np.empty(lanes, np.bool_)
    state = (off, size, ptr, wend)
    key, rowkey = table._key, table._rowkey
    # Local names and positional outputs, as in _encode_lanes.
    add, sub, mul, div, rshift, lshift, band, bor, less, le, ceil, minimum = (
        np.add, np.subtract, np.multiply, np.divide, np.right_shift, np.left_shift,
        np.bitwise_and, np.bitwise_or, np.less, np.less_equal, np.ceil, np.minimum)
    copyto = np.copyto
    for j in range(per):
        g = g_all[j]
        add(off, _ONE_U64, lo)
        div(lo, size, t)
        if use_bk:
            if bscale is not None:
                mul(t, bscale, tb)
            else:
                mul(t, bscale_tab.take(idx_t[j], None, None, "clip"), tb)
            ceil(tb, tb)
            add(tb, shf_all[j], tb)
            sub(tb_bits, _TWO52_BITS, gi)
            btab.take(gi, None, g32, "clip")
            copyto(g, g32)  # intp: the index dtype take wants
            less(g32, _ZERO_I32, neg)
            tail = neg.nonzero()[0]
            if tail.size:  # buckets with several CDF steps: search
                t16 = ceil(t[tail] * 65536.0)
                g[tail] = key.searchsorted(t16 + rowkey[idx_t[j, tail]])
            cdf_frac.take(g, None, cp, "clip")
            less(cp, t, corr)
            add(g, corr, g, casting="unsafe")
        else:
            mul(t, 65536.0, t)
            ceil(t, t)
            add(t, shf_all[j], t)
            g[:] = key.searchsorted(t)
        bound_pairs.take(g, None, hi, "clip")
        band(hi, _U64_MASK, lo)
        rshift(hi, _THIRTYTWO, hi)
        mul(lo, size, lo)
        rshift(lo, _SIXTEEN, lo)
        mul(hi, size, hi)
        rshift(hi, _SIXTEEN, hi)
        sub(off, lo, off)
        sub(hi, lo, size)
        le(size, _ONE16_U64, ren)
        copyto(sh, ren, casting="unsafe")
        lshift(sh, _FOUR, sh)
        lshift(size, sh, size)
        lshift(off, sh, off)
        minimum(ptr, wend, rp)
        words.take(rp, None, w, "clip")
        mul(w, ren, w64)
        bor(off, w64, off)
        add(ptr, ren, ptr, casting="unsafe")
        if has_ovf:
            np.take(esc_tab, idx_t[j], out=esc_g, mode="clip")
            esc = g == esc_g
            if esc.any():
                lanes_e = np.flatnonzero(esc)
                vals = _decode_escapes(state, lanes_e, words,
                                       table.num_symbols[idx_t[j, lanes_e]] - 1)
                if vals.max() > _INT32_MAX:
                    raise _corrupt(int(lanes_e[np.argmax(vals)]),
                                   "escaped value out of int32 range")
                escaped.append((j, lanes_e, vals))
    first = _scratch.array("dec_first", idx_t.shape, np.intp)
    np.take(table._start + 1, idx_t, out=first, mode="clip")
    g_all -= first
    if idx.T.flags.c_contiguous and per > 1:
        # Interleaved streams in, interleaved out: the same layout as the
        # index, written without a transposing copy.
        out = np.empty((per, lanes), np.int32).T
    else:
        out = np.empty((lanes, per), np.int32)
    np.copyto(out.T, g_all, casting="unsafe")
    if has_ovf:
        for j, lanes_e, vals in escaped:
            out[lanes_e, j] = vals
    _check_final_state(off, size, ptr, words, wend)
    return out


def _read32(words, at, end):
    """The 32 bits at word ``at`` of each lane (words at or past ``end`` read 0)."""
    high = words[np.minimum(at, end)].astype(np.uint64)
    return (high << np.uint64(16)) | words[np.minimum(at + 1, end)]


def _check_final_state(off, size, ptr, words, wend):
    """TFC's RangeDecoder::Finalize for every lane: all bytes consumed, and
    the last 32 bits read are the value the encoder's finalize writes."""
    value = _read32(words, ptr - 2, wend)
    base = (value - off) & _U64_MASK
    sm1 = size - np.uint64(1)
    upper = (base + sm1) & _U64_MASK
    straddle = (base + sm1) > _U64_MASK
    bm1 = (base - np.uint64(1)) & _U64_MASK
    shift = np.where((bm1 >> 24) < (upper >> 24), 24, 16).astype(np.uint64)
    mid = (bm1 >> shift) + np.uint64(1)
    ok_mid = ((mid << shift) & _U64_MASK) == value
    ok = (ptr >= wend) & np.where((base == 0) | straddle, value == 0, ok_mid)
    if not ok.all():
        raise _corrupt(int(np.flatnonzero(~ok)[0]), "final state mismatch")


def _decode_escapes(state, lanes_e, words, maxv):
    """Slow path: Elias-gamma escape payloads for the streams in ``lanes_e``.

    Streams that are done with a phase keep coding an identity step (a
    one-symbol CDF), which leaves their state untouched.
    """
    off_all, size_all, ptr_all, wend_all = state
    off = off_all[lanes_e]
    size = size_all[lanes_e]
    ptr = ptr_all[lanes_e]
    end = wend_all[lanes_e]

    def bit(active):
        nonlocal off, size, ptr
        half = size >> 1
        one = active & (off >= half)
        a = np.where(one, half, 0).astype(np.uint64)
        size = np.where(active, np.where(one, size - half, half), size).astype(np.uint64)
        off = off - a
        ren = size <= _ONE16
        sh = ren.astype(np.uint64) << np.uint64(4)
        size = size << sh
        off = (off << sh) | (words[np.minimum(ptr, end)].astype(np.uint64) * ren)
        ptr = ptr + ren
        return one

    zeros = np.zeros(len(lanes_e), np.int64)
    active = np.ones(len(lanes_e), np.bool_)
    for _ in range(_GAMMA_MAX_ZEROS + 1):
        one = bit(active)
        zeros += active & ~one
        active &= ~one
        if not active.any():
            break
    if active.any():
        raise _corrupt(int(lanes_e[np.flatnonzero(active)[0]]), "escape code too long")
    val = np.left_shift(np.int64(1), zeros)
    for k in range(int(zeros.max()) - 1, -1, -1):
        val |= bit(zeros > k).astype(np.int64) << k
    sign = bit(np.ones(len(lanes_e), np.bool_))
    off_all[lanes_e] = off
    size_all[lanes_e] = size
    ptr_all[lanes_e] = ptr
    return np.where(sign, -val, val + maxv - 1)
