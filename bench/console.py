"""The rich console every table command prints through."""

from __future__ import annotations

import sys

from rich.console import Console

PIPED_WIDTH = 200


def table_console() -> Console:
    """A stdout console; when stdout is not a terminal, wide enough that tables stay readable."""
    return Console() if sys.stdout.isatty() else Console(width=PIPED_WIDTH)
