"""`stbench reproduce`: published params/MACs figures vs the zoo's counts, with deviations."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from stbench.cli.options import add_output, command, output_format

from stbench.output import check_writable, emit

DESCRIPTION = (
    "For each published params or FLOPs/MACs figure (zoo/targets.csv), build the zoo "
    "model on the meta device at the same input, count it under the same convention "
    "and print the deviation in % with the tolerance and any recorded reason."
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `reproduce` subcommand."""
    from stbench.zoo.targets import PAPER_KEYS

    p = command(
        sub,
        "reproduce",
        "compare every published params/FLOPs figure with the zoo's count",
        DESCRIPTION,
    )
    p.add_argument("--paper", help=f"only this source: {', '.join(PAPER_KEYS)}")
    p.add_argument("--model", default="*", help="shell-style model pattern, e.g. 'gst_*'")
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
    from stbench.bench import reproduce as rp
    from stbench.zoo.targets import load_targets

    from stbench.errors import UserError

    fmt = output_format(args)
    if args.out:
        check_writable(args.out)
    if args.targets and not Path(args.targets).is_file():
        raise UserError(f"--targets: no such file {args.targets!r}")
    targets = rp.select(load_targets(args.targets, paper=args.paper), args.model)
    if not targets:
        raise UserError(
            f"no published figure matches --paper {args.paper or '*'} --model {args.model!r}"
        )
    rows = rp.reproduce(targets)
    counts = rp.summary(rows)
    emit(rp.report_table(rows), fmt, out=args.out)
    if args.out:
        print(f"reproduce: wrote {len(rows)} rows as {fmt} to {args.out}", file=sys.stderr)
    if args.check and (counts["deviating"] or counts["error"]):
        return 1
    return 0
