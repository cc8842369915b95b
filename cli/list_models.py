"""`stbench list`: the registered zoo models with family, paper, backbone and the display
fields their specs derive from the architecture (stem, operators, temporal pooling, GST)."""

from __future__ import annotations

import argparse

from stbench.cli.options import add_models, add_output, command, expand_names, output_format

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
    """Print the models matching the pattern."""
    from stbench.zoo import get_spec

    specs = [get_spec(n) for n in expand_names(args.names or ["*"])]
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
    fmt = output_format(args)
    if fmt == "markdown":
        table = Table(_readme_rows(specs), README_COLUMNS)
    else:
        columns = [Column(key, header) for key, header in TABLE_COLUMNS.items()]
        table = Table(rows, columns, title=f"stbench zoo: {len(rows)} models (default input)")
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


def _readme_rows(specs: list) -> list[dict[str, str]]:
    from stbench.zoo import PAPERS

    return [
        {
            "model": f"`{s.name}`",
            "family": s.family,
            "paper": f"{PAPERS[s.paper].split(',')[0]} ({s.paper})",
            "backbone": s.backbone,
            "operators": _ops_with_stem(s),
            "temporal_pool": s.temporal_pool or "-",
            "input": f"{s.default_frames} x {s.default_size}, {s.default_classes}",
        }
        for s in specs
    ]


def markdown_table(specs: list) -> str:
    """The zoo as a Markdown table, one row per model (the README's zoo table)."""
    return render(Table(_readme_rows(specs), README_COLUMNS), "markdown")


def _ops_with_stem(spec) -> str:
    """Per-stage operators, prefixed by the stem operator when the spec names one."""
    ops = " / ".join(spec.operators)
    return f"stem {spec.stem}: {ops}" if spec.stem else ops
