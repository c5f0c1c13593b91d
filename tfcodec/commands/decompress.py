"""`tfcodec decompress IN OUT`: a .tfc stream back to an image file."""


def register(subparsers):
    p = subparsers.add_parser(
        "decompress", help="decompress a .tfc file to PNG",
        description="Decode a .tfc file. The model is the one the stream names, unless --model "
                    "points at a weights file; streams made with other weights are refused.")
    p.add_argument("input", help=".tfc file")
    p.add_argument("output", help="output image (PNG unless the extension says .bmp/.ppm/.tif)")
    p.add_argument("--model", default=None, help="weights .npz (local or a URL: gs://, ...) or shipped name "
                                                 "(default: from the stream)")
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=run)


def run(args):
    from tfcodec.api import codec_for_stream
    from tfcodec.transcode import decompress_file

    return decompress_file(lambda data: codec_for_stream(data, args.model), args, lambda codec: codec.name)
