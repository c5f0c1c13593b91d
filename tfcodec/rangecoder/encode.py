"""The encoder: ``encode_index`` and its two coder paths.

A pure-Python port of TFC's RangeEncoder codes a few streams one by one
(``_encode_scalar``, also the reference the tests compare against); many
streams are coded in lock-step by ``_encode_lanes``, one numpy operation per
step covering every stream, with carries and TFC's delayed bytes resolved
afterwards in whole-array passes (``_collect_streams``).
"""

from __future__ import annotations

import numpy as np

from tfcodec.rangecoder import native
from tfcodec.rangecoder.common import (_FOUR, _GAMMA_LIMIT, _MASK, _ONE16, _ONE16_U64, _SIXTEEN,
                                       _THIRTYTWO, _U64_MASK, _check_rank, _check_rows, _int_array,
                                       _scratch, _unsigned, _use_scalar_coder)
from tfcodec.rangecoder.strings import PackedStrings, _nest
from tfcodec.rangecoder.tables import Lookup, _as_lookup

# The encoder's mask for base: 33 bits keep a pending carry, 32 drop it.
_KEEP_CARRY = np.uint64((1 << 33) - 1)


def encode_index(lookup, index, value, stream_rank: int = 0, packed: bool = False):
    """Range-codes ``value[i]`` with CDF row ``index[i]`` (TFC ``entropy_encode_index``).

    The first ``stream_rank`` axes select independent streams, like the shape
    of TFC's encoder handle: rank 0 returns one ``bytes``, rank 1 a list of
    bytes, higher ranks nested lists. Rows with negative precision code
    out-of-range values through the escape symbol (|gamma| < 2**30).

    ``packed=True`` (``stream_rank`` >= 1) returns the same strings as one
    :class:`PackedStrings` (one buffer and the lengths, streams in C order),
    which saves a Python object per stream: worth it for thousands of streams.
    """
    table = _as_lookup(lookup)
    index = _int_array(index, "index", fits_int32=False)  # _check_rows checks the rows
    value = _int_array(value, "value")
    if index.shape != value.shape:
        raise ValueError(f"index shape {index.shape} != value shape {value.shape}")
    stream_shape, lanes, per = _check_rank(index.shape, stream_rank)
    if packed and not stream_shape:
        raise ValueError("packed=True needs stream_rank >= 1")
    if lanes == 0:
        if packed:
            return PackedStrings(b"", [])
        return _nest([], stream_shape) if stream_shape else b""
    idx = index.reshape(lanes, per)
    val = value.reshape(lanes, per)
    _check_rows(idx, table.num_rows)
    if native.in_use():
        coded = native.encode(table, idx, val)
        if coded is not None:
            out = PackedStrings(*coded)
            if packed:
                return out
            return _nest(list(out), stream_shape) if stream_shape else out[0]
        # A value it cannot code: the numpy coder below raises the error.
    # Everything from here on is position-major ([per, lanes]): step j codes
    # row j, one symbol of every stream, and reads it contiguously. Input
    # laid out that way (``x.reshape(per, lanes).T``, streams interleaved)
    # is read as is; lane-major input pays one transposing copy of the
    # indices and strided reads of the values.
    if val.dtype.itemsize < 4:
        val = val.astype(np.int32)  # so that negatives read as huge unsigned
    scalar = _use_scalar_coder(lanes)
    padded = None
    if not scalar and per:
        padded = table._padded_pairs()
    if padded is not None and _unsigned(val).max() < padded[1]:
        # Fast path: position = row * W + value in the padded table (intp, the
        # index dtype np.take wants); values past their row's end, and values
        # that need an escape, are caught as zero-width symbols by the coder.
        if (idx.dtype == val.dtype == np.int32 and idx.T.flags.c_contiguous
                and val.T.flags.c_contiguous):
            # Interleaved int32 input: positions step by step (rows * W <=
            # 2**20 fits int32).
            positions = (idx.T, val.T, np.int32(padded[1]))
        else:
            positions = _scratch.array("enc_pos", (per, lanes), np.intp)
            np.multiply(idx.T, padded[1], out=positions, casting="unsafe")
            np.add(positions, val.T, out=positions, casting="unsafe")
        out, zero = _encode_lanes(padded[0], positions, None, packed)
        if not zero.any():
            return out if packed else _nest(out, stream_shape)
        if not table.overflow.any():
            i = int(np.flatnonzero(zero)[0])
            _raise_bad_value(table, idx[i], val[i])
        # Escapes (or an error the general path words better): start over there.
    idx_t = _scratch.array("enc_index", (per, lanes), np.intp)  # the dtype np.take wants
    np.copyto(idx_t, idx.T)
    sym_t, esc_bits = _check_values(table, idx_t, val.T)
    lof, hif, first = table._bounds()
    pos_t = _scratch.array("enc_pos", (per, lanes), np.intp)
    np.take(first, idx_t, out=pos_t, mode="clip")
    np.add(pos_t, sym_t, out=pos_t, casting="unsafe")
    steps = None
    if not scalar and esc_bits is not None:
        # Escapes: precompute every step's bounds, escape bits interleaved
        # (None when uneven escapes would make that table too big).
        steps = _expand_escapes(lof[pos_t], hif[pos_t], esc_bits)
    if scalar or (esc_bits is not None and steps is None):
        out = [_encode_scalar(lof[pos_t[:, i]], hif[pos_t[:, i]],
                              None if esc_bits is None else [x[:, i] for x in esc_bits])
               for i in range(lanes)]
        zero = np.array([s is None for s in out])
        if packed and not zero.any():
            out = PackedStrings(b"".join(out), [len(x) for x in out])
    elif steps is not None:
        out, zero = _encode_lanes(None, None, steps, packed)
    else:
        out, zero = _encode_lanes(table._bound_pairs(), pos_t, None, packed)
    if zero.any():
        i = int(np.flatnonzero(zero)[0])
        _raise_bad_value(table, idx[i], val[i])
    if packed:
        return out
    return _nest(out, stream_shape) if stream_shape else out[0]


