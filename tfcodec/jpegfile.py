"""What a JPEG file says about its own coding, read from its markers: no TensorFlow, no decode.

The JPEG refiner (`tfcodec.models.jpeg_refine`) is conditioned on what the
file gives for free: its quantisation tables (how coarse each DCT frequency
was coded, which fixes how strong the artefacts are, whatever encoder wrote
them) and its chroma subsampling. This module reads both from the header
(ITU-T T.81, annex B: SOI, DQT, SOFn), and refuses, in one line, what the
refiner cannot take: anything that is not a JPEG, a truncated header, 12-bit
samples, lossless or hierarchical coding, and images that are not three-
component YCbCr (grayscale and CMYK).

It also gives libjpeg's tables for a quality setting (`ijg_tables`): training
re-encodes crops with libjpeg at random qualities and conditions the model on
the same tables the file will carry (tested against files libjpeg wrote).
"""

import dataclasses

import numpy as np

from tfcodec.errors import FormatError

# Zig-zag scan order (T.81 figure A.6): ZIGZAG[k] is the natural (row-major) index
# of the k-th coefficient as DQT stores them.
ZIGZAG = np.array([
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5,
    12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
    35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
    58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63])

# T.81 annex K, tables K.1 and K.2 (natural order): libjpeg scales these by quality.
LUMA_BASE = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99])
CHROMA_BASE = np.array([
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99] + [99] * 32)

# Frame types: SOF0 baseline, SOF1 extended sequential, SOF2 progressive (Huffman);
# SOF9/SOF10 the same with arithmetic coding. Lossless (3, 11) and hierarchical
# (5-7, 13-15) frames are refused.
_SEQUENTIAL = {0xC0: False, 0xC1: False, 0xC9: False}
_PROGRESSIVE = {0xC2: True, 0xCA: True}
_REFUSED_FRAMES = {0xC3: "lossless", 0xC5: "hierarchical", 0xC6: "hierarchical", 0xC7: "hierarchical",
                   0xCB: "lossless", 0xCD: "hierarchical", 0xCE: "hierarchical", 0xCF: "hierarchical"}


@dataclasses.dataclass(frozen=True)
class JpegHeader:
    """The coding facts of a three-component JPEG."""

    width: int
    height: int
    progressive: bool
    luma_table: np.ndarray      # (64,) natural order, 1..65535
    chroma_table: np.ndarray    # (64,) the Cb component's table (Cr's is nearly always the same)
    subsampling: tuple          # (horizontal, vertical) chroma factors: (2, 2) 4:2:0, (1, 1) 4:4:4

    @property
    def chroma_label(self):
        return {(1, 1): "4:4:4", (2, 1): "4:2:2", (2, 2): "4:2:0", (1, 2): "4:4:0"}.get(
            self.subsampling, f"{self.subsampling[0]}x{self.subsampling[1]}")


