"""Range coder that is byte-for-byte compatible with tensorflow-compression 2.14.

Only numpy and the standard library are used, so streams written by TFC's
``entropy_encode_index`` can be read on devices without TensorFlow (and the
other way round). See ``docs/rangecoder.md`` for the format notes.

Speed comes from coding many independent streams in lock-step: the per-symbol
loop runs over symbol *positions* while every numpy operation covers all
streams at once. A handful of streams falls back to a plain Python coder,
which is faster than numpy when there is nothing to vectorize.
"""

from __future__ import annotations

import bisect
import math
import threading
from operator import itemgetter
from typing import Any

import numpy as np

from tfcodec.errors import FormatError

__all__ = [
    "Lookup",
    "PackedStrings",
    "build_lookup",
    "decode_index",
    "encode_index",
    "pmf_to_quantized_cdf",
]

_MASK = 0xFFFFFFFF
_U64_MASK = np.uint64(_MASK)
_SIXTEEN = np.uint64(16)
_THIRTYTWO = np.uint64(32)
_ONE16 = 1 << 16
# Typed scalars for the coding loops: a Python int operand costs numpy a
# conversion on every call (about 0.7 us, a third of an operation on 6,144 lanes).
_ONE16_U64 = np.uint64(_ONE16)
_ONE_U64 = np.uint64(1)
_FOUR = np.uint64(4)
_ZERO_I32 = np.int32(0)
# The encoder's mask for base: 33 bits keep a pending carry, 32 drop it.
_KEEP_CARRY = np.uint64((1 << 33) - 1)
# Adding 2**52 to a float64 integer below 2**52 leaves the integer in the low
# mantissa bits: the decoder reads them as int64, less the bits of 2**52.
_TWO52 = float(1 << 52)
_TWO52_BITS = np.float64(_TWO52).view(np.int64)
# TFC's escape coder shifts ``1 << n`` in int32, so it only works for an
# Elias-gamma payload below 2**30; larger values are undefined behaviour there.
_GAMMA_LIMIT = 1 << 30
_GAMMA_MAX_ZEROS = 29
# Fewer streams than this are coded one by one in pure Python (numpy's
# per-call overhead dominates when the arrays are this short).
_SCALAR_MAX_STREAMS = 4
_INT32_MIN, _INT32_MAX = -(1 << 31), (1 << 31) - 1
# The decoder's two-level inverse CDF has 2**min(precision, _BUCKET_BITS)
# int32 entries per row; it is used when at most _BUCKET_MAX_ENTRIES big and
# worth building for the call (or already cached in a Lookup object).
_BUCKET_BITS = 12
_BUCKET_MAX_ENTRIES = 1 << 22
# The encoder's padded bounds table (Lookup._padded_pairs) is built when at
# most this many entries (16 bytes each) big.
_PADDED_MAX_ENTRIES = 1 << 20
# Scratch arrays up to this size are kept per thread between calls (see _Scratch).
_SCRATCH_MAX_BYTES = 1 << 24


class _Scratch(threading.local):
    """Per-thread temporaries reused from call to call.

    glibc maps every multi-megabyte block afresh and returns it to the system
    on free, so a new temporary of that size is page-faulted in on every call.
    At hyperprior sizes that costs as much as the coding: the encoder's loop
    over 294,912 symbols in 6,144 streams took 4.8 ms with fresh record
    arrays and 2.2 ms with reused ones (process CPU time, same machine).
    Blocks above ``_SCRATCH_MAX_BYTES`` are not kept, so a huge image does
    not pin its memory. Nothing handed to a caller is ever a scratch array.
    """

    def __init__(self):
        self.blocks = {}

    def array(self, name, shape, dtype):
        """An uninitialised array for the role ``name`` (one live array per name)."""
        dtype = np.dtype(dtype)
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes > _SCRATCH_MAX_BYTES:
            return np.empty(shape, dtype)
        block = self.blocks.get(name)
        if block is None or block.size < nbytes:
            block = np.empty(max(nbytes, 64), np.uint8)
            self.blocks[name] = block
        return block[:nbytes].view(dtype).reshape(shape)


