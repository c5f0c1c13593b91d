"""The `tfcodec` command: one entry point, one module per subcommand in tfcodec/commands/.

Subcommand NAME is ``tfcodec.commands.NAME`` (dashes as underscores): its
``register(subparsers)`` adds its parser and sets ``func``, and, if needed,
``other_model_hint`` (tfcodec.errors) and ``subcommand`` (`tfcodec edge
compress`). Modules are imported by name, lazily, so that `tfcodec info`,
`tfcodec edge` and --help never import TensorFlow. The ``python -m`` forms
users know (tfcodec.export, .edge, .evaluate) run this entry point.
"""

import argparse
import importlib
import os
import sys

from tfcodec.errors import run_reporting_errors
from tfcodec.tensorflow_start import NO_TENSORFLOW, quiet_tensorflow_start, tensorflow_installed

# subcommand name -> one-line help, listed by `tfcodec --help` without importing
# the subcommand's module.
SUBCOMMANDS = {
    "compress": "compress an image to a .tfc file",
    "decompress": "decompress a .tfc file to PNG",
    "info": "print the header of a .tfc file",
    "enhance": "decode a JPEG at a higher quality with the JPEG refiner",
    "truncate": "cut a progressive stream to fewer iterations",
    "train": "train a model",
    "export-weights": "turn a checkpoint into a shipped weights file",
    "import-weights": "turn a CompressAI or tensorflow-compression model into a weights file",
    "eval": "rate-distortion evaluation against classical codecs",
    "export": "export a hyperprior model or a JPEG refiner to TFLite for the edge runtime",
    "edge": "compress/decompress with an exported model folder, without TensorFlow",
}

# Subcommands that always need TensorFlow, imported before their module. `compress` and
# `decompress` are not among them: on the shipped models they run on LiteRT, and import TensorFlow
# only for --backend tf or a model without a LiteRT export (tfcodec.api). `info`, `edge` and
# --help never import it.
USES_TENSORFLOW = {"truncate", "train", "export-weights", "import-weights", "eval", "export"}


def module_name(command):
    """The module of subcommand `command`: always one of tfcodec/commands/."""
    return "tfcodec.commands." + command.replace("-", "_")


def build_parser(only=None):
    """The `tfcodec` parser. With `only`, that subcommand's module alone is imported;
    the others are listed by name and help (enough for `tfcodec --help`)."""
    parser = argparse.ArgumentParser(
        prog="tfcodec",
        description="Learned image compression: compress, decompress, train, evaluate, export to the edge.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text in SUBCOMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=help_text)
        else:
            importlib.import_module(module_name(name)).register(sub)
    return parser


# Subcommands that code images: their only BLAS work is the integer nets, which run a slice's
# two nets on two threads, each GEMM on one core (tfcodec.entropy.blas_threads). OpenBLAS is
# put on one thread before numpy loads it, so that no multi-threaded GEMM leaves workers
# spinning on the cores those threads need. OPENBLAS_NUM_THREADS, if set, wins.
CODES_IMAGES = {"compress", "decompress", "edge"}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    wanted = argv[0] if argv and argv[0] in SUBCOMMANDS else None
    if wanted in CODES_IMAGES and "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    if wanted in USES_TENSORFLOW and not {"-h", "--help"} & set(argv):
        if not tensorflow_installed():
            # TensorFlow is an extra (setup.py says why): a plain `pip install tfcodec` runs
            # `info` and the edge runtime, and says what to install for the rest.
            print(NO_TENSORFLOW.format(command=wanted), file=sys.stderr)
            return 1
        if wanted == "train":
            from tfcodec.train.accelerators import configure_tpu_runtime

            configure_tpu_runtime()  # v5e/v5p/v6e: before TensorFlow is imported
        quiet_tensorflow_start()
    parser = build_parser(only=wanted)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    command = " ".join(filter(None, (args.command, getattr(args, "subcommand", None))))
    hint = getattr(args, "other_model_hint", lambda model: f"decode it with --model {model}")
    return run_reporting_errors("tfcodec", command, lambda: args.func(args), hint)


if __name__ == "__main__":
    sys.exit(main())
