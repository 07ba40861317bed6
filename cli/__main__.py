"""`python -m croptfx.cli`: the same as the `croptfx` console script."""

import sys

from croptfx.cli import main

sys.exit(main.main())
