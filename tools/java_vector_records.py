"""The record format of the Java codec core's test vectors, shared by their two writers.

``tools/make_java_vectors.py`` and ``tools/make_java_latent_vectors.py`` both
write plain-text files that ``Vectors.java`` reads: records, each a line
``<type> <name>``, then lines ``<key> <value>`` and a line ``end``. Keeping the
writer in one place keeps the two files readable by the same Java parser.
"""

import numpy as np


def read_text(path):
    """A committed vector file's text, or None where it does not exist yet (the tools compare
    before they write)."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return None


def ints(values):
    """Integers as one line of decimal numbers separated by single spaces (C order)."""
    return " ".join(str(int(v)) for v in np.asarray(values).reshape(-1))


def hexs(data):
    """Bytes as lowercase hex, or ``-`` for none (an empty value would end the line)."""
    return bytes(data).hex() or "-"


class Writer:
    """Collects records under a header; refuses what the line-based format cannot hold."""

    def __init__(self, header, title):
        self.lines = [header, f"# {title}\n"]
        self.names = set()

    def record(self, kind, name, fields):
        if (kind, name) in self.names:
            raise ValueError(f"duplicate record {kind} {name}")
        self.names.add((kind, name))
        self.lines.append(f"\n{kind} {name}\n")
        for key, value in fields:
            value = str(value)
            if "\n" in value:
                raise ValueError(f"newline in {key} of {name}")
            self.lines.append(f"{key} {value}\n")
        self.lines.append("end\n")

    def text(self):
        return "".join(self.lines)
