"""The one exception type a user of tfcodec needs to catch for bad input, and how
the command lines report it."""

import sys


class FormatError(ValueError):
    """A stream, image or weights file that tfcodec cannot use.

    Raised for truncated, corrupt or foreign streams, streams made with other
    weights, absurd header values and unreadable images. The message is meant
    for a person: the CLI prints it without a traceback.
    """


class OtherModelError(FormatError):
    """A stream made by another model than the one asked to decode it.

    The message names both models but not how to pick the stream's: that
    differs between subcommands, so each adds its own hint from
    `stream_model` (`--model NAME` for `tfcodec decompress`, an export folder
    for `tfcodec edge decompress`).
    """

    def __init__(self, stream_model, decoder_model):
        super().__init__(f"stream was made by model {stream_model!r}, not {decoder_model!r}")
        self.stream_model = stream_model


def run_reporting_errors(prog, command, action, other_model_hint):
    """Runs a CLI command the way every subcommand reports failures: a FormatError is
    one line on stderr and exit 1 (no traceback), Ctrl-C exit 130.
    `other_model_hint(model)` says how to decode a stream of another model."""
    try:
        return action() or 0
    except FormatError as e:
        hint = f": {other_model_hint(e.stream_model)}" if isinstance(e, OtherModelError) else ""
        print(f"{prog} {command}: error: {e}{hint}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog} {command}: interrupted", file=sys.stderr)
        return 130
