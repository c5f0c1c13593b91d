"""`tfcodec compress IN OUT`: an image file to a .tfc stream."""

import os
import time


def register(subparsers):
    p = subparsers.add_parser(
        "compress", help="compress an image to a .tfc file",
        description="Compress a PNG/JPEG (any size) into a .tfc file with a learned codec. "
                    "Without --quality/--iterations/--bpp a mid quality is used.")
    p.add_argument("input", help="image file (PNG, JPEG, ...)")
    p.add_argument("output", help="output .tfc file (written atomically)")
    p.add_argument("--model", default="default",
                   help="shipped model name or path to a weights .npz (default: %(default)s)")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--quality", type=float, help="hyperprior models: quality in [0, 1]")
    rate.add_argument("--iterations", type=int, help="recurrent models: number of iterations")
    rate.add_argument("--bpp", type=float, help="target bits per pixel (searches the rate setting)")
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=run)


def run(args):
    from tfcodec.api import load_codec
    from tfcodec.errors import FormatError
    from tfcodec.fileio import check_not_input, read_image, write_atomic

    check_not_input(args.output, args.input)
    rgb = read_image(args.input)
    codec = load_codec(args.model)
    start = time.perf_counter()
    if args.bpp is not None:
        if args.bpp <= 0:
            raise FormatError("--bpp must be positive")
        data = codec.compress_for_bpp(rgb, args.bpp)
    else:
        setting = args.iterations if args.iterations is not None else args.quality
        data = codec.compress(rgb, setting) if setting is not None else codec.compress(rgb)
    elapsed = time.perf_counter() - start
    write_atomic(args.output, data)
    if not args.quiet:
        h, w = rgb.shape[:2]
        print(f"{os.path.basename(args.input)} {w}x{h} -> {args.output}: {len(data)} bytes, "
              f"{len(data) * 8 / (h * w):.4f} bpp ({codec.name}, {elapsed:.2f} s)")
    return 0
