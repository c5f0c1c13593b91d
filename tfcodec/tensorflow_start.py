"""Importing TensorFlow on demand: a clear error where it is missing, and its start-up chatter muted.

TensorFlow is an extra (setup.py says why), and most of what users run does
not need it: `compress` and `decompress` on the shipped models run on LiteRT
(`tfcodec.api`), `info` and `edge` never touch it. Whatever does need it calls
`require_tensorflow` first, so a plain install says what to install in one
line instead of a traceback, and a full one starts without several lines of
CUDA probing and oneDNN notes.
"""

import importlib.util
import os

from tfcodec.errors import FormatError

INSTALL_TENSORFLOW = ("install the build for this machine: pip install 'tfcodec[tf]' (CPU, or GPUs with "
                      "CUDA), 'tfcodec[gpu]' or 'tfcodec[tpu]'")
NO_TENSORFLOW = "tfcodec {command}: TensorFlow is not installed; " + INSTALL_TENSORFLOW


class TensorFlowMissing(FormatError):
    """The work asked for needs TensorFlow, and this installation has none."""


def tensorflow_installed():
    return importlib.util.find_spec("tensorflow") is not None


def require_tensorflow(what):
    """Imports TensorFlow (muted, see `quiet_tensorflow_start`); `what` names the work that needs
    it in the error raised where it is not installed."""
    if not tensorflow_installed():
        raise TensorFlowMissing(f"{what} needs TensorFlow, which is not installed; {INSTALL_TENSORFLOW}")
    quiet_tensorflow_start()


def quiet_tensorflow_start():
    """Imports TensorFlow with its C++ start-up chatter (CUDA probing, oneDNN notes) muted.

    That chatter goes to file descriptor 2 before Python's logging exists, so
    it is muted at the descriptor, for the import and the device set-up only.
    Set TF_CPP_MIN_LOG_LEVEL=0 to see it.
    """
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0":
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with muted_stderr():
        try:
            import tensorflow as tf
            tf.config.list_logical_devices()
        except ImportError:
            pass


class muted_stderr:
    """File descriptor 2 goes to /dev/null inside the block: for C++ libraries (TensorFlow,
    LiteRT's XNNPACK note) that print there before, or beside, Python's logging."""

    def __enter__(self):
        self._saved = os.dup(2)
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
        return self

    def __exit__(self, *exc):
        os.dup2(self._saved, 2)
        os.close(self._saved)
        return False
