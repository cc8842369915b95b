"""`stbench reproduce`: compare every published params/FLOPs figure with the zoo's count.

For each published params or FLOPs/MACs figure (zoo/targets.csv), build the zoo model on the
meta device at the same input, count it under the same convention and print the deviation in
% with the tolerance and any recorded reason.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stbench.cli.options import SELECTION_HELP, add_output, command, expand_names, output_format

from stbench.output import check_writable, emit
from stbench.progress import Progress


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `reproduce` subcommand."""
    from stbench.zoo.targets import PAPER_KEYS

    p = command(sub, "reproduce", doc=__doc__)
    p.add_argument("--paper", help=f"only this source: {', '.join(PAPER_KEYS)}")
    p.add_argument(
        "--model", nargs="+", metavar="MODEL", help=f"only these models: {SELECTION_HELP}"
    )
    add_output(p, what="the report")
    p.add_argument("--targets", help="a targets CSV (default: the zoo's zoo/targets.csv)")
    p.add_argument(
        "--check",
        action="store_true",
        help="exit 1 when a figure deviates without a recorded reason or cannot be measured",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the report for the selected targets and print or write it."""
    from stbench.zoo.targets import load_targets

    from stbench.errors import UserError

    fmt = output_format(args)
    if args.out:
        check_writable(args.out)
    if args.targets and not Path(args.targets).is_file():
        raise UserError(f"--targets: no such file {args.targets!r}")
    targets = load_targets(args.targets, paper=args.paper)
    if args.model:
        known = {t.model for t in targets}
        where = f"in --paper {args.paper}" if args.paper else ""
        chosen = set(
            expand_names(args.model, option="--model", names=known, source="targets", where=where)
        )
        targets = [t for t in targets if t.model in chosen]
    if not targets:
        raise UserError(f"--paper {args.paper}: no published figure")
    rows = []
    with Progress("reproduce", len(targets)) as bar:
        bar.describe("loading the zoo")
        from stbench.bench.count import reproduce as rp

        for t in targets:
            bar.describe(f"{t.model} {t.quantity}")
            rows += rp.reproduce([t])
            bar.advance()
    counts = rp.summary(rows)
    emit(rp.report_table(rows), fmt, out=args.out)
    if args.out:
        print(f"reproduce: wrote {len(rows)} rows as {fmt} to {args.out}", file=sys.stderr)
    if args.check and (counts["deviating"] or counts["error"]):
        return 1
    return 0
