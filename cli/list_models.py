"""`stbench list`: the registered zoo models with family, paper, backbone and the display
fields their specs derive from the architecture (stem, operators, temporal pooling, GST)."""

from __future__ import annotations

import argparse
import csv
import json
import sys

# row key -> table header (units where the value has one)
TABLE_COLUMNS = {
    "model": "model",
    "family": "family",
    "paper": "paper",
    "backbone": "backbone",
    "stem": "stem",
    "operators": "operators per stage or block",
    "temporal_pool": "where T is halved",
    "frames": "frames (T)",
    "size": "size (px)",
    "classes": "classes",
}


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `list` subcommand."""
    p = sub.add_parser("list", help="list zoo models (optionally matching a pattern)")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style name pattern, e.g. 'mc*'")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON instead of a table")
    fmt.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    fmt.add_argument(
        "--markdown", action="store_true", help="print the Markdown zoo table used in README.md"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the models matching the pattern."""
    from stbench.zoo import list_specs

    specs = list_specs(args.pattern)
    if not specs:
        raise ValueError(f"pattern: no zoo model matches {args.pattern!r}")
    rows = [
        {
            "model": s.name,
            "family": s.family,
            "paper": s.paper,
            "backbone": s.backbone,
            "stem": s.stem,
            "operators": "/".join(s.operators),
            "temporal_pool": s.temporal_pool or "",
            "gst_alpha": s.gst_alpha,
            "gst_beta": s.gst_beta,
            "frames": s.default_frames,
            "size": s.default_size,
            "classes": s.default_classes,
        }
        for s in specs
    ]
    if args.markdown:
        print(markdown_table(specs), end="")
    elif args.json:
        json.dump(rows, sys.stdout, indent=1)
        print()
    elif args.csv:
        w = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    else:
        from rich.table import Table
        from stbench.bench.console import table_console

        t = Table(title=f"stbench zoo: {len(rows)} models (default input)")
        for col, header in TABLE_COLUMNS.items():
            t.add_column(header, no_wrap=col == "model", overflow="fold")
        for r in rows:
            t.add_row(*(str(r[c]) for c in TABLE_COLUMNS))
        table_console().print(t)
    return 0


def markdown_table(specs: list) -> str:
    """The zoo as a Markdown table, one row per model (the README's zoo table)."""
    from stbench.zoo import PAPERS

    lines = [
        "| model | family | paper | backbone | stem: operator per stage or block | where T is halved | default input (T x S, classes) |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in specs:
        paper = PAPERS[s.paper].split(",")[0]
        lines.append(
            f"| `{s.name}` | {s.family} | {paper} ({s.paper}) | {s.backbone} | "
            f"stem {s.stem}: {' / '.join(s.operators)} | {s.temporal_pool or '-'} | "
            f"{s.default_frames} x {s.default_size}, {s.default_classes} |"
        )
    return "\n".join(lines) + "\n"
