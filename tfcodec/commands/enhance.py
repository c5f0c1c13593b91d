"""`tfcodec enhance IN.jpg OUT.png` (or `IN... --out-dir DIR`): JPEG files refined by a jpeg-refine model."""

from tfcodec.transcode import add_file_arguments


def register(subparsers):
    p = subparsers.add_parser(
        "enhance", help="decode a JPEG at a higher quality with the JPEG refiner",
        description="Decode a JPEG file as libjpeg does, then refine it with a recurrent network "
                    "conditioned on the file's own quantisation tables and chroma subsampling "
                    "(docs/jpeg_refine.md). The JPEG is read, never changed; the output is a PNG. "
                    "Baseline and progressive colour JPEGs of any quality; grayscale, CMYK, 12-bit "
                    "and lossless JPEGs are refused.",
        epilog="Examples:\n"
               "  tfcodec enhance photo.jpg photo.png\n"
               "  tfcodec enhance --iterations 1 photo.jpg fast.png\n"
               "  tfcodec enhance *.jpg --out-dir enhanced/\n"
               "  tfcodec enhance --model refiner-int8/ photo.jpg photo.png   (an export folder: LiteRT)",
        formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    add_file_arguments(p, "JPEG file", ".png")
    p.add_argument("--model", default="jpeg-refine",
                   help="the shipped refiner ('jpeg-refine': jpeg-refine-small), a weights .npz (local or a "
                        "URL: gs://, ...), or a folder from `tfcodec export` of a refiner (runs on LiteRT, "
                        "without TensorFlow) (default: %(default)s)")
    p.add_argument("--iterations", type=int, default=None,
                   help="refinement steps, 1 to the model's count (3); each refines the last (default: the "
                        "count that scored best on training photos, recorded in the weights)")
    p.add_argument("--backend", choices=("auto", "tf"), default="auto",
                   help="'auto': the shipped refiner on its float LiteRT models (no TensorFlow), other "
                        "weights on TensorFlow; 'tf': the Keras model (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=run)


def run(args):
    from tfcodec.api import load_refiner
    from tfcodec.transcode import enhance_file, file_pairs, run_files

    pairs = file_pairs(args)
    refiner = load_refiner(args.model, args.backend)
    refiner.steps(args.iterations)  # a bad --iterations fails before any file is read
    return run_files(pairs, lambda path, output, lock: enhance_file(refiner, path, output, args.iterations, lock),
                     args.out_dir is not None, args.quiet)
