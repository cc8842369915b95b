"""``python -m stbench.cli``: the same as the `stbench` console script."""

import sys

from stbench.cli import main

sys.exit(main())
