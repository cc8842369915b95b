"""`stbench list`: the registered zoo models with family, paper and backbone."""

from __future__ import annotations

import argparse
import csv
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `list` subcommand."""
    p = sub.add_parser("list", help="list zoo models (optionally matching a pattern)")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style name pattern, e.g. 'mc*'")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON instead of a table")
    fmt.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the models matching the pattern."""
    from zoo import list_specs

    specs = list_specs(args.pattern)
    if not specs:
        raise ValueError(f"pattern: no zoo model matches {args.pattern!r}")
    rows = [
        {
            "model": s.name,
            "family": s.family,
            "paper": s.paper,
            "backbone": s.backbone,
            "operators": "/".join(s.operators),
            "temporal_pool": s.temporal_pool or "",
            "frames": s.default_frames,
            "size": s.default_size,
            "classes": s.default_classes,
        }
        for s in specs
    ]
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        print()
    elif args.csv:
        w = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    else:
        from rich.console import Console
        from rich.table import Table

        t = Table(title=f"stbench zoo: {len(rows)} models")
        for col in ("model", "family", "paper", "backbone", "operators", "frames", "size"):
            t.add_column(col)
        for r in rows:
            t.add_row(
                *(
                    str(r[c])
                    for c in ("model", "family", "paper", "backbone", "operators", "frames", "size")
                )
            )
        Console().print(t)
    return 0
