"""`python -m tfcodec.edge compress|decompress IN OUT --models DIR`: the edge runtime's command."""

import argparse
import os
import sys
import time

from tfcodec.errors import FormatError


def build_parser():
    p = argparse.ArgumentParser(
        prog="python -m tfcodec.edge",
        description="Compress/decompress .tfc files with an exported model folder (LiteRT + numpy, "
                    "no TensorFlow). Streams are the same format as `tfcodec compress/decompress`.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def common(q):
        q.add_argument("--models", required=True, help="export folder (python -m tfcodec.export --out)")
        q.add_argument("--threads", type=int, default=None, help="CPU threads for LiteRT (default: its own)")
        q.add_argument("--edgetpu", action="store_true",
                       help="run the *_edgetpu.tflite models on the Edge TPU (needs libedgetpu)")
        q.add_argument("--quiet", action="store_true", help="print nothing on success")

    c = sub.add_parser("compress", help="compress an image to a .tfc file",
                       description="Compress a PNG/JPEG into a .tfc file that `tfcodec decompress` also reads.")
    c.add_argument("input", help="image file")
    c.add_argument("output", help="output .tfc file (written atomically)")
    rate = c.add_mutually_exclusive_group()
    rate.add_argument("--quality", type=float, default=None, help="quality in [0, 1] (default 0.5)")
    rate.add_argument("--bpp", type=float, help="target bits per pixel (searches the quality)")
    common(c)
    d = sub.add_parser("decompress", help="decompress a .tfc file to PNG",
                       description="Decode a .tfc file made by this model's weights (edge or TF encoder).")
    d.add_argument("input", help=".tfc file")
    d.add_argument("output", help="output image (PNG unless the extension says .bmp/.ppm/.tif)")
    common(d)
    return p


def _run(args):
    from tfcodec.edge.codec import EdgeCodec
    from tfcodec.fileio import check_not_input, read_image, read_stream, write_atomic, write_image

    check_not_input(args.output, args.input)
    codec = EdgeCodec(args.models, num_threads=args.threads, edgetpu=args.edgetpu)
    if args.command == "compress":
        rgb = read_image(args.input)
        start = time.perf_counter()
        if args.bpp is not None:
            if args.bpp <= 0:
                raise FormatError("--bpp must be positive")
            data = codec.compress_for_bpp(rgb, args.bpp)
        else:
            data = codec.compress(rgb, 0.5 if args.quality is None else args.quality)
        elapsed = time.perf_counter() - start
        write_atomic(args.output, data)
        h, w = rgb.shape[:2]
        if not args.quiet:
            print(f"{os.path.basename(args.input)} {w}x{h} -> {args.output}: {len(data)} bytes, "
                  f"{len(data) * 8 / (h * w):.4f} bpp ({codec.name} edge {codec.manifest['mode']}, "
                  f"{elapsed:.2f} s)")
        return 0
    data = read_stream(args.input)
    start = time.perf_counter()
    rgb = codec.decompress(data)
    elapsed = time.perf_counter() - start
    write_image(args.output, rgb)
    if not args.quiet:
        h, w = rgb.shape[:2]
        print(f"{args.input} -> {args.output}: {w}x{h}, {len(data) * 8 / (h * w):.4f} bpp "
              f"({codec.name} edge {codec.manifest['mode']}, {elapsed:.2f} s)")
    return 0


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    try:
        return _run(args)
    except FormatError as e:
        print(f"tfcodec.edge {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"tfcodec.edge {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
