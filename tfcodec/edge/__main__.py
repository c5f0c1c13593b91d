"""`python -m tfcodec.edge ...` is `tfcodec edge ...` (tfcodec/commands/edge.py)."""

import sys

from tfcodec.cli import main

sys.exit(main(["edge", *sys.argv[1:]]))
