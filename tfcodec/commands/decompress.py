"""`tfcodec decompress IN OUT`: a .tfc stream back to an image file."""

import time


def register(subparsers):
    p = subparsers.add_parser(
        "decompress", help="decompress a .tfc file to PNG",
        description="Decode a .tfc file. The model is the one the stream names, unless --model "
                    "points at a weights file; streams made with other weights are refused.")
    p.add_argument("input", help=".tfc file")
    p.add_argument("output", help="output image (PNG unless the extension says .bmp/.ppm/.tif)")
    p.add_argument("--model", default=None, help="weights .npz or shipped name (default: from the stream)")
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=run)


def run(args):
    from tfcodec.api import codec_for_stream
    from tfcodec.fileio import check_not_input, read_stream, write_image

    check_not_input(args.output, args.input)
    data = read_stream(args.input)
    codec = codec_for_stream(data, args.model)
    start = time.perf_counter()
    rgb = codec.decompress(data)
    elapsed = time.perf_counter() - start
    write_image(args.output, rgb)
    if not args.quiet:
        h, w = rgb.shape[:2]
        print(f"{args.input} -> {args.output}: {w}x{h}, {len(data) * 8 / (h * w):.4f} bpp "
              f"({codec.name}, {elapsed:.2f} s)")
    return 0
