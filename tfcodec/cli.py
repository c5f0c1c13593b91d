"""The `tfcodec` command: one entry point, one module per subcommand.

Each subcommand module exposes ``register(subparsers)``, which adds its parser
and sets ``func`` to the function that runs it. Modules are imported lazily by
name so that `tfcodec info` does not pay for importing TensorFlow.
"""

import argparse
import importlib
import importlib.util
import os
import sys

from tfcodec.errors import run_reporting_errors

# subcommand name -> (module, one-line help). The module is imported only when
# that subcommand (or --help) needs it.
SUBCOMMANDS = {
    "compress": ("tfcodec.commands.compress", "compress an image to a .tfc file"),
    "decompress": ("tfcodec.commands.decompress", "decompress a .tfc file to PNG"),
    "info": ("tfcodec.commands.info", "print the header of a .tfc file"),
    "train": ("tfcodec.train.cli", "train a model"),
    "export-weights": ("tfcodec.train.export_weights", "turn a checkpoint into a shipped weights file"),
    "eval": ("tfcodec.evaluate.cli", "rate-distortion evaluation against classical codecs"),
    "truncate": ("tfcodec.commands.truncate", "cut a progressive stream to fewer iterations"),
}

# Subcommands that load a model; `info` and --help stay free of TensorFlow.
USES_TENSORFLOW = {"compress", "decompress", "train", "export-weights", "eval", "truncate"}


def build_parser(only=None):
    parser = argparse.ArgumentParser(
        prog="tfcodec",
        description="Learned image compression: compress, decompress, train, evaluate.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=help_text)
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name and e.name.startswith("tfcodec"):
                continue  # subcommand not built yet in this checkout
            raise
        module.register(sub)
    return parser


def _quiet_tensorflow_start():
    """Imports TensorFlow with its C++ start-up chatter (CUDA probing, oneDNN notes) muted.

    That chatter goes to file descriptor 2 before Python's logging exists, so
    it is muted at the descriptor, for the import and the device set-up only.
    Set TF_CPP_MIN_LOG_LEVEL=0 to see it.
    """
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0":
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            try:
                import tensorflow as tf
                tf.config.list_logical_devices()
            except ImportError:
                pass
    finally:
        os.dup2(saved, 2)
        os.close(saved)


NO_TENSORFLOW = ("tfcodec {command}: TensorFlow is not installed; install the build for this machine: "
                 "pip install 'tfcodec[tf]' (CPU, or GPUs with CUDA), 'tfcodec[gpu]' or 'tfcodec[tpu]'")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    wanted = argv[0] if argv and argv[0] in SUBCOMMANDS else None
    if wanted in USES_TENSORFLOW and not {"-h", "--help"} & set(argv):
        if importlib.util.find_spec("tensorflow") is None:
            # TensorFlow is an extra (setup.py says why): a plain `pip install tfcodec` runs
            # `info` and the edge runtime, and says what to install for the rest.
            print(NO_TENSORFLOW.format(command=wanted), file=sys.stderr)
            return 1
        if wanted == "train":
            from tfcodec.train.accelerators import configure_tpu_runtime

            configure_tpu_runtime()  # v5e/v5p/v6e: before TensorFlow is imported
        _quiet_tensorflow_start()
    parser = build_parser(only=wanted)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return run_reporting_errors("tfcodec", args.command, lambda: args.func(args),
                                lambda model: f"decode it with --model {model}")


if __name__ == "__main__":
    sys.exit(main())
