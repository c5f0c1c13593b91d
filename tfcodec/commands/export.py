"""`tfcodec export`: a weights bundle -> TFLite models for the edge runtime (`tfcodec edge`).

`python -m tfcodec.export` is the same command, the form users know.
"""

import argparse

from tfcodec.export.runtimes import DEFAULT, RUNTIMES


def register(subparsers):
    p = subparsers.add_parser(
        "export", help="export a hyperprior model or a JPEG refiner to TFLite for the edge runtime",
        description="Export a hyperprior model (analysis, hyper-analysis, latent residual prediction,\n"
                    "synthesis) to TFLite for the edge runtime (`tfcodec edge`), with the range coder's\n"
                    "tables and integer nets, a manifest.json and a report.txt. Streams made on the\n"
                    "device decode with `tfcodec decompress` and the other way round.\n"
                    "A JPEG refiner (--model jpeg-refine) exports one model per step count, for\n"
                    "`tfcodec enhance --model DIR` (float32, float16 or int8; dynamic shapes).\n"
                    "`python -m tfcodec.export` is the same command.",
        epilog="Examples:\n"
               "  tfcodec export --weights w.npz --out edge/ --int8 --calibration train/\n"
               "  tfcodec export --weights w.npz --out tpu/ --edgetpu --height 512 --width 768 "
               "--calibration train/\n"
               "  tfcodec export --weights w.npz --out pi/ --int8 --runtime tflite-runtime-2.14 "
               "--calibration train/\n"
               "  tfcodec export --model jpeg-refine --out refiner-int8/ --int8 --calibration train/\n"
               "Calibrate on training images only, never on the evaluation set (Kodak).",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="shipped model name (default: default); with --weights, the bundle's "
                                   "model must be this one")
    p.add_argument("--weights", help="weights bundle .npz, local or a URL (gs://, ...) (default: the shipped "
                                     "file of --model)")
    p.add_argument("--out", required=True, help="output folder, local or a URL (gs://, ...) (created; files "
                                                "replaced atomically; --edgetpu runs edgetpu_compiler only "
                                                "for a local folder)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--float32", dest="mode", action="store_const", const="float32",
                      help="float32 TFLite (reference; dynamic shapes)")
    mode.add_argument("--float16", dest="mode", action="store_const", const="float16",
                      help="float16 weights, float32 compute and I/O (dynamic shapes)")
    mode.add_argument("--int8", dest="mode", action="store_const", const="int8",
                      help="full-integer int8 post-training quantisation, int8 inputs/outputs (default)")
    mode.add_argument("--edgetpu", dest="mode", action="store_const", const="edgetpu",
                      help="--int8 with static shapes, checked op by op for the Edge TPU; runs "
                           "edgetpu_compiler when it is on PATH")
    p.set_defaults(mode="int8")
    p.add_argument("--height", type=int, help="static input height, a multiple of 64 (--edgetpu default 512; "
                                              "other modes: dynamic when omitted). Larger images are coded "
                                              "in tiles of this size when it is at least 320")
    p.add_argument("--width", type=int, help="static input width, a multiple of 64 (--edgetpu default 768)")
    p.add_argument("--calibration", help="folder of TRAINING images for int8 calibration, local or a URL "
                                         "(required for --int8/--edgetpu)")
    p.add_argument("--calibration-images", type=int, default=24,
                   help="training images (crops) to calibrate on, each at qualities 0, 0.25, 0.5, 0.75 "
                        "and 1 (default %(default)s)")
    p.add_argument("--runtime", choices=tuple(RUNTIMES),
                   help="the TFLite runtime the models are for; the export uses only op versions it "
                        "registers (GDN as RSQRT where it lacks int8 LOG/SQRT) and checks every model "
                        "against its table: "
                        + "; ".join(f"{r.name}: {r.title}" for r in RUNTIMES.values())
                        + f". Default: coral for --edgetpu, else {DEFAULT}")
    p.add_argument("--gdn", choices=("rsqrt", "log-exp"),
                   help="how GDN is written: rsqrt (Edge TPU ops; LiteRT's int8 RSQRT is slow on CPUs) or "
                        "log-exp (LOG/EXP/SQRT, table lookups in int8 on CPUs). Default: for --int8 the "
                        "fastest form the runtime registers (log-exp on litert), rsqrt otherwise")
    p.add_argument("--seed", type=int, default=0, help="calibration crop seed (default %(default)s)")
    p.add_argument("--quiet", action="store_true", help="print only errors")
    p.set_defaults(func=run)


def run(args):
    from tfcodec.api import _ALIASES
    from tfcodec.export.exporter import ExportOptions, load_export_bundle
    from tfcodec.models import bundle_family
    from tfcodec.weights import resolve

    name = _ALIASES.get(args.model, args.model) if args.model else None
    weights = resolve(args.weights or name or _ALIASES["default"])
    options = ExportOptions(args.mode, args.height, args.width, args.calibration,
                            args.calibration_images, args.seed, expect_model=name, gdn=args.gdn,
                            runtime=args.runtime)
    bundle, _ = load_export_bundle(weights)  # refuses a family without an edge export
    bundle_family(bundle).load("edge_export")(
        weights, args.out, options, progress=None if args.quiet else (lambda m: print(m, flush=True)))
    return 0
