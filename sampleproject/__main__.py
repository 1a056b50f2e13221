"""Makes ``python -m sampleproject`` behave exactly like the ``sampleproject`` command."""

import sys

from sampleproject.cli import main

sys.exit(main())
