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
    if args.bpp is not None and args.bpp <= 0:
        raise FormatError("--bpp must be positive")

    def code():
        if args.bpp is not None:
            return codec.compress_for_bpp(rgb, args.bpp)
        return codec.compress(rgb, setting) if setting is not None else codec.compress(rgb)

    def summary(data, seconds):
        h, w = rgb.shape[:2]
        return (f"{os.path.basename(args.input)} {w}x{h} -> {args.output}: {len(data)} bytes, "
                f"{len(data) * 8 / (h * w):.4f} bpp ({label}, {seconds:.2f} s)")

    return _timed_then_written(args, code, write_atomic, summary)


def decompress_file(codec_for, args, label_for):
    """.tfc file args.input -> image file args.output; codec_for(data) picks the codec."""
    check_not_input(args.output, args.input)
    data = read_stream(args.input)
    codec = codec_for(data)

    def summary(rgb, seconds):
        h, w = rgb.shape[:2]
        return (f"{args.input} -> {args.output}: {w}x{h}, {len(data) * 8 / (h * w):.4f} bpp "
                f"({label_for(codec)}, {seconds:.2f} s)")

    return _timed_then_written(args, lambda: codec.decompress(data), write_image, summary)


def _timed_then_written(args, code, write, summary):
    """Runs code() timed (the codec alone, without file I/O), writes its result to
    args.output with write(path, result), and prints summary(result, seconds) unless --quiet."""
    start = time.perf_counter()
    result = code()
    seconds = time.perf_counter() - start
    write(args.output, result)
    if not args.quiet:
        print(summary(result, seconds))
    return 0
