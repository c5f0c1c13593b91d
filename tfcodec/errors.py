"""The one exception type a user of tfcodec needs to catch for bad input."""


class FormatError(ValueError):
    """A stream, image or weights file that tfcodec cannot use.

    Raised for truncated, corrupt or foreign streams, streams made with other
    weights, absurd header values and unreadable images. The message is meant
    for a person: the CLI prints it without a traceback.
    """
