"""`stbench list`: the registered zoo models with family, paper, backbone and the display
fields their specs derive from the architecture (stem, operators, temporal pooling, GST)."""

from __future__ import annotations

import argparse

from stbench.cli.options import (
    add_models,
    add_output,
    command,
    expand_names,
    output_format,
)

from stbench.output import Column, Table, emit, render

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
    p = command(sub, "list", "list zoo models (all, or the selected ones)")
    add_models(
        p,
        "*",
        "zoo model names or shell patterns, several or comma-separated (default: every model)",
    )
    add_output(p, what="the list (markdown: the README's zoo table)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the selected models (all by default)."""
    from stbench.zoo.index import zoo_rows

    every = {r["model"]: r for r in zoo_rows(live=bool(getattr(args, "modules", None)))}
    rows = [every[n] for n in expand_names(args.names or ["*"], names=every)]
    fmt = output_format(args)
    if fmt == "markdown":
        table = Table(_readme_rows(rows), README_COLUMNS)
    else:
        shown = [
            {**r, "operators": "/".join(r["operators"]), "temporal_pool": r["temporal_pool"] or ""}
            for r in rows
        ]
        shown = [{k: v for k, v in r.items() if k != "paper_title"} for r in shown]
        columns = [Column(key, header) for key, header in TABLE_COLUMNS.items()]
        table = Table(
            shown,
            columns,
            title=f"stbench zoo: {len(rows)} model{'s' * (len(rows) != 1)} (default input)",
        )
    emit(table, fmt, out=args.out)
    return 0


README_COLUMNS = (
    Column("model"),
    Column("family"),
    Column("paper"),
    Column("backbone"),
    Column("operators", "stem: operator per stage or block"),
    Column("temporal_pool", "where T is halved"),
    Column("input", "default input (T x S, classes)"),
)


def _readme_rows(rows: list[dict]) -> list[dict[str, str]]:
    return [
        {
            "model": f"`{r['model']}`",
            "family": r["family"],
            "paper": f"{r['paper_title'].split(',')[0]} ({r['paper']})",
            "backbone": r["backbone"],
            "operators": _ops_with_stem(r),
            "temporal_pool": r["temporal_pool"] or "-",
            "input": f"{r['frames']} x {r['size']}, {r['classes']}",
        }
        for r in rows
    ]


def markdown_table(specs: list) -> str:
    """The zoo as a Markdown table, one row per model (the README's zoo table)."""
    from stbench.zoo.index import spec_row

    return render(Table(_readme_rows([spec_row(s) for s in specs]), README_COLUMNS), "markdown")


def _ops_with_stem(row: dict) -> str:
    """Per-stage operators, prefixed by the stem operator when the spec names one."""
    ops = " / ".join(row["operators"])
    return f"stem {row['stem']}: {ops}" if row["stem"] else ops
