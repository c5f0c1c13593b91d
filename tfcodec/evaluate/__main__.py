"""`python -m tfcodec.evaluate`: same as `tfcodec eval`."""

import sys

from tfcodec.evaluate.cli import main

sys.exit(main())
