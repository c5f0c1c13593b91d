"""`tfcodec decompress IN OUT` (or `IN... --out-dir DIR`): .tfc streams back to image files."""

from tfcodec.transcode import add_backend_argument, add_file_arguments


def register(subparsers):
    p = subparsers.add_parser(
        "decompress", help="decompress a .tfc file to PNG",
        description="Decode a .tfc file. The model is the one the stream names, unless --model "
                    "points at a weights file; streams made with other weights are refused.")
    add_file_arguments(p, ".tfc file", ".png")
    p.add_argument("--model", default=None, help="weights .npz (local or a URL: gs://, ...) or shipped name "
                                                 "(default: from the stream)")
    add_backend_argument(p)
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=run)


def run(args):
    from tfcodec.api import backend_name, codec_for_stream
    from tfcodec.transcode import decompress_file, file_pairs, run_files

    return run_files(file_pairs(args), lambda path, output, lock: decompress_file(
        lambda data: codec_for_stream(data, args.model, args.backend), path, output,
        lambda codec: f"{codec.name}, {backend_name(codec)}", lock),
        args.out_dir is not None, args.quiet)
