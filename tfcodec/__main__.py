"""`python -m tfcodec` is the `tfcodec` command."""

import sys

from tfcodec.cli import main

sys.exit(main())
