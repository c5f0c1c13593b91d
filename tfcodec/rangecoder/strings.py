"""The coded strings: one bytes per stream, nested like the stream shape, or packed.

:class:`PackedStrings` holds many streams' strings in one buffer (what a file
stores anyway); ``_nest`` and ``_flatten_strings`` convert between the
nested lists the API takes and returns and the flat per-stream order the
coders work in.
"""

from __future__ import annotations

import math

import numpy as np


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
