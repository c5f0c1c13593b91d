"""The optional compiled coder (``_native.c``): whether it is in use, and the calls into it.

``pip install`` builds ``tfcodec.rangecoder._native`` where a C compiler is at hand; where none
is (or the build fails), the package installs without it and every call takes the numpy coder,
which stays the reference: the compiled coder writes the same bytes and decodes the same values
(``tests/test_rangecoder_native.py`` fuzzes one against the other).

Why C at all: the codec's calls are narrow. A Kodak image at the default quality codes about
200,000 symbols in 160 strings, and a channel-wise slice has only tens of streams, so the numpy
coder's lock-step steps pay their per-call overhead for a few lanes each. One stream after
another in C, a symbol costs a few nanoseconds (``benchmarks/bench_rangecoder.py``).

``TFCODEC_RANGECODER=numpy`` in the environment, or :func:`numpy_only` in code, turns the
compiled coder off (to compare, or to rule it out).
"""

from __future__ import annotations

import numpy as np

from tfcodec.compiled import CompiledPath

try:
    from tfcodec.rangecoder import _native
except ImportError:  # not built here: the numpy coder does everything
    _native = None

_PATH = CompiledPath(_native, "TFCODEC_RANGECODER")
available = _PATH.available      # whether the compiled coder was built for this Python
in_use = _PATH.in_use            # whether calls take it now (built, and not turned off)
numpy_only = _PATH.numpy_only    # within the block (in this thread), code with the numpy coder

# _native.c's statuses.
_DECODE_ERRORS = {1: "escape code too long", 2: "escaped value out of int32 range", 3: "final state mismatch"}


def backend() -> str:
    """'native' or 'numpy': the coder ``encode_index`` and ``decode_index`` use now."""
    return "native" if in_use() else "numpy"


def _matrix(a):
    """An int32 or int64 [lanes, steps] view the C code reads through its strides."""
    if a.dtype != np.int32 and a.dtype != np.int64:
        a = a.astype(np.int32)
    return a


def encode(table, idx, val):
    """(data, lengths) of every lane's string, or None where the coder found a value it cannot
    code (out of its row, zero probability, an escape too large): the numpy coder then raises
    the error it always has."""
    status, data, lengths, _, _ = _native.encode(*table._native_tables(), _matrix(idx), _matrix(val))
    if status:
        return None
    return data, np.frombuffer(lengths, np.int64)


def decode(table, idx, data, lengths, out):
    """Decodes into ``out`` (int32 [lanes, steps], any strides). Returns None, or (lane, why) of
    the first stream found corrupt, in the numpy decoder's words."""
    status, lane = _native.decode(*table._native_tables(), _matrix(idx), data,
                                  np.ascontiguousarray(lengths, np.int64), out)
    return (lane, _DECODE_ERRORS[status]) if status else None