_scratch = _Scratch()


# -----------------------------------------------------------------------------
# Lookup tables
# -----------------------------------------------------------------------------
class Lookup:
    """A parsed CDF lookup table, reusable across calls.

    Parsing follows TFC's ``ScanCDF`` exactly (including its treatment of
    trailing ``2**precision`` entries as padding), so a table TFC accepts
    yields the same rows here and a table it rejects raises ``ValueError``.
    CDFs are stored rescaled to 16 bits: ``floor(size * c / 2**p)`` equals
    ``floor(size * (c << (16 - p)) / 2**16)``, so the coder needs no
    per-row shift.
    """

    def __init__(self, table: Any):
        if isinstance(table, Lookup):
            self.__dict__ = table.__dict__  # same parsed rows and caches
            return
        tab = np.asarray(table)
        if tab.dtype == object or not (
            np.issubdtype(tab.dtype, np.integer) or tab.dtype == np.bool_
        ):
            raise ValueError(f"lookup must be an integer array, got dtype {tab.dtype}")
        if tab.ndim not in (1, 2):
            raise ValueError(f"lookup must be rank 1 or 2, got shape {tab.shape}")
        tab = tab.astype(np.int64)
        if tab.size and (tab.min() < _INT32_MIN or tab.max() > _INT32_MAX):
            raise ValueError("lookup values must fit in int32")
        if tab.ndim == 2:
            prec, first, last = self._scan_matrix(tab)
        else:
            prec, first, last = self._scan_vector(tab)
        flat = tab.reshape(-1)
        # Row r covers flat[first[r] : last[r] + 1] == [0, c1, ..., 2**p].
        lens = last - first + 1
        nrows = len(prec)
        starts = np.zeros(nrows, np.int64)
        if nrows:
            np.cumsum(lens[:-1], out=starts[1:])
        total = int(lens.sum())
        gather = np.arange(total, dtype=np.int64) + np.repeat(first - starts, lens)
        shift = np.repeat(16 - np.abs(prec), lens).astype(np.uint64)
        cdf16 = flat[gather].astype(np.uint64) << shift
        self.num_rows = nrows
        self.precision = prec  # signed, as in the table
        self.overflow = prec < 0
        self.num_symbols = lens - 1  # TFC's ``row.size() - 2``
        self._start = starts
        self._cdf16 = cdf16
        # Strictly increasing search keys across all rows: row r's CDF lives in
        # [r * 2**17, r * 2**17 + 2**16], so one searchsorted serves every row.
        self._rowkey = np.arange(nrows, dtype=np.float64) * float(1 << 17)
        self._key = cdf16.astype(np.float64) + np.repeat(self._rowkey, lens)
        self._cdf_list: list[int] | None = None
        self._bucket_cache: tuple | None = None
        self._lower_cache: np.ndarray | None = None
        self._bounds_cache: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self._pairs_cache: np.ndarray | None = None
        self._decoder_pairs_cache: np.ndarray | None = None
        self._padded_cache: tuple | None = None
        self.bucket_entries = int(np.sum(np.left_shift(
            1, np.minimum(np.abs(prec), _BUCKET_BITS)))) if nrows else 0

    @staticmethod
    def _scan_matrix(tab):
        rows, width = tab.shape
        empty = np.zeros(0, np.int64)
        if rows == 0 or width == 0:
            return empty, empty, empty
        if width < 3:
            raise ValueError("CDF ended prematurely (a row needs precision, 0, 2**precision)")
        prec = tab[:, 0]
        aprec = np.abs(prec)
        if np.any((aprec < 1) | (aprec > 16)):
            bad = int(prec[(aprec < 1) | (aprec > 16)][0])
            raise ValueError(f"precision={bad} not in [1, 16] (negative enables overflow)")
        if np.any(tab[:, 1] != 0):
            raise ValueError("CDF must start with 0")
        lastval = np.left_shift(1, aprec)[:, None]
        body = tab[:, 2:]
        is_last = body == lastval
        if not np.all(is_last.any(axis=1)):
            raise ValueError("CDF must end with 1 << precision")
        end = is_last.argmax(axis=1) + 2  # column of the first 2**p
        col = np.arange(2, width)[None, :]
        inside = col <= end[:, None]
        if np.any((body < tab[:, 1:-1]) & inside):
            raise ValueError("CDF must be monotonically increasing")
        if np.any(~is_last & ~inside):
            # TFC stops at the first non-padding value and then finds the row
            # did not end there.
            raise ValueError("CDF must end with 1 << precision (bad padding)")
        row_base = np.arange(rows, dtype=np.int64) * width
        return prec.copy(), row_base + 1, row_base + end

    @staticmethod
    def _scan_vector(tab):
        n = len(tab)
        empty = np.zeros(0, np.int64)
        if n == 0:
            return empty, empty, empty
        # Precomputed helpers keep the per-CDF work O(log n).
        drops = np.zeros(n, np.int64)
        drops[1:] = tab[1:] < tab[:-1]
        drops_cum = np.cumsum(drops)
        change = np.flatnonzero(np.diff(tab) != 0) + 1
        run_end = np.empty(n, np.int64)  # exclusive end of the run of equal values
        bounds = np.concatenate([change, [n]])
        run_end[:] = np.repeat(bounds, np.diff(np.concatenate([[0], bounds])))
        where_pow: dict[int, np.ndarray] = {}
        precs, firsts, lasts = [], [], []
        pos = 0
        while pos < n:
            if n < pos + 3:
                raise ValueError("CDF ended prematurely")
            p = int(tab[pos])
            if not 1 <= abs(p) <= 16:
                raise ValueError(f"precision={p} not in [1, 16] (negative enables overflow)")
            lastval = 1 << abs(p)
            if tab[pos + 1] != 0:
                raise ValueError("CDF must start with 0")
            hits = where_pow.get(lastval)
            if hits is None:
                hits = where_pow[lastval] = np.flatnonzero(tab == lastval)
            h = int(np.searchsorted(hits, pos + 2))
            if h == len(hits):
                raise ValueError("CDF must end with 1 << precision")
            end = int(hits[h])
            if drops_cum[end] - drops_cum[pos + 1] != 0:
                raise ValueError("CDF must be monotonically increasing")
            precs.append(p)
            firsts.append(pos + 1)
            lasts.append(end)
            pos = int(run_end[end])  # skip the 2**p padding
        return (np.array(precs, np.int64), np.array(firsts, np.int64),
                np.array(lasts, np.int64))

    def _bounds(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-symbol [lower, upper) 16-bit bounds for the encoder: symbol v of
        row r sits at ``first[r] + v`` (compact, so the tables stay in cache)."""
        if self._bounds_cache is None:
            lens = self.num_symbols
            lo_all = np.delete(self._cdf16, self._start + lens)  # drop each row's last
            hi_all = np.delete(self._cdf16, self._start)  # drop each row's first
            first = self._start - np.arange(self.num_rows)
            first = first.astype(np.intp)
            self._bounds_cache = (lo_all, hi_all, first)
        return self._bounds_cache

    def _bound_pairs(self) -> np.ndarray:
        """The bounds as one uint64 per symbol, ``lower | upper << 32``: the
        encoder fetches both with a single 8-byte gather and splits them into
        contiguous arrays (faster than a 16-byte gather and strided reads)."""
        if self._pairs_cache is None:
            lo_all, hi_all, _ = self._bounds()
            self._pairs_cache = lo_all | (hi_all << np.uint64(32))
        return self._pairs_cache

    def _decoder_pairs(self) -> np.ndarray:
        """For the decoder's CDF position g (first entry >= the target), the
        symbol's bounds as one uint64, ``cdf[g - 1] | cdf[g] << 32``: one
        gather instead of two."""
        if self._decoder_pairs_cache is None:
            self._decoder_pairs_cache = self._lower_bounds() | (self._cdf16 << np.uint64(32))
        return self._decoder_pairs_cache

    def _padded_pairs(self) -> tuple[np.ndarray, int] | None:
        """The bound pairs with every row padded to the widest, ``(pairs, W)``:
        symbol v of row r at ``r * W + v``, padding zero-width. The encoder then
        finds a symbol by arithmetic (no gather of row starts) and needs no
        range check of its own: a value past its row's end lands on padding,
        which the coder sees as a zero-probability symbol. None when the
        padding would take over ``_PADDED_MAX_ENTRIES`` entries. Overflow rows'
        escape symbols are zero-width here as well (see ``encode_index``). The unpadded
        layout gathered from a smaller table, at the same speed in the coding
        loop (most coded symbols sit near each row's mode either way)."""
        if self._padded_cache is None:
            width = int(self.num_symbols.max()) if self.num_rows else 0
            if not self.num_rows or self.num_rows * width > _PADDED_MAX_ENTRIES:
                self._padded_cache = (None,)
            else:
                pairs = np.zeros(self.num_rows * width, np.uint64)
                lens = self.num_symbols
                row_start = np.repeat(np.arange(self.num_rows) * width - self._bounds()[2], lens)
                pairs[np.arange(int(lens.sum())) + row_start] = self._bound_pairs()
                # An overflow row's escape symbol is blanked too: a value that
                # needs an escape stops the fast path, which leaves it to the
                # general one.
                esc = np.flatnonzero(self.overflow)
                pairs[esc * width + lens[esc] - 1] = 0
                self._padded_cache = (pairs, width)
        return None if self._padded_cache[0] is None else self._padded_cache

    def _buckets(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Two-level inverse CDF for the decoder, small enough to stay in cache.

        Row r's targets t in [1, 2**p] fall into 2**min(p, _BUCKET_BITS)
        buckets of 2**k values (k = p - bucket bits, or 0). Entry
        ``off[r] + b`` holds g0, the CDF index answering the smallest t of
        bucket b; the answer for any t in the bucket is then g0 or g0 + 1
        (one compare), except in buckets holding two or more CDF steps
        (distribution tails), which are stored as ``-1 - g0`` and resolved by
        a search. Returns (table, off, k per row, the 16-bit CDFs as float64
        fractions of 2**16, which the decoder compares against).
        """
        if self._bucket_cache is None:
            prec = np.abs(self.precision)
            lens = self.num_symbols + 1
            shift = np.repeat(16 - prec, lens).astype(np.uint64)
            cdf_p = (self._cdf16 >> shift).astype(np.float64)
            key_p = cdf_p + np.repeat(self._rowkey, lens)
            k = np.maximum(prec - _BUCKET_BITS, 0)
            nb = np.left_shift(1, prec - k)
            off = np.zeros(self.num_rows, np.int64)
            np.cumsum(nb[:-1], out=off[1:])
            row = np.repeat(np.arange(self.num_rows), nb)
            b = np.arange(int(nb.sum()), dtype=np.int64) - off[row]
            width = np.left_shift(1, k)[row]
            g0 = np.searchsorted(key_p, self._rowkey[row] + (b * width + 1))
            tmax = (b + 1) * width
            last = self._start[row] + lens[row] - 1
            nxt = cdf_p[np.minimum(g0 + 1, last)]
            ok = (cdf_p[g0] >= tmax) | (nxt >= tmax)
            # int32: half the bytes of intp, so more of the table stays in
            # cache (its gathers are the decoder's costliest step).
            table = np.where(ok, g0, -1 - g0).astype(np.int32)
            self._bucket_cache = (table, off, k, np.ldexp(self._cdf16.astype(np.float64), -16))
        return self._bucket_cache

    def _lower_bounds(self) -> np.ndarray:
        """16-bit CDF shifted by one entry: for the decoder's CDF position g
        (first entry >= the target), the symbol's lower bound is entry g - 1."""
        if self._lower_cache is None:
            lower = np.empty_like(self._cdf16)
            lower[1:] = self._cdf16[:-1]
            lower[:1] = 0
            self._lower_cache = lower
        return self._lower_cache

    def _list(self) -> list[int]:
        if self._cdf_list is None:
            self._cdf_list = self._cdf16.tolist()
        return self._cdf_list


class PackedStrings:
    """Many streams' coded strings as one buffer and their lengths.

    What a file stores anyway (lengths, then the strings back to back), and
    cheaper than a list when there are thousands of streams: building one
    bytes object per stream costs about 0.1 us each, a tenth of the whole
    encoder's time at 6,144 streams. It reads as a sequence of bytes (items
    are sliced on access), so code written for lists keeps working, and
    ``decode_index`` takes it directly.
    """

    __slots__ = ("data", "lengths", "_offsets")

    def __init__(self, data: bytes, lengths):
        self.data = bytes(data)
        self.lengths = np.asarray(lengths, np.int64).reshape(-1)
        if self.lengths.size and self.lengths.min() < 0:
            raise ValueError("negative string length")
        self._offsets = np.zeros(self.lengths.size + 1, np.int64)
        np.cumsum(self.lengths, out=self._offsets[1:])
        if self._offsets[-1] != len(self.data):
            raise ValueError(f"lengths add up to {int(self._offsets[-1])} bytes, "
                             f"the buffer has {len(self.data)}")

    @classmethod
    def _from_spans(cls, data: np.ndarray, starts, ends):
        """From the [start, end) spans of the uint8 ``data``, in order from
        start 0; the few bytes after a span's end (a dropped zero byte,
        stripped zeros) are cut out."""
        gaps = np.append(starts[1:], len(data)) - ends
        if not gaps.any():
            return cls(data.tobytes(), ends - starts)
        keep = np.ones(len(data), np.bool_)
        for k in range(int(gaps.max())):
            keep[ends[gaps > k] + k] = False
        return cls(data[keep].tobytes(), ends - starts)

    def __len__(self):
        return self.lengths.size

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        n = len(self)
        if not -n <= i < n:
            raise IndexError("string index out of range")
        i %= n
        return self.data[int(self._offsets[i]):int(self._offsets[i + 1])]

    def __iter__(self):
        data, offsets = self.data, self._offsets.tolist()
        return (data[a:b] for a, b in zip(offsets[:-1], offsets[1:]))

    def __eq__(self, other):
        if isinstance(other, PackedStrings):
            return self.data == other.data and np.array_equal(self.lengths, other.lengths)
        return NotImplemented

    def __repr__(self):
        return f"PackedStrings({len(self)} strings, {len(self.data)} bytes)"

    def tolist(self) -> list[bytes]:
        return list(self)


def _as_lookup(lookup) -> Lookup:
    # A Lookup object is used as is, so the tables it caches persist.
    return lookup if isinstance(lookup, Lookup) else Lookup(lookup)


def build_lookup(cdfs, precision: int, overflow: bool = False) -> np.ndarray:
    """Stacks CDFs (each ``[0, ..., 2**precision]``) into a padded 2-D table.

    With ``overflow=True`` the precision is stored negated, turning the last
    symbol of every row into TFC's escape symbol.
    """
    precision = int(precision)
    if not 1 <= precision <= 16:
        raise ValueError(f"precision={precision} not in [1, 16]")
    cdfs = [np.asarray(c, np.int64).reshape(-1) for c in cdfs]
    width = 1 + max((len(c) for c in cdfs), default=2)
    table = np.full((len(cdfs), width), 1 << precision, np.int32)
    table[:, 0] = -precision if overflow else precision
    for i, c in enumerate(cdfs):
        table[i, 1:1 + len(c)] = c
    Lookup(table)  # validate
    return table


# -----------------------------------------------------------------------------
# Argument handling
# -----------------------------------------------------------------------------
def _int_array(x, name):
    arr = np.asarray(x)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        if arr.size == 0 and arr.dtype.kind == "f":
            return arr.astype(np.int32)
        raise ValueError(f"{name} must be an integer array, got dtype {arr.dtype}")
    # TFC takes int32; wider inputs are accepted when their values fit.
    if (arr.dtype.itemsize >= 4 and arr.dtype != np.int32 and arr.size
            and (arr.min() < _INT32_MIN or arr.max() > _INT32_MAX)):
        raise ValueError(f"{name} values must fit in int32")
    if arr.dtype.kind == "u" and arr.dtype.itemsize >= 4:
        arr = arr.astype(np.int64)  # keeps arithmetic with signed ints integral
    return arr


def _unsigned(arr):
    """An integer array viewed as unsigned: negative values become huge, so a
    single max() checks both ends of a range [0, n)."""
    return arr.view(f"u{arr.dtype.itemsize}") if arr.dtype.kind == "i" else arr


def _check_rank(shape, stream_rank):
    if isinstance(stream_rank, bool) or not isinstance(stream_rank, (int, np.integer)):
        raise TypeError("stream_rank must be an int")
    stream_rank = int(stream_rank)
    if not 0 <= stream_rank <= len(shape):
        raise ValueError(f"stream_rank={stream_rank} must be in [0, {len(shape)}] "
                         f"for an index of shape {shape}")
    stream_shape = tuple(shape[:stream_rank])
    lanes = math.prod(stream_shape)
    per = math.prod(shape[stream_rank:])
    return stream_shape, lanes, per


def _nest(flat: list, shape: tuple):
    if len(shape) == 0:
        return flat[0]
    if len(shape) == 1:
        return list(flat)
    step = len(flat) // shape[0] if shape[0] else 0
    return [_nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def _flatten_strings(strings, stream_shape):
    def as_bytes(s):
        if isinstance(s, (bytes, bytearray, memoryview)):
            return bytes(s)
        if isinstance(s, np.bytes_):
            raise TypeError("strings must be bytes objects, not a numpy 'S' array "
                            "(it drops trailing zero bytes)")
        raise TypeError(f"expected a bytes string, got {type(s).__name__}")

    if isinstance(strings, PackedStrings):
        if len(strings) != math.prod(stream_shape):
            raise ValueError(f"{len(strings)} packed strings for the stream shape {stream_shape}")
        return strings
    if (len(stream_shape) == 1 and isinstance(strings, list)
            and len(strings) == stream_shape[0] and all(type(s) is bytes for s in strings)):
        return strings  # the common case: what encode_index returns, as is
    if isinstance(strings, np.ndarray):
        if strings.dtype != object:
            raise TypeError("strings must be bytes or an object array of bytes, not "
                             f"dtype {strings.dtype} (numpy 'S' arrays drop trailing zeros)")
        if strings.shape != stream_shape:
            raise ValueError(f"strings shape {strings.shape} != stream shape {stream_shape}")
        return [as_bytes(s) for s in strings.reshape(-1)]

    out: list[bytes] = []

    def walk(obj, depth):
        if depth == len(stream_shape):
            out.append(as_bytes(obj))
            return
        if not isinstance(obj, (list, tuple)) or len(obj) != stream_shape[depth]:
            raise ValueError(f"strings do not match the stream shape {stream_shape}")
        for item in obj:
            walk(item, depth + 1)

    walk(strings, 0)
    return out


# -----------------------------------------------------------------------------
# Encoding
# -----------------------------------------------------------------------------
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
    index = _int_array(index, "index")
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
    if idx.size and _unsigned(idx).max() >= table.num_rows:
        bad = idx[(idx < 0) | (idx >= table.num_rows)][0]
        raise ValueError(f"index={bad} not in range [0, {table.num_rows})")
    # Everything from here on is position-major ([per, lanes]): step j codes
    # row j, one symbol of every stream, and reads it contiguously. Input
    # laid out that way (``x.reshape(per, lanes).T``, streams interleaved)
    # is read as is; lane-major input pays one transposing copy of the
    # indices and strided reads of the values.
    if val.dtype.itemsize < 4:
        val = val.astype(np.int32)  # so that negatives read as huge unsigned
    padded = None
    if lanes > _SCALAR_MAX_STREAMS and per:
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
    if lanes > _SCALAR_MAX_STREAMS and esc_bits is not None:
        # Escapes: precompute every step's bounds, escape bits interleaved
        # (None when uneven escapes would make that table too big).
        steps = _expand_escapes(lof[pos_t], hif[pos_t], esc_bits)
    if lanes <= _SCALAR_MAX_STREAMS or (esc_bits is not None and steps is None):
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

    Lanes with fewer steps are padded with the full interval [0, 2**16),
    which leaves the coder state untouched.
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
    steps = int((pos[-1] + count[-1]).max())
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


# -----------------------------------------------------------------------------
# Decoding
# -----------------------------------------------------------------------------
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
    index = _int_array(index, "index")
    stream_shape, lanes, per = _check_rank(index.shape, stream_rank)
    if stream_shape:
        flat_strings = _flatten_strings(strings, stream_shape)
    else:
        flat_strings = _flatten_strings(strings, ())
    if lanes == 0:
        return np.zeros(index.shape, np.int32)
    idx = index.reshape(lanes, per)
    if idx.size and _unsigned(idx).max() >= table.num_rows:
        bad = idx[(idx < 0) | (idx >= table.num_rows)][0]
        raise ValueError(f"index={bad} not in range [0, {table.num_rows})")
    has_ovf = bool(idx.size and table.overflow.any() and table.overflow[idx].any())
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
    if lanes <= _SCALAR_MAX_STREAMS:
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


# -----------------------------------------------------------------------------
# pmf_to_quantized_cdf
# -----------------------------------------------------------------------------
def pmf_to_quantized_cdf(pmf, precision: int) -> np.ndarray:
    """TFC's ``pmf_to_quantized_cdf``: int32 CDFs ``[..., n + 1]`` summing to 2**precision.

    Every symbol keeps frequency >= 1. The rounding fix-up replays TFC's greedy
    loop, including libstdc++'s (unstable) ``std::sort`` order for ties, so the
    result is identical integer for integer. It takes one step per unit of
    rounding error, so pass (roughly) normalized pmfs.
    """
    precision = int(precision)
    if not 1 <= precision <= 16:
        raise ValueError(f"precision={precision} not in [1, 16]")
    pmf = np.asarray(pmf, np.float32)
    if pmf.ndim < 1:
        raise ValueError("pmf should be at least 1-D")
    n = pmf.shape[-1]
    if n < 2:
        raise ValueError("pmf size should be at least 2 in the last axis")
    if not np.all(np.isfinite(pmf)) or np.any(pmf < 0):
        raise ValueError("pmf has non-finite or negative elements")
    normalizer = 1 << precision
    if n > normalizer:
        raise ValueError(f"{n} symbols cannot all get a nonzero count at precision "
                         f"{precision}")
    rows = pmf.reshape(-1, n)
    # float32 product and round-half-even, as ``std::rint(float * int)``.
    q = np.rint(rows * np.float32(normalizer))
    if np.any(q >= 2.0 ** 31) or np.any(np.maximum(q, 1).sum(axis=1) >= 2.0 ** 31):
        raise ValueError("pmf values too large (TFC's int32 arithmetic would overflow)")
    counts = np.maximum(q.astype(np.int64), 1)
    cdf = np.zeros((rows.shape[0], n + 1), np.int64)
    for i in range(rows.shape[0]):
        freq = counts[i].tolist()
        total = sum(freq)
        if total != normalizer:
            _rebalance(freq, rows[i].astype(np.float64).tolist(), total, normalizer)
        cdf[i, 1:] = np.cumsum(freq)
    return cdf.astype(np.int32).reshape(pmf.shape[:-1] + (n + 1,))


def _rebalance(freq, mass, total, normalizer):
    """Greedy +-1 steps with the smallest log-loss change (TFC's PerShard)."""
    log2 = math.log2
    if total > normalizer:
        def cost(i):
            v = freq[i]
            return math.inf if v <= 1 else mass[i] * (log2(v) - log2(v - 1))
        queue = [[cost(i), i] for i in range(len(freq))]
        _libstdcxx_sort(queue, lambda x, y: x[0] < y[0])
        key = itemgetter(0)
        for _ in range(total - normalizer):
            head = queue[0]
            freq[head[1]] -= 1
            head[0] = cost(head[1])
            # TFC's find_if for the first later item with a larger penalty;
            # queue[1:] is sorted, so a binary search finds the same place.
            k = bisect.bisect_right(queue, head[0], 1, key=key)
            # std::rotate(begin, begin + 1, begin + k): the head moves to k - 1.
            queue.insert(k - 1, queue.pop(0))
    else:
        def gain(i):
            v = freq[i]
            return -math.inf if v < 1 else mass[i] * (log2(v + 1) - log2(v))
        queue = [[gain(i), i] for i in range(len(freq))]
        _libstdcxx_sort(queue, lambda x, y: x[0] > y[0])
        def key(item):
            return -item[0]
        for _ in range(normalizer - total):
            head = queue[0]
            freq[head[1]] += 1
            head[0] = gain(head[1])
            k = bisect.bisect_right(queue, -head[0], 1, key=key)  # descending gains
            queue.insert(k - 1, queue.pop(0))


def _libstdcxx_sort(a: list, comp) -> None:
    """In-place replica of libstdc++'s ``std::sort`` (introsort), so that equal
    keys end up in the same order as in TFC's compiled kernel."""
    n = len(a)
    if n < 2:
        return
    _introsort_loop(a, 0, n, 2 * (n.bit_length() - 1), comp)
    if n > 16:
        _insertion_sort(a, 0, 16, comp)
        for i in range(16, n):
            _unguarded_linear_insert(a, i, comp)
    else:
        _insertion_sort(a, 0, n, comp)


def _introsort_loop(a, first, last, depth, comp):
    while last - first > 16:
        if depth == 0:
            _heap_sort(a, first, last, comp)
            return
        depth -= 1
        mid = first + (last - first) // 2
        _move_median_to_first(a, first, first + 1, mid, last - 1, comp)
        cut = _unguarded_partition(a, first + 1, last, first, comp)
        _introsort_loop(a, cut, last, depth, comp)
        last = cut


def _move_median_to_first(a, result, i, j, k, comp):
    if comp(a[i], a[j]):
        if comp(a[j], a[k]):
            m = j
        elif comp(a[i], a[k]):
            m = k
        else:
            m = i
    elif comp(a[i], a[k]):
        m = i
    elif comp(a[j], a[k]):
        m = k
    else:
        m = j
    a[result], a[m] = a[m], a[result]


def _unguarded_partition(a, first, last, pivot, comp):
    while True:
        while comp(a[first], a[pivot]):
            first += 1
        last -= 1
        while comp(a[pivot], a[last]):
            last -= 1
        if not first < last:
            return first
        a[first], a[last] = a[last], a[first]
        first += 1


def _insertion_sort(a, first, last, comp):
    for i in range(first + 1, last):
        if comp(a[i], a[first]):
            val = a[i]
            a[first + 1:i + 1] = a[first:i]
            a[first] = val
        else:
            _unguarded_linear_insert(a, i, comp)


def _unguarded_linear_insert(a, last, comp):
    val = a[last]
    nxt = last - 1
    while comp(val, a[nxt]):
        a[last] = a[nxt]
        last = nxt
        nxt -= 1
    a[last] = val


def _heap_sort(a, first, last, comp):
    # std::__partial_sort(first, last, last): make_heap then sort_heap.
    length = last - first
    if length >= 2:
        parent = (length - 2) // 2
        while True:
            _adjust_heap(a, first, parent, length, a[first + parent], comp)
            if parent == 0:
                break
            parent -= 1
    while last - first > 1:
        last -= 1
        val = a[last]
        a[last] = a[first]
        _adjust_heap(a, first, 0, last - first, val, comp)


def _adjust_heap(a, first, hole, length, val, comp):
    top = hole
    child = hole
    while child < (length - 1) // 2:
        child = 2 * (child + 1)
        if comp(a[first + child], a[first + child - 1]):
            child -= 1
        a[first + hole] = a[first + child]
        hole = child
    if length % 2 == 0 and child == (length - 2) // 2:
        child = 2 * (child + 1)
        a[first + hole] = a[first + child - 1]
        hole = child - 1
    parent = (hole - 1) // 2
    while hole > top and comp(a[first + parent], val):
        a[first + hole] = a[first + parent]
        hole = parent
        parent = (hole - 1) // 2
    a[first + hole] = val
