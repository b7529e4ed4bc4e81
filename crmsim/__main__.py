"""``python -m crmsim``: the command line."""

import sys

from crmsim.cli import main

sys.exit(main())