def _raise_bad_value(table: Lookup, rows, values):
    """The error for a stream the coder found a zero-width symbol in: the
    first value outside its row (no overflow), or of zero probability."""
    rows, values = np.asarray(rows, np.int64), np.asarray(values, np.int64)
    nsym = table.num_symbols[rows]
    outside = (values < 0) | (values >= nsym)
    if outside.any():
        j = int(np.flatnonzero(outside)[0])
        raise ValueError(f"value={values[j]} not in range [0, {nsym[j]}) "
                         f"for row {rows[j]} (no overflow)")
    lof, hif, first = table._bounds()
    p = first[rows] + values
    j = int(np.flatnonzero(lof[p] == hif[p])[0])
    raise ValueError(f"value={int(values[j])} has zero probability in row {int(rows[j])}")


def _check_values(table: Lookup, idx, val):
    """Validates values against their rows; returns the coded symbol per value
    (the escape symbol where a value overflows) and the escape payloads."""
    esc_bits = None
    if table.overflow.any():
        nsym = table.num_symbols[idx]
        val = val.astype(np.int64)
        ovf = table.overflow[idx]
        maxv = nsym - 1
        escape = ovf & ((val < 0) | (val >= maxv))
        bad = ~ovf & ((val < 0) | (val >= nsym))
        if escape.any():
            neg = val < 0
            gamma = np.where(neg, -val, val - maxv + 1)
            if np.any(escape & (gamma >= _GAMMA_LIMIT)):
                raise ValueError("value too far outside the table: TFC's escape code "
                                 "only supports |gamma| < 2**30")
            val = np.where(escape, maxv, val)
            esc_bits = (escape, gamma, neg)
    else:
        # One unsigned compare covers both val < 0 and val >= nsym.
        if val.dtype.itemsize < 4:
            val = val.astype(np.int32)
        uval = _unsigned(val)
        limit = _scratch.array("enc_limit", idx.shape, uval.dtype)
        np.take(table.num_symbols.astype(uval.dtype), idx, out=limit, mode="clip")
        bad = _scratch.array("enc_bad", idx.shape, np.bool_)
        np.greater_equal(uval, limit, out=bad)
    if bad.any():
        r = tuple(np.argwhere(bad)[0])
        raise ValueError(f"value={val[r]} not in range [0, {table.num_symbols[idx[r]]}) "
                         f"for row {idx[r]} (no overflow)")
    return val, esc_bits


