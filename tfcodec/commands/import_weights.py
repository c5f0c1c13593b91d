"""`tfcodec import-weights`: a model trained with CompressAI or tensorflow-compression ->
a tfcodec weights bundle that every tfcodec tool takes (the work in tfcodec.importers)."""

SOURCES = ("compressai", "tfc")


def register(subparsers):
    p = subparsers.add_parser(
        "import-weights", help="turn a CompressAI or tensorflow-compression model into a weights file",
        description="Write a weights bundle (.npz) from a model trained elsewhere. --from compressai: a "
                    "CompressAI checkpoint (a zoo file such as bmshj2018-hyperprior-3-....pth.tar, or "
                    "the checkpoint CompressAI's training example saves) of bmshj2018-hyperprior or "
                    "mbt2018-mean, read without PyTorch. --from tfc: a tensorflow-compression Ballé 2018 "
                    "scale hyperprior checkpoint (see benchmarks/tfc_model.py for the layout). The bundle "
                    "computes the source model exactly; its streams are tfcodec's, so compress, "
                    "decompress, eval, export and the edge runtimes take it like any tfcodec model.",
        epilog="example: tfcodec import-weights --from compressai --arch mbt2018-mean --quality 3 "
               "mbt2018-mean-3-723404a8.pth.tar --out mbt2018-mean-q3.npz")
    p.add_argument("checkpoint", help="the model file: a .pth.tar for CompressAI, a checkpoint prefix "
                                      "(.../ckpt-1) or its folder for tfc; local or a URL (gs://...)")
    p.add_argument("--from", dest="source", required=True, choices=SOURCES, help="where the model comes from")
    p.add_argument("--arch", choices=("bmshj2018-hyperprior", "mbt2018-mean"),
                   help="CompressAI architecture (--from compressai)")
    p.add_argument("--quality", type=int, choices=range(1, 9), metavar="1-8",
                   help="CompressAI quality the checkpoint was trained for (--from compressai); names the "
                        "model and gives its lambda")
    p.add_argument("--lmbda", type=float, help="the lambda a tfc model was trained with (--from tfc; kept in "
                                               "the bundle's config)")
    p.add_argument("--gdn", choices=("simplified", "classic"), default="simplified",
                   help="the GDN of a tfc model (--from tfc; a checkpoint does not say): simplified = TFC's "
                        "default tfc.GDN(), what its model scripts train (default); classic = "
                        "GDN(alpha_parameter=2, epsilon_parameter=0.5)")
    p.add_argument("--out", required=True, help="output .npz (local or a URL), written atomically")
    p.add_argument("--calibration", help="optional folder of TRAINING images: calibrate the integer entropy "
                                         "nets on crops of them as well as on samples of the model's prior")
    p.set_defaults(func=run)


def run(args):
    from tfcodec.errors import FormatError
    from tfcodec.importers.bundle import save_imported

    if args.source == "compressai":
        if args.arch is None or args.quality is None:
            raise FormatError("--from compressai needs --arch and --quality")
        from tfcodec.importers import torch_checkpoint
        from tfcodec.importers.compressai import model_from_state_dict

        state = torch_checkpoint.state_dict(torch_checkpoint.load(args.checkpoint))
        name, model = model_from_state_dict(state, args.arch, args.quality)
        source = {"from": "compressai", "arch": args.arch, "quality": args.quality}
    else:
        from tfcodec.importers.tfc import model_from_checkpoint

        name, model = model_from_checkpoint(args.checkpoint, args.lmbda, args.gdn)
        source = {"from": "tfc", "gdn": args.gdn}
    source["file"] = str(args.checkpoint).rsplit("/", 1)[-1]
    save_imported(model, name, args.out, source, args.calibration)
    print(f"wrote {args.out}: model {name}")
    return 0
