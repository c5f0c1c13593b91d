"""`tfcodec edge compress|decompress IN OUT --models DIR`: the edge runtime's command.

It imports no TensorFlow: LiteRT, numpy and Pillow only, as on the device.
`python -m tfcodec.edge` is the same command.
"""

from tfcodec.transcode import add_file_arguments


def register(subparsers):
    p = subparsers.add_parser(
        "edge", help="compress/decompress with an exported model folder, without TensorFlow",
        description="Compress/decompress .tfc files with an exported model folder (LiteRT + numpy, "
                    "no TensorFlow). Streams are the same format as `tfcodec compress/decompress`.")
    p.set_defaults(func=lambda args: p.print_help() or 2,  # no compress/decompress: usage, exit 2
                   other_model_hint=lambda model: f"decode it with --models DIR, DIR the export folder of model {model}")
    sub = p.add_subparsers(dest="subcommand", metavar="COMMAND")

    def common(q):
        q.add_argument("--models", required=True, help="export folder (tfcodec export --out)")
        q.add_argument("--threads", type=int, default=None, help="CPU threads for LiteRT (default: every CPU)")
        q.add_argument("--edgetpu", action="store_true",
                       help="run the *_edgetpu.tflite models on the Edge TPU (needs libedgetpu)")
        q.add_argument("--quiet", action="store_true", help="print nothing on success")

    c = sub.add_parser("compress", help="compress an image to a .tfc file",
                       description="Compress a PNG/JPEG into a .tfc file that `tfcodec decompress` also reads.")
    add_file_arguments(c, "image file", ".tfc")
    rate = c.add_mutually_exclusive_group()
    rate.add_argument("--quality", type=float, default=None, help="quality in [0, 1] (default 0.5)")
    rate.add_argument("--bpp", type=float, help="target bits per pixel (searches the quality)")
    common(c)
    c.set_defaults(func=run)
    d = sub.add_parser("decompress", help="decompress a .tfc file to PNG",
                       description="Decode a .tfc file made by this model's weights (edge or TF encoder).")
    add_file_arguments(d, ".tfc file", ".png")
    common(d)
    d.set_defaults(func=run)


def run(args):
    from tfcodec.edge.codec import EdgeCodec
    from tfcodec.transcode import compress_file, decompress_file, file_pairs, run_files

    pairs = file_pairs(args)
    codec = EdgeCodec(args.models, num_threads=args.threads, edgetpu=args.edgetpu)
    label = f"{codec.name} edge {codec.manifest['mode']}"

    def job(path, output, lock):
        if args.subcommand == "compress":
            quality = 0.5 if args.quality is None else args.quality
            return compress_file(codec, path, output, label, quality, args.bpp, lock)
        return decompress_file(lambda data: codec, path, output, lambda _: label, lock)

    return run_files(pairs, job, args.out_dir is not None, args.quiet)