def _escape_sequence(gamma: int, neg: bool) -> list[int]:
    """Elias-gamma bits of ``gamma`` (MSB first, after n-1 zeros) and the sign."""
    n = gamma.bit_length()
    return [0] * (n - 1) + [(gamma >> k) & 1 for k in range(n - 1, -1, -1)] + [int(neg)]


def _encode_scalar(lo_row, hi_row, esc_bits) -> bytes | None:
    """Direct port of TFC's RangeEncoder (delay/carry states), one stream.
    Returns None if a symbol has zero probability."""
    lo_l, hi_l = lo_row.tolist(), hi_row.tolist()
    if any(a == b for a, b in zip(lo_l, hi_l)):
        return None
    if esc_bits is not None:
        escape, gamma, neg = esc_bits
        extra = {int(j): _escape_sequence(int(gamma[j]), bool(neg[j]))
                 for j in np.flatnonzero(escape)}
        if extra:
            seq_lo, seq_hi = [], []
            for j in range(len(lo_l)):
                seq_lo.append(lo_l[j])
                seq_hi.append(hi_l[j])
                for bit in extra.get(j, ()):
                    seq_lo.append(bit << 15)
                    seq_hi.append((bit + 1) << 15)
            lo_l, hi_l = seq_lo, seq_hi
    base, sm1, delay = 0, _MASK, 0
    sink = bytearray()
    for lo, hi in zip(lo_l, hi_l):
        size = sm1 + 1
        a = (size * lo) >> 16
        b = ((size * hi) >> 16) - 1
        base += a
        overflow = base > _MASK
        base &= _MASK
        sm1 = b - a
        if base + sm1 > _MASK:  # state 1: interval straddles 2**32
            if sm1 < _ONE16:
                base = (base << 16) & _MASK
                sm1 = (sm1 << 16) | 0xFFFF
                delay += 0x20000
            continue
        if delay:
            if overflow:
                sink += bytes(((delay >> 8) & 0xFF, delay & 0xFF))
                sink += b"\x00" * (delay >> 16)
            else:
                delay -= 1
                sink += bytes(((delay >> 8) & 0xFF, delay & 0xFF))
                sink += b"\xff" * (delay >> 16)
            delay = 0
        if sm1 < _ONE16:
            top = base >> 16
            base = (base << 16) & _MASK
            sm1 = (sm1 << 16) | 0xFFFF
            if base + sm1 <= _MASK:
                sink += bytes((top >> 8, top & 0xFF))
            else:
                delay = top + 1
    if delay:
        sink.append((delay >> 8) & 0xFF)
        if delay & 0xFF:
            sink.append(delay & 0xFF)
    elif base:
        upper = base + sm1
        mid = ((base - 1) >> 24) + 1
        if mid <= (upper >> 24):
            sink.append(mid)
        else:
            mid = ((base - 1) >> 16) + 1
            sink.append(mid >> 8)
            if mid & 0xFF:
                sink.append(mid & 0xFF)
    return bytes(sink)


