"""`python -m tfcodec.evaluate ...` is `tfcodec eval ...` (tfcodec/commands/eval.py)."""

import sys

from tfcodec.cli import main

sys.exit(main(["eval", *sys.argv[1:]]))
