"""`tfcodec compress IN OUT`: an image file to a .tfc stream."""


def register(subparsers):
    p = subparsers.add_parser(
        "compress", help="compress an image to a .tfc file",
        description="Compress a PNG/JPEG (any size) into a .tfc file with a learned codec. "
                    "Without --quality/--iterations/--bpp a mid quality is used.")
    p.add_argument("input", help="image file (PNG, JPEG, ...)")
    p.add_argument("output", help="output .tfc file (written atomically)")
    p.add_argument("--model", default="default",
                   help="shipped model name ('default': the hyperprior cw2020-small-wide-range; 'rnn': the progressive "
                        "rnn-gru-small-msssim-late) or path to a weights .npz (default: %(default)s)")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--quality", type=float, help="hyperprior models: quality in [0, 1]")
    rate.add_argument("--iterations", type=int, help="recurrent models: number of iterations")
    rate.add_argument("--bpp", type=float, help="target bits per pixel (searches the rate setting)")
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=run)


def run(args):
    from tfcodec.api import load_codec
    from tfcodec.commands.transcode import compress_file

    codec = load_codec(args.model)
    setting = args.iterations if args.iterations is not None else args.quality
    return compress_file(codec, args, codec.name, setting)