def _encode_lanes(pairs, positions, steps_lohi, packed=False):
    """Encodes all streams in lock-step; returns one bytes per stream and a
    per-stream flag for zero-probability symbols.

    Step j codes the symbols at ``positions[j]`` in ``pairs`` (one uint64
    ``lower | upper << 32`` per symbol), one per stream, or the precomputed
    bounds ``steps_lohi[0][j], steps_lohi[1][j]``. ``positions`` is an intp
    [steps, lanes] array, or ``(rows, values, width)`` with int32 [steps,
    lanes] rows and values of a row-padded table: then each step computes
    its positions ``rows * width + values`` (in int32, widened to intp for
    the gather), which spares the cache a whole intp position array (2.4 MB
    at hyperprior sizes, about 5 % of the encoder's time). The loop records bits
    16..32 of the sum ``base + a`` and whether the interval was
    renormalized. Each renormalization emits bits 16..31 of the sum as a
    digit. Bit 32 is a carry into the digits already emitted: base keeps it
    until the lane's next renormalization, so a digit's record also holds
    the carry into the digit before it (TFC's coder carries at most once
    between two digits). Resolving the carries afterwards yields exactly
    TFC's bytes, because TFC's "delay" state only withholds the digits a
    carry could still change.
    """
    if steps_lohi is not None:
        lo_t, hi_t = steps_lohi
        steps, lanes = lo_t.shape
    else:
        per_step = isinstance(positions, tuple)
        if per_step:
            rows_t, values_t, width = positions
            steps, lanes = rows_t.shape
            pos32 = np.empty(lanes, np.int32)
            pos = np.empty(lanes, np.intp)
        else:
            steps, lanes = positions.shape
        fetched = np.empty(lanes, np.uint64)
        lo = np.empty(lanes, np.uint64)
        hi = np.empty(lanes, np.uint64)
    # One extra row for the finalize digit.
    # Bits 16.. of each step's sum (a digit and the carry bit above it): half
    # the bytes of the sums themselves, which the loop keeps in one hot row.
    rec_high = _scratch.array("enc_high", (steps + 1, lanes), np.uint32)
    rec_ren = _scratch.array("enc_renorm", (steps + 1, lanes), np.bool_)
    base = np.zeros(lanes, np.uint64)
    size = np.full(lanes, 1 << 32, np.uint64)
    a = np.empty(lanes, np.uint64)
    b = np.empty(lanes, np.uint64)
    sh = np.empty(lanes, np.uint64)  # same dtype as the shifted: no casting loop
    s = np.empty(lanes, np.uint64)
    keep = np.empty(lanes, np.uint64)
    r64 = np.empty(lanes, np.uint64)
    # Local names and positional outputs: a global lookup and keyword
    # parsing cost about 0.1 us per call, and this loop makes 17 to 20 per step.
    mul, add, sub, rshift, lshift, band, le = (
        np.multiply, np.add, np.subtract, np.right_shift, np.left_shift,
        np.bitwise_and, np.less_equal)
    copyto = np.copyto
    for j in range(steps):
        if steps_lohi is not None:
            lo, hi = lo_t[j], hi_t[j]
        else:
            if per_step:
                mul(rows_t[j], width, pos32)
                add(pos32, values_t[j], pos32)
                copyto(pos, pos32)
            else:
                pos = positions[j]
            # mode="clip": positions are validated; the default mode buffers.
            # The method: np.take's Python wrapper costs 1 us a call.
            pairs.take(pos, None, fetched, "clip")
            band(fetched, _U64_MASK, lo)
            rshift(fetched, _THIRTYTWO, hi)
        mul(size, lo, a)
        rshift(a, _SIXTEEN, a)
        mul(size, hi, b)
        rshift(b, _SIXTEEN, b)
        add(base, a, s)
        rshift(s, _SIXTEEN, rec_high[j], casting="unsafe")
        sub(b, a, size)
        r = rec_ren[j]
        le(size, _ONE16_U64, r)
        copyto(r64, r, casting="unsafe")
        lshift(r64, _FOUR, sh)
        lshift(size, sh, size)
        lshift(s, sh, base)
        # Mask base to 32 bits where renormalized (the carry went into this
        # step's record), to 33 elsewhere: a carry stays in bit 32 until the
        # next digit's record, which then holds every carry its lane owes
        # the digit before (one at most).
        rshift(_KEEP_CARRY, r64, keep)
        band(base, keep, base)
    # A zero-width symbol (zero probability, or a value in a row's padding)
    # leaves size == 0 for good.
    zero = size == 0
    if zero.any():
        return None, zero
    late_carry = base > _U64_MASK  # carries after the last digit
    base &= _U64_MASK

    # Finalize. State 1 (interval straddles 2**32) picks 2**32: a carry into
    # the pending digits, whose trailing zero bytes TFC does not write.
    # Otherwise TFC appends a rounded-up base: mid24 (one byte) or mid16 (two
    # bytes, the second only if nonzero); both fit the "digit, drop a zero
    # low byte" pattern of one extra 16-bit digit.
    upper = base + size - np.uint64(1)
    state1 = upper > _U64_MASK
    bm1 = base - np.uint64(1)
    mid24 = (bm1 >> 24) + np.uint64(1)
    use24 = mid24 <= (upper >> 24)
    mid16 = (bm1 >> 16) + np.uint64(1)
    tail = np.where(use24, mid24 << 8, mid16)
    has_tail = ~state1 & (base != 0)
    rec_high[steps] = tail & np.uint64(0xFFFF)  # its digit (the carry bit is not read)
    rec_ren[steps] = has_tail
    drop = has_tail & ((tail & np.uint64(0xFF)) == 0)

    return _collect_streams(rec_high, rec_ren, late_carry, state1, has_tail, drop,
                            packed), zero


