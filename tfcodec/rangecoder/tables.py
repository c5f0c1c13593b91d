"""CDF lookup tables: parsing TFC's format once, and the coders' derived tables.

A lookup table is TFC's ``[precision, 0, c1, ..., 2**precision]`` rows.
:class:`Lookup` validates it exactly as TFC's ``ScanCDF`` does and caches
the tables the encoder and the decoder build from it (bounds, padded bounds,
the decoder's two-level inverse CDF), so a table reused across calls is
parsed and expanded once. :func:`build_lookup` stacks CDFs into such a table.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tfcodec.rangecoder.common import _INT32_MAX, _INT32_MIN

# The decoder's two-level inverse CDF has 2**min(precision, _BUCKET_BITS)
# int32 entries per row; it is used when at most _BUCKET_MAX_ENTRIES big and
# worth building for the call (or already cached in a Lookup object).
_BUCKET_BITS = 12
_BUCKET_MAX_ENTRIES = 1 << 22
# The encoder's padded bounds table (Lookup._padded_pairs) is built when at
# most this many entries (16 bytes each) big.
_PADDED_MAX_ENTRIES = 1 << 20


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
        self._native_cache: tuple | None = None
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

    def _native_tables(self) -> tuple:
        """The rows as the compiled coder reads them: the 16-bit CDFs back to back (uint32),
        each row's start in them and its symbol count (int64), its overflow flag (uint8), and
        the decoder's first guesses (int32, 256 per row: for bucket b, the first k with
        cdf[k] >= 256 b + 1, where its scan for a target in that bucket starts)."""
        if self._native_cache is None:
            targets = (np.arange(256, dtype=np.float64) * 256 + 1)[None, :] + self._rowkey[:, None]
            first = np.searchsorted(self._key, targets.reshape(-1)).reshape(self.num_rows, 256)
            bucket = first - self._start[:, None]
            self._native_cache = (np.ascontiguousarray(self._cdf16, np.uint32),
                                  np.ascontiguousarray(self._start, np.int64),
                                  np.ascontiguousarray(self.num_symbols, np.int64),
                                  np.ascontiguousarray(self.overflow, np.uint8),
                                  np.ascontiguousarray(bucket.reshape(-1), np.int32))
        return self._native_cache

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
