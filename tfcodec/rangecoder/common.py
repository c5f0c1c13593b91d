"""Low-level pieces every part of the range coder shares.

The 32-bit coder's constants (as typed numpy scalars where the coding loops
use them), the per-thread scratch arrays the loops write into, and the
checks of ``index``/``value`` arguments that the encoder and the decoder
apply alike. Kept in one place so that the encoder, the decoder and the
table parser agree on them by construction.
"""

from __future__ import annotations

import math
import threading

import numpy as np

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
# TFC's escape coder shifts ``1 << n`` in int32, so it only works for an
# Elias-gamma payload below 2**30; larger values are undefined behaviour there.
_GAMMA_LIMIT = 1 << 30
_GAMMA_MAX_ZEROS = 29
# Fewer streams than this are coded one by one in pure Python (numpy's
# per-call overhead dominates when the arrays are this short).
_SCALAR_MAX_STREAMS = 4
_INT32_MIN, _INT32_MAX = -(1 << 31), (1 << 31) - 1
# Scratch arrays up to this size are kept per thread between calls (see _Scratch).
_SCRATCH_MAX_BYTES = 1 << 24


def _use_scalar_coder(lanes: int) -> bool:
    """Whether ``lanes`` streams are coded one by one in pure Python rather than
    in lock-step with numpy (read at call time, so tests can force either path)."""
    return lanes <= _SCALAR_MAX_STREAMS


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


def _int_array(x, name, fits_int32=True):
    """``x`` as an integer array; ``fits_int32=False`` skips the int32 range check where a
    stricter one follows (row numbers are checked against the table's rows)."""
    arr = np.asarray(x)
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        if arr.size == 0 and arr.dtype.kind == "f":
            return arr.astype(np.int32)
        raise ValueError(f"{name} must be an integer array, got dtype {arr.dtype}")
    # TFC takes int32; wider inputs are accepted when their values fit.
    if (fits_int32 and arr.dtype.itemsize >= 4 and arr.dtype != np.int32 and arr.size
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


def _check_rows(idx, num_rows: int) -> None:
    """Every CDF row number in ``idx`` lies in [0, num_rows)."""
    if idx.size and _unsigned(idx).max() >= num_rows:
        bad = idx[(idx < 0) | (idx >= num_rows)][0]
        raise ValueError(f"index={bad} not in range [0, {num_rows})")