def _collect_streams(rec_high, rec_ren, late_carry, state1, has_tail, drop, packed=False):
    """One bytes per lane from the encoder's step-major records: the digits
    of renormalized steps (the low 16 bits of their records), each record's
    bit 16 added to the digit before it as a carry, the carries left at the
    end (``late_carry``, ``state1``) added to the last digit before the
    finalize digit, and a dropped zero low byte where ``drop``.

    The records are read in their step-major order and each digit is
    scattered to its place in the lane-major output (a transposed copy of
    the records would cost more). ``packed``: one PackedStrings instead.
    """
    rows, lanes = rec_high.shape
    flat_high = rec_high.reshape(-1)
    emitted = _running_count(rec_ren)  # inclusive, per lane
    offsets = np.zeros(lanes + 1, np.int64)
    np.cumsum(emitted[-1], out=offsets[1:])
    total = int(offsets[-1])
    # last[j, i]: where lane i's latest digit up to step j goes in the output.
    last = _scratch.array("enc_last", (rows, lanes), np.int32 if total < 1 << 31 else np.int64)
    np.add(emitted, (offsets[:-1] - 1).astype(last.dtype), out=last)
    last = last.reshape(-1)
    at = np.flatnonzero(rec_ren)  # step-major flat positions of the digits
    words = _scratch.array("enc_words", (total,), np.uint32)
    words[last[at].astype(np.intp)] = flat_high[at]
    # A digit's record holds the carry into the digit before it (a lane's
    # first digit has none: no carry precedes the first renormalization).
    digits = words & np.uint32(0xFFFF)
    np.add(digits[:-1], words[1:] >> 16, out=digits[:-1])
    hit = np.flatnonzero(late_carry | state1)
    if hit.size:
        # A carry after the last digit, or the finalize choosing 2**32 (state
        # 1), hits the lane's last digit before its finalize digit.
        digits[offsets[hit + 1] - 1 - has_tail[hit]] += (
            late_carry[hit].astype(np.uint32) + state1[hit])
    over = np.flatnonzero(digits > 0xFFFF)
    while over.size:  # a carry into 0xFFFF ripples on
        digits[over] -= _ONE16
        over = over - 1
        digits[over] += 1
        over = over[digits[over] > 0xFFFF]
    data = digits.astype(">u2").view(np.uint8)
    starts = 2 * offsets[:-1]
    ends = 2 * offsets[1:] - drop
    if state1.any():
        _strip_zero_tails(data, starts, ends, np.flatnonzero(state1))
    if packed:
        return PackedStrings._from_spans(data, starts, ends)
    blob = data.tobytes()
    return [blob[s:e] for s, e in zip(starts.tolist(), ends.tolist())]


