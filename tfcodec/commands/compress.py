"""`tfcodec compress IN OUT` (or `IN... --out-dir DIR`): image files to .tfc streams."""

from tfcodec.transcode import add_backend_argument, add_file_arguments


def register(subparsers):
    p = subparsers.add_parser(
        "compress", help="compress an image to a .tfc file",
        description="Compress a PNG/JPEG (any size) into a .tfc file with a learned codec. "
                    "Without --quality/--iterations/--bpp a mid quality is used.")
    add_file_arguments(p, "image file (PNG, JPEG, ...)", ".tfc")
    p.add_argument("--model", default="default",
                   help="shipped model name ('default': the hyperprior cw2020-small-full-range; 'rnn': the progressive "
                        "rnn-gru-small-msssim-late) or path to a weights .npz, local or a URL (gs://, ...) "
                        "(default: %(default)s)")
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--quality", type=float, help="hyperprior models: quality in [0, 1]")
    rate.add_argument("--iterations", type=int, help="recurrent models: number of iterations")
    rate.add_argument("--bpp", type=float, help="target bits per pixel (searches the rate setting)")
    p.add_argument("--refine", type=int, default=0, metavar="STEPS",
                   help="hyperprior models: refine this image's latents by STEPS gradient steps "
                        "before coding (slower encoding, a smaller file for the same quality; the "
                        "file decodes as any other; docs/refine.md). 100 steps: 4 %% less rate for "
                        "the same PSNR, 20-30 s for a 0.2-megapixel photo on 2 busy CPU cores "
                        "(default: %(default)s, off)")
    add_backend_argument(p)
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=run)


def run(args):
    from tfcodec.api import backend_name, load_codec
    from tfcodec.errors import FormatError
    from tfcodec.transcode import compress_file, file_pairs, run_files

    if args.refine < 0:
        raise FormatError("--refine must be 0 or more steps")
    pairs = file_pairs(args)
    backend = "tf" if args.refine and args.backend == "auto" else args.backend  # refining needs gradients
    codec = load_codec(args.model, args.refine, backend, None if args.quiet else print)
    setting = args.iterations if args.iterations is not None else args.quality

    def compress(label):
        return run_files(pairs, lambda path, output, lock: compress_file(
            codec, path, output, label, setting, args.bpp, lock), args.out_dir is not None, args.quiet)

    if not args.refine:
        return compress(f"{codec.name}, {backend_name(codec)}")
    from tqdm import tqdm

    with tqdm(unit="step", desc="refining", disable=args.quiet, leave=False) as bar:
        def advance(done, total):
            bar.total = total
            bar.update(done - bar.n)

        codec.refine_progress = advance
        try:
            return compress(f"{codec.name}, {backend_name(codec)}, refined {args.refine} steps")
        finally:
            codec.refine_progress = None
