"""`tfcodec info FILE`: print a stream's header without decoding it (no TensorFlow)."""


def register(subparsers):
    p = subparsers.add_parser("info", help="print the header of a .tfc file",
                              description="Print a .tfc file's header and check its CRC. Fast: no model is loaded.")
    p.add_argument("input", help=".tfc file")
    p.set_defaults(func=run)


def run(args):
    from tfcodec import container
    from tfcodec.fileio import read_stream

    data = read_stream(args.input)
    header, strings = container.unpack(data)
    pixels = header.height * header.width
    print(f"file:          {args.input}")
    print(f"format:        tfcodec stream, version {container.FORMAT_VERSION}")
    print(f"model:         {header.model_id}")
    print(f"weights:       {header.weights_hash.hex()}")
    print(f"size:          {header.width}x{header.height}")
    print(f"rate setting:  {header.rate}")
    print(f"coded strings: {len(strings)} ({sum(map(len, strings))} bytes)")
    print(f"file size:     {len(data)} bytes, {len(data) * 8 / pixels:.4f} bpp")
    print("crc32:         ok")
    return 0
