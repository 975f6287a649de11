"""``python -m framesampler.cli``."""
import sys

from framesampler.cli import main

sys.exit(main())
