"""The file side of compress/decompress, shared by `tfcodec compress|decompress` and `tfcodec edge`.

Any codec with `name`, `compress(rgb, setting)`, `compress_for_bpp(rgb, bpp)`
and `decompress(data)` goes through the same steps: refuse to overwrite the
input, read, time the codec alone, write atomically, print one summary line.
numpy and Pillow only: the edge runtime uses it without TensorFlow.
"""

import os
import time

from tfcodec.errors import FormatError
from tfcodec.fileio import check_not_input, read_image, read_stream, write_atomic, write_image


def compress_file(codec, args, label, setting=None):
    """Image file args.input -> .tfc file args.output, at `setting` or at args.bpp."""
    check_not_input(args.output, args.input)
    rgb = read_image(args.input)
    start = time.perf_counter()
    if args.bpp is not None:
        if args.bpp <= 0:
            raise FormatError("--bpp must be positive")
        data = codec.compress_for_bpp(rgb, args.bpp)
    else:
        data = codec.compress(rgb, setting) if setting is not None else codec.compress(rgb)
    elapsed = time.perf_counter() - start
    write_atomic(args.output, data)
    if not args.quiet:
        h, w = rgb.shape[:2]
        print(f"{os.path.basename(args.input)} {w}x{h} -> {args.output}: {len(data)} bytes, "
              f"{len(data) * 8 / (h * w):.4f} bpp ({label}, {elapsed:.2f} s)")
    return 0


def decompress_file(codec_for, args, label_for):
    """.tfc file args.input -> image file args.output; codec_for(data) picks the codec."""
    check_not_input(args.output, args.input)
    data = read_stream(args.input)
    codec = codec_for(data)
    start = time.perf_counter()
    rgb = codec.decompress(data)
    elapsed = time.perf_counter() - start
    write_image(args.output, rgb)
    if not args.quiet:
        h, w = rgb.shape[:2]
        print(f"{args.input} -> {args.output}: {w}x{h}, {len(data) * 8 / (h * w):.4f} bpp "
              f"({label_for(codec)}, {elapsed:.2f} s)")
    return 0