def _strip_zero_tails(data, starts, ends, lanes):
    """Moves ``ends`` of ``lanes`` back over trailing zero bytes of ``data``
    (uint8; TFC does not write the zeros a final carry leaves), all lanes at
    once: a tail is a few bytes, so the loop runs a few times."""
    lo, hi = starts[lanes], ends[lanes].copy()
    while lanes.size:
        zero = hi > lo
        zero[zero] = data[hi[zero] - 1] == 0
        if not zero.any():
            break
        hi[zero] -= 1
    ends[lanes] = hi


def _running_count(flags):
    """Inclusive count of True along axis 0 of a [steps, lanes] bool array,
    in the narrowest unsigned dtype that holds it.

    With many lanes, one addition per row beats np.cumsum(axis=0), which
    walks the outer axis element by element (several times slower here).
    """
    rows, lanes = flags.shape
    dtype = np.uint8 if rows <= 0xFF else np.uint16 if rows <= 0xFFFF else np.int64
    as_int = flags.view(np.uint8)
    if lanes < 256:
        return np.cumsum(as_int, axis=0, dtype=dtype)
    out = _scratch.array("running_count", (rows, lanes), dtype)
    out[0] = as_int[0]
    for j in range(1, rows):
        np.add(out[j - 1], as_int[j], out=out[j])
    return out


def _expand_escapes(lo, hi, esc_bits):
    """Per-step bounds [steps, lanes] with the escape bits interleaved, or
    None if that would take over 4x the memory of the plain bounds.

    Lanes with fewer steps are padded at the front with the full interval
    [0, 2**16), which leaves the initial state (base 0, size 2**32) as it is.
    Padding at the end would not be safe: a full-interval step renormalizes a
    lane whose size is 2**16, so a finished lane could gain a digit.
    """
    escape, gamma, neg = esc_bits
    lanes = lo.shape[1]
    g = np.where(escape, gamma, 0)
    nbits = np.zeros(g.shape, np.int64)
    while True:  # bit_length, at most 30 rounds
        more = (g >> nbits) > 0
        if not more.any():
            break
        nbits += more
    count = 1 + 2 * nbits
    pos = np.cumsum(count, axis=0) - count
    total = pos[-1] + count[-1]  # steps per lane
    steps = int(total.max())
    pos += steps - total  # right-aligned: every lane ends on the last step
    if steps * lanes > 4 * count.size + (1 << 20):
        return None
    LO = np.zeros((steps, lanes), np.uint64)
    HI = np.full((steps, lanes), _ONE16, np.uint64)
    lane_ix = np.broadcast_to(np.arange(lanes)[None, :], lo.shape)
    LO[pos, lane_ix] = lo
    HI[pos, lane_ix] = hi
    ej, el = np.nonzero(escape)
    ep = pos[ej, el]
    eg = gamma[ej, el]
    en = nbits[ej, el]
    es = neg[ej, el].astype(np.int64)
    for k in range(int(2 * en.max())):
        # k < n-1: zero prefix; then the n gamma bits MSB first; then the sign.
        sel = np.flatnonzero(k < 2 * en)
        n_s = en[sel]
        gbit = (eg[sel] >> np.clip(2 * n_s - 2 - k, 0, 62)) & 1
        bit = np.where(k < n_s - 1, 0, np.where(k < 2 * n_s - 1, gbit, es[sel]))
        rows = ep[sel] + 1 + k
        LO[rows, el[sel]] = (bit << 15).astype(np.uint64)
        HI[rows, el[sel]] = ((bit + 1) << 15).astype(np.uint64)
    return LO, HI
