"""Range coder that is byte-for-byte compatible with tensorflow-compression 2.14.

Only numpy and the standard library are used, so streams written by TFC's
``entropy_encode_index`` can be read on devices without TensorFlow (and the
other way round). See ``docs/rangecoder.md`` for the format notes.

Speed comes from coding many independent streams in lock-step: the per-symbol
loop runs over symbol *positions* while every numpy operation covers all
streams at once. A handful of streams falls back to a plain Python coder,
which is faster than numpy when there is nothing to vectorize.

The modules, by concern: ``tables`` (parsing CDF lookup tables and the
coders' derived tables), ``cdf`` (quantising pmfs as TFC does, with the
``introsort`` port it needs), ``encode`` and ``decode`` (each with its
lock-step and pure-Python paths), ``strings`` (the coded strings' shapes
and :class:`PackedStrings`), and ``common`` (constants, scratch arrays and
argument checks they share).
"""

from tfcodec.rangecoder.cdf import pmf_to_quantized_cdf
from tfcodec.rangecoder.decode import decode_index
from tfcodec.rangecoder.encode import encode_index
from tfcodec.rangecoder.strings import PackedStrings
from tfcodec.rangecoder.tables import Lookup, build_lookup

__all__ = ["Lookup", "PackedStrings", "build_lookup", "decode_index", "encode_index", "pmf_to_quantized_cdf"]
