"""`tfcodec export-weights`: a training checkpoint -> the weights bundle the CLI loads
(the work, and TensorFlow, in tfcodec.train.export_weights)."""


def register(subparsers):
    p = subparsers.add_parser(
        "export-weights", help="turn a checkpoint into a shipped weights file",
        description="Write a weights bundle (.npz) from the latest checkpoint of a training workdir, "
                    "for either family: a hyperprior model's CDF tables and integer entropy nets are "
                    "calibrated on --calibration; a recurrent model's bit-probability net is fitted again "
                    "on the sign bits of crops of further images of that folder (up to 768), kept only if "
                    "it codes held-out crops better.")
    p.add_argument("--workdir", required=True, help="training workdir (reads config.json and checkpoints/); "
                                                    "a local folder or a gs://, file://, ... URL")
    p.add_argument("--out", required=True, help="output .npz (e.g. tfcodec/weights/cw2020-small-full-range.npz; "
                                                "a URL works too), written atomically")
    p.add_argument("--calibration", required=True,
                   help="folder of TRAINING images for calibration (local or a URL; never the test set)")
    p.add_argument("--calibration-images", type=int, default=16, help="how many calibration crops, each of another image (default %(default)s)")
    p.set_defaults(func=run)


def run(args):
    from absl import logging

    from tfcodec.train.export_weights import export_from_checkpoint

    logging.set_verbosity(logging.INFO)  # the recurrent export step reports its fit as it goes

    step = export_from_checkpoint(args.workdir, args.out, args.calibration, args.calibration_images)
    print(f"wrote {args.out} from step {step}")
    return 0
