"""`python -m tfcodec.export ...` is `tfcodec export ...` (tfcodec/commands/export.py)."""

import sys

from tfcodec.cli import main

sys.exit(main(["export", *sys.argv[1:]]))
