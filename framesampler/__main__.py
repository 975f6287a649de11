"""``python -m framesampler``: the command line."""
import sys

from framesampler.cli import main

sys.exit(main())