def ijg_tables(quality):
    """(luma, chroma) tables libjpeg writes for `quality` in 1..100 (jpeg_set_quality with
    force_baseline: the annex K tables scaled, then clipped to 1..255), natural order."""
    quality = int(quality)
    if not 1 <= quality <= 100:
        raise ValueError(f"JPEG quality {quality} is outside 1..100")
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return tuple(np.clip((base * scale + 50) // 100, 1, 255) for base in (LUMA_BASE, CHROMA_BASE))


def is_jpeg(data):
    return data[:3] == b"\xff\xd8\xff"


def read_header(data, source="input"):
    """The `JpegHeader` of JPEG bytes; FormatError in one line for anything the refiner cannot take."""
    if not is_jpeg(data):
        raise FormatError(f"{source}: not a JPEG file (it does not start with the JPEG SOI marker)")
    tables, frame, pos = {}, None, 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise FormatError(f"{source}: corrupt JPEG header (no marker at byte {pos})")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill bytes before a marker
            pos += 1
            continue
        if marker == 0xD9 or marker == 0xDA:  # EOI, or SOS: the header is over
            break
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        segment = data[pos + 4:pos + 2 + length]
        if length < 2 or len(segment) != length - 2:
            raise FormatError(f"{source}: truncated JPEG header (a segment runs past the end of the file)")
        if marker == 0xDB:
            _read_dqt(segment, tables, source)
        elif marker in _REFUSED_FRAMES:
            raise FormatError(f"{source}: {_REFUSED_FRAMES[marker]} JPEG is not supported; "
                              "the refiner takes baseline, extended and progressive JPEGs")
        elif marker in _SEQUENTIAL or marker in _PROGRESSIVE:
            frame = (marker, segment)
        pos += 2 + length
    if frame is None:
        raise FormatError(f"{source}: truncated or corrupt JPEG (no frame header before the image data)")
    return _frame_header(frame, tables, source)


def _read_dqt(segment, tables, source):
    pos = 0
    while pos < len(segment):
        precision, table_id = segment[pos] >> 4, segment[pos] & 15
        size = 128 if precision else 64
        body = segment[pos + 1:pos + 1 + size]
        if len(body) != size or table_id > 3:
            raise FormatError(f"{source}: corrupt JPEG quantisation table")
        values = np.frombuffer(body, ">u2" if precision else np.uint8).astype(np.int64)
        natural = np.empty(64, np.int64)
        natural[ZIGZAG] = values
        tables[table_id] = natural
        pos += 1 + size


def _frame_header(frame, tables, source):
    marker, segment = frame
    if len(segment) < 6:
        raise FormatError(f"{source}: corrupt JPEG frame header")
    bits, height, width, components = segment[0], *(int.from_bytes(segment[i:i + 2], "big") for i in (1, 3)), \
        segment[5]
    if bits != 8:
        raise FormatError(f"{source}: {bits}-bit JPEG is not supported; the refiner takes 8-bit JPEGs")
    if components == 1:
        raise FormatError(f"{source}: grayscale JPEG is not supported; the refiner was trained on "
                          "colour (YCbCr) JPEGs")
    if components != 3:
        raise FormatError(f"{source}: a {components}-component JPEG (CMYK?) is not supported; "
                          "the refiner takes colour (YCbCr) JPEGs")
    if len(segment) < 6 + 3 * components or not width or not height:
        raise FormatError(f"{source}: corrupt JPEG frame header")
    sampling, table_ids = [], []
    for c in range(3):
        _, factors, table_id = segment[6 + 3 * c:9 + 3 * c]
        sampling.append((factors >> 4, factors & 15))
        table_ids.append(table_id)
    missing = [t for t in table_ids if t not in tables]
    if missing:
        raise FormatError(f"{source}: corrupt JPEG (quantisation table {missing[0]} is used but not defined)")
    (luma_h, luma_v), (cb_h, cb_v), (cr_h, cr_v) = sampling
    if (cb_h, cb_v) != (cr_h, cr_v) or min(cb_h, cb_v) < 1 or luma_h % cb_h or luma_v % cb_v:
        raise FormatError(f"{source}: unusual chroma sampling {sampling} is not supported")
    return JpegHeader(width, height, marker in _PROGRESSIVE, tables[table_ids[0]], tables[table_ids[1]],
                      (luma_h // cb_h, luma_v // cb_v))


def conditioning(header):
    """The refiner's conditioning vector for a header: see `table_features`."""
    return table_features(header.luma_table, header.chroma_table, header.subsampling)


# Width of the conditioning vector: 64 luma and 64 chroma steps, two subsampling flags.
CONDITIONING_SIZE = 130


def table_features(luma, chroma, subsampling):
    """(130,) float32: log2 of each quantisation step over 8 (0 for a step of 1, 1 for 256;
    the steps' effect on the error is multiplicative), then 1.0 where chroma is halved
    horizontally and vertically."""
    steps = np.concatenate([luma, chroma]).astype(np.float64)
    flags = [float(subsampling[0] > 1), float(subsampling[1] > 1)]
    return np.concatenate([np.log2(np.maximum(steps, 1)) / 8.0, flags]).astype(np.float32)
