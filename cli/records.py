"""`stbench records`: validate, list, join accuracy records; reproduce Chen et al. Table 8."""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from stbench.cli.options import (
    add_module,
    add_output,
    add_records,
    add_store,
    command,
    output_format,
    records_files,
)

from stbench.output import Column, Table, check_writable, emit
from stbench.progress import Progress

if TYPE_CHECKING:
    import pandas as pd


DENOMINATORS = ("headroom", "eq1")
PSI_HELP = "psi denominator: 100 - S_TSN (worked example, default) or max(S_a, S_TSN) (Eq. 1)"
# `records list` filters: (option, help)
LIST_FILTERS = (
    ("--dataset", "dataset id or alias, e.g. mini_ssv2 or Mini-Kinetics"),
    ("--model", "zoo model name or part of a published name"),
    ("--metric", "e.g. top1, top5"),
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add `records` with its subcommands validate, list, phi-psi and join."""
    p = command(sub, "records", "accuracy records: validate, list, join, Phi/Psi (Table 8)")
    rsub = p.add_subparsers(dest="records_command", metavar="SUBCOMMAND")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    v = command(rsub, "validate", "check records CSV files; report every bad row")
    v.add_argument("files", nargs="+", type=Path, metavar="FILE", help="records CSV file(s)")
    v.add_argument(
        "--with-shipped",
        action="store_true",
        help="validate together with the shipped records (catches duplicate keys across them)",
    )
    add_module(v)
    add_output(v, what="the per-file summary")
    v.set_defaults(func=run_validate)

    ls = command(rsub, "list", "list records (shipped, plus --records FILE...)")
    for flag, summary in LIST_FILTERS:
        ls.add_argument(flag, help=summary)
    add_records(ls)
    add_output(ls, what="the records (csv/json: every column)")
    ls.set_defaults(func=run_list)

    pp = command(rsub, "phi-psi", "Chen et al. Eq. 1-2 from the IBM figures vs Table 8")
    pp.add_argument("--denominator", choices=DENOMINATORS, default="headroom", help=PSI_HELP)
    pp.add_argument(
        "--per-model", action="store_true", help="print Eq. 1 per model instead of Table 8"
    )
    add_output(pp)
    pp.set_defaults(func=run_phi_psi)

    j = command(rsub, "join", "profiles x records on (model, frames, size, num_classes)")
    add_store(j)
    add_records(j)
    add_output(j, default="csv", what="the joined rows")
    j.set_defaults(func=run_join)


def _load(user: list[Path] | None) -> pd.DataFrame:
    from stbench.zoo.records import load_records

    return load_records(user_files=user or ())


def run_validate(args: argparse.Namespace) -> int:
    """Print one row per file; raise RecordsError (exit 2) listing every bad row as file:line."""
    from stbench.zoo.records import RecordsError, check_files, shipped_files

    fmt = output_format(args)
    missing = [str(f) for f in args.files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"files: not found or not a file: {', '.join(missing)}")
    files = [*shipped_files(), *args.files] if args.with_shipped else list(args.files)
    checked = check_files(files, keep=False)  # streamed: counts and problems, no records kept
    problems = checked.problems
    by_name = Counter()  # records of the files of each name (a row names its file's name)
    for f, n in zip(files, checked.counts, strict=True):
        by_name[f.name] += n
    summary = [
        {
            "file": str(f),
            "records": by_name[f.name],
            "problems": sum(p.startswith(f"{f}:") for p in problems),
        }
        for f in files
    ]
    counted = f"{sum(checked.counts)} records in {len(files)} file(s)"
    title = (
        f"records: {len(problems)} problem(s); good: {counted}" if problems else f"ok: {counted}"
    )
    emit(Table(summary, title=title), fmt, out=args.out)
    if problems:
        raise RecordsError(problems)
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Print the records matching the filters (the table leaves out the detail columns)."""
    from stbench.zoo.records import COLUMNS, DETAIL_COLUMNS

    fmt = output_format(args)
    with Progress("records list") as bar:
        bar.describe("reading the records")
        df = _list(args, _load(records_files(args)))
        bar.describe(f"printing {len(df)} records")
        shown = [c for c in COLUMNS if c not in DETAIL_COLUMNS]
        emit(Table(df, shown, title=f"stbench records: {len(df)}"), fmt, out=args.out)
    return 0


def _list(args: argparse.Namespace, df: pd.DataFrame) -> pd.DataFrame:
    """The records that `records list`'s filters select (a ValueError when none)."""
    from stbench.zoo.records import resolve_dataset

    if args.dataset:
        df = df[df["dataset"] == resolve_dataset(args.dataset).name]
    if args.model:
        m = args.model.lower()
        df = df[(df["model"] == m) | df["published_name"].str.lower().str.contains(m, regex=False)]
    if args.metric:
        df = df[df["metric"] == args.metric]
    if df.empty:
        raise ValueError("filters: no record matches")
    return df


def run_phi_psi(args: argparse.Namespace) -> int:
    """Print Table 8 reproduced from the IBM figures next to the paper's values."""
    from stbench.zoo.analysis import compare_table8, per_model_effects

    fmt = output_format(args)
    records = _load(None)
    if args.per_model:
        df = per_model_effects(records, denominator=args.denominator)
        title = f"Chen et al. Eq. 1 per model (psi denominator: {args.denominator})"
        emit(Table(df, title=title), fmt, out=args.out)
        return 0
    df = compare_table8(records, denominator=args.denominator)
    n, ok = len(df), int(df["rounds_to_paper"].sum())
    summary = (
        f"{ok}/{n} reproduced values round to the paper's; "
        f"max |diff| {df['diff'].abs().max():.3f}, mean |diff| {df['diff'].abs().mean():.3f}"
    )
    title = f"Chen et al. Table 8: reproduced vs paper (psi denominator: {args.denominator})"
    shown = [Column(c) for c in df.columns if c != "paper_source"]
    emit(Table(df, shown, title=title, notes=[summary]), fmt, out=args.out)
    return 0


def run_join(args: argparse.Namespace) -> int:
    """Join the store's profiles with the records and write them (nothing dropped)."""
    import sys

    from stbench.bench.join import join_profiles_records, join_summary
    from stbench.bench.store.results import ResultsStore, default_store_path

    fmt = output_format(args, default="csv")
    user = records_files(args)
    if args.out:
        check_writable(args.out)
    path = args.store or default_store_path()
    if not Path(path).is_file():
        raise FileNotFoundError(f"store: {path} does not exist; run `stbench sweep` first")
    with Progress("records join") as bar:
        bar.describe(f"reading {path}")
        with ResultsStore(path, readonly=True) as store:
            profiles = store.to_dataframe()
        if profiles.empty:
            raise ValueError(f"store: {path} holds no profiles")
        bar.describe("joining the records")
        joined = join_profiles_records(profiles, _load(user))
        bar.describe(f"writing {len(joined)} rows")
        emit(Table(joined, title=f"profiles x records from {path}"), fmt, out=args.out)
    s = join_summary(joined)
    print(
        f"{f'wrote {args.out}' if args.out else 'join'}: {s['both']} joined rows "
        f"({s['records_joined']} records), {s['record_only']} records without a profile, "
        f"{s['profile_only']} profiles without a record",
        file=sys.stderr,
    )
    return 0
