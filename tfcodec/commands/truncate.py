"""`tfcodec truncate IN OUT --iterations K`: cut a progressive stream without re-encoding.

A recurrent-family stream holds its iterations in order, each in its own coded
strings; keeping the first K and rewriting the header and CRC gives exactly
the stream that compressing with K iterations writes. No model is loaded.
"""


def register(subparsers):
    p = subparsers.add_parser(
        "truncate", help="cut a progressive stream to fewer iterations",
        description="Keep the first K iterations of a recurrent-model .tfc stream (a lower rate), "
                    "without decoding or re-encoding. The output decodes to what compressing with "
                    "K iterations gives.")
    p.add_argument("input", help=".tfc file written by a recurrent model (rnn-*)")
    p.add_argument("output", help="output .tfc file (written atomically; must not be the input)")
    p.add_argument("--iterations", "-k", type=int, required=True,
                   help="iterations to keep, 1..the count in the input")
    p.add_argument("--quiet", action="store_true", help="print nothing on success")
    p.set_defaults(func=run)


def run(args):
    from tfcodec import container
    from tfcodec.codecs.recurrent import truncate
    from tfcodec.fileio import check_not_input, read_stream, write_atomic

    check_not_input(args.output, args.input)
    data = read_stream(args.input)
    out = truncate(data, args.iterations)
    write_atomic(args.output, out)
    if not args.quiet:
        header, _ = container.unpack(data)
        pixels = header.height * header.width
        print(f"{args.input}: {header.rate} -> {args.iterations} iterations, "
              f"{len(data)} -> {len(out)} bytes ({len(out) * 8 / pixels:.4f} bpp) -> {args.output}")
    return 0
