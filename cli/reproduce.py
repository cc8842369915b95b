"""`stbench reproduce`: published params/MACs figures vs the zoo's counts, with deviations."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `reproduce` subcommand."""
    from stbench.zoo.targets import PAPER_KEYS

    p = sub.add_parser(
        "reproduce",
        help="compare every published params/FLOPs figure with the zoo's count",
        description=(
            "For each published params or FLOPs/MACs figure (zoo/targets.csv), build the zoo "
            "model on the meta device at the same input, count it under the same convention "
            "and print the deviation in % with the tolerance and any recorded reason."
        ),
    )
    p.add_argument("--paper", help=f"only this source: {', '.join(PAPER_KEYS)}")
    p.add_argument("--model", default="*", help="shell-style model pattern, e.g. 'gst_*'")
    p.add_argument("--format", default="table", help="table (default), markdown, csv or json")
    p.add_argument("--out", help="write the report to FILE instead of stdout")
    p.add_argument("--targets", help="a targets CSV (default: the zoo's zoo/targets.csv)")
    p.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when a figure deviates without a recorded reason or cannot be measured",
    )
    p.set_defaults(func=run)


def _check_out(out: str) -> Path:
    """Fail early, before any counting, when --out cannot be written."""
    from stbench.errors import UserError

    path = Path(out)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise UserError(f"--out: {out!r} is a directory; allowed: a file path")
    if not parent.is_dir():
        raise UserError(f"--out: directory {str(parent)!r} does not exist")
    if (path.exists() and not os.access(path, os.W_OK)) or not os.access(parent, os.W_OK):
        raise UserError(f"--out: {out!r} is not writable")
    return path


def run(args: argparse.Namespace) -> int:
    """Build the report for the selected targets and print or write it."""
    from stbench.bench import reproduce as rp
    from stbench.zoo.targets import load_targets

    from stbench.errors import UserError

    if args.format not in rp.FORMATS:
        raise UserError(f"--format: got {args.format!r}; allowed: {', '.join(rp.FORMATS)}")
    out = _check_out(args.out) if args.out else None
    if args.targets and not Path(args.targets).is_file():
        raise UserError(f"--targets: no such file {args.targets!r}")
    targets = rp.select(load_targets(args.targets, paper=args.paper), args.model)
    if not targets:
        raise UserError(
            f"no published figure matches --paper {args.paper or '*'} --model {args.model!r}"
        )
    rows = rp.reproduce(targets)
    if args.format == "table" and out is None:
        from stbench.bench.console import table_console

        table_console().print(rp.to_rich_table(rows))
    else:
        render = {
            "markdown": rp.to_markdown,
            "csv": rp.to_csv,
            "json": rp.to_json,
            "table": rp.to_markdown,  # a file gets the Markdown table
        }[args.format]
        text = render(rows)
        if out is None:
            sys.stdout.write(text)
        else:
            try:
                out.write_text(text, encoding="utf-8")
            except OSError as exc:
                raise UserError(f"--out: cannot write {str(out)!r}: {exc.strerror}") from None
            print(f"wrote {len(rows)} rows to {out}", file=sys.stderr)
    counts = rp.summary(rows)
    if args.check and (counts["deviating"] or counts["error"]):
        return 1
    return 0
