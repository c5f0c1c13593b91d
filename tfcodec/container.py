"""The .tfc file: one compressed image, self-describing and checked.

Layout (all integers big-endian; spec in docs/format.md):

    magic      4 bytes  b"\\x89TFC"
    version    u8       FORMAT_VERSION
    model_id   u8 length + ASCII   which architecture wrote it
    weights    8 bytes  first 8 bytes of the SHA-256 of the exact weights
    height     u32, width u32      the image size (before padding)
    rate       u16      the rate parameter (quality * 1000, or iterations)
    count      u16      number of coded strings
    lengths    count x unsigned LEB128 varint
    strings    the coded strings, concatenated
    crc32      u32      CRC-32 of every byte before it

Parsing checks every length against the bytes actually present before it
allocates anything, so a lying header costs nothing.
"""

import dataclasses
import hashlib
import struct
import zlib

from tfcodec.errors import FormatError

MAGIC = b"\x89TFC"
FORMAT_VERSION = 1
MAX_STRINGS = 4096
# Decoding needs a few floats per pixel: refuse absurd sizes before allocating.
MAX_PIXELS = 1 << 28
MAX_SIDE = 1 << 16


@dataclasses.dataclass(frozen=True)
class Header:
    model_id: str
    weights_hash: bytes
    height: int
    width: int
    rate: int


def weights_hash(data: bytes) -> bytes:
    """The 8-byte fingerprint of a weights file that streams carry."""
    return hashlib.sha256(data).digest()[:8]


def _varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def pack(header: Header, strings) -> bytes:
    """Serialises a header and its coded strings into the file's bytes."""
    model = header.model_id.encode("ascii")
    if not 0 < len(model) < 256:
        raise ValueError("model id must be 1..255 ASCII characters")
    if len(header.weights_hash) != 8:
        raise ValueError("weights hash must be 8 bytes")
    if not (0 < header.height <= MAX_SIDE and 0 < header.width <= MAX_SIDE):
        raise ValueError(f"image size {header.height}x{header.width} outside 1..{MAX_SIDE}")
    if not 0 <= header.rate < 1 << 16:
        raise ValueError("rate must fit 16 bits")
    if len(strings) > MAX_STRINGS:
        raise ValueError(f"at most {MAX_STRINGS} strings")
    parts = [MAGIC, bytes([FORMAT_VERSION, len(model)]), model, header.weights_hash,
             struct.pack(">IIHH", header.height, header.width, header.rate, len(strings))]
    parts += [_varint(len(s)) for s in strings]
    parts += [bytes(s) for s in strings]
    body = b"".join(parts)
    return body + struct.pack(">I", zlib.crc32(body))


class _Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n, what):
        if n > len(self.data) - self.pos:
            raise FormatError(f"stream is truncated (ends inside the {what})")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def varint(self, what):
        value, shift = 0, 0
        while True:
            byte = self.take(1, what)[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 35:
                raise FormatError(f"corrupt stream: {what} is not a valid length")


def unpack(data: bytes, max_pixels: int = MAX_PIXELS):
    """Parses and checks a file's bytes; returns (Header, list of strings)."""
    data = bytes(data)
    if not data:
        raise FormatError("stream is empty (zero bytes)")
    if not data.startswith(MAGIC[:len(data)]) or not MAGIC.startswith(data[:4]):
        raise FormatError("not a tfcodec stream (wrong magic bytes)")
    reader = _Reader(data)
    reader.take(4, "magic")
    version = reader.take(1, "version")[0]
    if version != FORMAT_VERSION:
        raise FormatError(f"stream format version {version} is not supported "
                          f"(this tfcodec reads version {FORMAT_VERSION})")
    if len(data) < 4 + 4:
        raise FormatError("stream is truncated (ends inside the header)")
    crc_stored = struct.unpack(">I", data[-4:])[0]
    if zlib.crc32(data[:-4]) != crc_stored:
        raise FormatError("stream is corrupt or truncated (CRC-32 mismatch)")
    model_length = reader.take(1, "model id")[0]
    try:
        model_id = reader.take(model_length, "model id").decode("ascii")
    except UnicodeDecodeError:
        raise FormatError("corrupt stream: model id is not ASCII") from None
    weights = reader.take(8, "weights hash")
    height, width, rate, count = struct.unpack(">IIHH", reader.take(12, "header"))
    if not (0 < height <= MAX_SIDE and 0 < width <= MAX_SIDE) or height * width > max_pixels:
        raise FormatError(f"header claims an image of {height}x{width} pixels, "
                          f"outside what tfcodec decodes (at most {max_pixels} pixels)")
    if count > MAX_STRINGS:
        raise FormatError(f"corrupt stream: header claims {count} coded strings")
    lengths = [reader.varint("string lengths") for _ in range(count)]
    payload_end = len(data) - 4
    if reader.pos + sum(lengths) != payload_end:
        raise FormatError("stream is corrupt or truncated (string lengths do not match the file size)")
    strings = []
    for n in lengths:
        strings.append(reader.take(n, "coded strings"))
    return Header(model_id, weights, height, width, rate), strings
