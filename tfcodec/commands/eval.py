"""`tfcodec eval`: measure learned and classical codecs the same way on the same images.

The flags; the evaluation itself is tfcodec.evaluate.evaluation.evaluate.
`python -m tfcodec.evaluate` is the same command.
"""

import argparse

from tfcodec.evaluate.classical import CLASSICAL  # light: no Pillow/TF at import
from tfcodec.evaluate.evaluation import ANCHOR_REASON, DEFAULT_ANCHOR

DESCRIPTION = """\
Rate-distortion evaluation. For each codec and rate setting, every image is
compressed to a real file and decoded; rate = file bytes x 8 / pixels (headers
included), PSNR and MS-SSIM on RGB 0-255 (TensorFlow's tf.image.psnr and
tf.image.ssim_multiscale), encode/decode seconds. Per-image and image-averaged
points, BD-rate/BD-PSNR against an anchor (Bjontegaard, monotone PCHIP
interpolation over the overlapping range) and plots are written to --out.

Points are cached per codec identity / setting / image content, so adding a
codec or images computes only what is new."""

EPILOG = """\
codecs:
  jpeg   libjpeg-turbo, 4:2:0, optimised Huffman, quality sweep
  webp   libwebp lossy, method 4, 4:2:0, quality sweep
  jp2    JPEG 2000 (OpenJPEG), 9/7 irreversible, 4:4:4, settings = target bpp
  avif   AVIF (libaom), speed 6, 4:2:0, quality sweep
  heic   HEIC (x265 intra via pillow-heif), 4:2:0, quality sweep
  jxl    JPEG XL (libjxl VarDCT), effort 7, quality sweep
  jpeg+refine   the jpeg codec's files (same sweep, same rate) decoded by
                the shipped JPEG refiner at its best step count;
                jpeg+refine:MODEL (name, .npz or export folder), @K for K steps
  tfcodec:NAME  a tfcodec learned model by name or weights path; sweeps its
                rate_settings
  tfcodec:NAME+refine=STEPS
                the same model with encoder-side latent refinement
                (compress --refine STEPS): the same decoder, other points

published curves (--published FILE), JSON:
  {"name": "Paper 2018", "bpp": [0.1, 0.3], "psnr": [27.1, 30.2],
   "msssim_db": [10.1, 13.4]}     (or a list of such objects; psnr and/or
                                   msssim_db; "msssim" in 0..1 also accepted)

examples:
  tfcodec eval --data kodak/ --out eval/ --codecs jpeg,webp,avif,tfcodec:default
  tfcodec eval --data kodak/ --out eval/ --codecs jpeg,tfcodec:model.weights.h5 \\
      --settings jpeg=10,30,50,70,90 --anchor jpeg --published ballé2018.json
"""


def register(subparsers):
    p = subparsers.add_parser("eval", help="rate-distortion evaluation against classical codecs",
                              description=DESCRIPTION, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    default_codecs = ",".join(CLASSICAL) + ",tfcodec:default"
    p.add_argument("--data", required=True, metavar="DIR",
                   help="folder of test images (PNG etc., not recursive), e.g. the 24 Kodak PNGs; "
                        "a local folder or a URL (gs://, ...)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="output folder: results.json, points.csv, summary.md, *.png (created if missing; "
                        "local or a URL, gs://, ...)")
    p.add_argument("--codecs", default=None, metavar="LIST",
                   help=f"comma-separated codecs (default: {default_codecs}; with the default, a "
                        "learned model that cannot be loaded is skipped with a warning)")
    p.add_argument("--settings", action="append", default=[], metavar="CODEC=V1,V2,...",
                   help="override a codec's rate sweep, e.g. jpeg=10,50,90 or tfcodec:default=1,2,4 "
                        "(values parsed as JSON numbers where possible); repeatable")
    p.add_argument("--anchor", default=DEFAULT_ANCHOR, metavar="CODEC",
                   help=f"BD-rate/BD-PSNR anchor (default: {DEFAULT_ANCHOR}: {ANCHOR_REASON})")
    p.add_argument("--published", action="append", default=[], metavar="FILE",
                   help="JSON file with a published curve (see below) added to tables, plots and BD; repeatable")
    p.add_argument("--cache", default=None, metavar="DIR",
                   help="point cache folder (default: OUT/cache); share it between runs to reuse points")
    p.add_argument("--no-cache", action="store_true", help="recompute everything and store nothing")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="use only the first N images (sorted by name), for a quick look")
    p.add_argument("--max-bpp", type=float, default=2.0, metavar="BPP",
                   help="x-axis limit of the plots (default: 2.0; 0 = no limit); tables keep every point")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args):
    from tfcodec.errors import FormatError
    from tfcodec.evaluate.evaluation import evaluate
    from tfcodec.evaluate.runner import EvalError

    try:
        evaluate(args)
    except EvalError as e:  # a message for a person, reported as every command reports one
        raise FormatError(str(e)) from None
    return 0
