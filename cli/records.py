"""`stbench records`: validate, list, join accuracy records; reproduce Chen et al. Table 8."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

LIST_COLUMNS = (
    "paper",
    "model",
    "published_name",
    "dataset",
    "split",
    "metric",
    "value",
    "level",
    "views",
    "frames",
    "input_size",
    "modality",
    "protocol",
    "variant",
    "source",
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add `records` with its subcommands validate, list, phi-psi and join."""
    p = sub.add_parser("records", help="accuracy records: validate, list, join, Phi/Psi (Table 8)")
    rsub = p.add_subparsers(dest="records_command", metavar="SUBCOMMAND")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    v = rsub.add_parser("validate", help="check records CSV files; report every bad row")
    v.add_argument("files", nargs="+", type=Path, metavar="FILE")
    v.add_argument(
        "--with-shipped",
        action="store_true",
        help="validate together with the shipped records (catches duplicate keys across them)",
    )
    v.set_defaults(func=run_validate)

    ls = rsub.add_parser("list", help="list records (shipped, plus --records FILE...)")
    ls.add_argument("--dataset", help="dataset id or alias, e.g. mini_ssv2 or Mini-Kinetics")
    ls.add_argument("--model", help="zoo model name or part of a published name")
    ls.add_argument("--metric", help="e.g. top1, top5")
    ls.add_argument("--records", nargs="+", type=Path, metavar="FILE", help="extra records files")
    _format_flags(ls, markdown=False)
    ls.set_defaults(func=run_list)

    pp = rsub.add_parser("phi-psi", help="Chen et al. Eq. 1-2 from the IBM figures vs Table 8")
    pp.add_argument(
        "--denominator",
        choices=("headroom", "eq1"),
        default="headroom",
        help="psi denominator: 100 - S_TSN (worked example, default) or max(S_a, S_TSN) (Eq. 1)",
    )
    pp.add_argument(
        "--per-model", action="store_true", help="print Eq. 1 per model instead of Table 8"
    )
    _format_flags(pp, markdown=True)
    pp.set_defaults(func=run_phi_psi)

    j = rsub.add_parser("join", help="profiles x records on (model, frames, size, num_classes)")
    j.add_argument(
        "--store",
        type=Path,
        help="results store (default: $STBENCH_STORE or results/stbench.sqlite)",
    )
    j.add_argument("--out", type=Path, required=True, help="CSV file to write")
    j.add_argument("--records", nargs="+", type=Path, metavar="FILE", help="extra records files")
    j.set_defaults(func=run_join)


def _format_flags(p: argparse.ArgumentParser, *, markdown: bool) -> None:
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON")
    fmt.add_argument("--csv", action="store_true", help="print CSV")
    if markdown:
        fmt.add_argument("--markdown", action="store_true", help="print a Markdown table")


def _load(extra: list[Path] | None) -> pd.DataFrame:
    from stbench.zoo.records import load_records, shipped_files

    return load_records([*shipped_files(), *(extra or [])])


def run_validate(args: argparse.Namespace) -> int:
    """Validate files; raise RecordsError (exit 2) listing every bad row as file:line."""
    from stbench.zoo.records import RecordsError, shipped_files, validate_files

    missing = [str(f) for f in args.files if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"files: not found or not a file: {', '.join(missing)}")
    files = [*shipped_files(), *args.files] if args.with_shipped else list(args.files)
    rows, problems = validate_files(files)
    if problems:
        raise RecordsError(problems)
    print(f"ok: {len(rows)} records in {len(files)} file(s)")
    return 0


def _emit(df: pd.DataFrame, args: argparse.Namespace, title: str) -> None:
    if args.json:
        json.dump(json.loads(df.to_json(orient="records")), sys.stdout, indent=1)
        print()
    elif args.csv:
        df.to_csv(sys.stdout, index=False)
    elif getattr(args, "markdown", False):
        print(_markdown(df))
    else:
        from rich.table import Table
        from stbench.bench.console import table_console

        t = Table(title=title)
        for c in df.columns:
            t.add_column(str(c))
        for row in df.itertuples(index=False):
            t.add_row(*(_cell(x) for x in row))
        table_console().print(t)


def _cell(x: object) -> str:
    import pandas as pd

    if x is None or x is pd.NA or (isinstance(x, float) and pd.isna(x)):
        return ""
    return str(round(x, 4)) if isinstance(x, float) else str(x)


def _markdown(df: pd.DataFrame) -> str:
    import pandas as pd

    def cell(x: object) -> str:
        if isinstance(x, float):
            return "" if pd.isna(x) else f"{x:.3f}"
        return "" if x is None or x is pd.NA else str(x)

    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(x) for x in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def run_list(args: argparse.Namespace) -> int:
    """Print the records matching the filters."""
    from stbench.zoo.records import resolve_dataset

    df = _load(args.records)
    if args.dataset:
        df = df[df["dataset"] == resolve_dataset(args.dataset).name]
    if args.model:
        m = args.model.lower()
        df = df[(df["model"] == m) | df["published_name"].str.lower().str.contains(m, regex=False)]
    if args.metric:
        df = df[df["metric"] == args.metric]
    if df.empty:
        raise ValueError("filters: no record matches")
    _emit(df[list(LIST_COLUMNS)], args, f"stbench records: {len(df)}")
    return 0


def run_phi_psi(args: argparse.Namespace) -> int:
    """Print Table 8 reproduced from the IBM figures next to the paper's values."""
    from stbench.zoo.analysis import compare_table8, per_model_effects

    records = _load(None)
    if args.per_model:
        df = per_model_effects(records, denominator=args.denominator)
        _emit(df, args, f"Chen et al. Eq. 1 per model (psi denominator: {args.denominator})")
        return 0
    df = compare_table8(records, denominator=args.denominator)
    plain = not (args.json or args.csv or args.markdown)
    title = f"Chen et al. Table 8: reproduced vs paper (psi denominator: {args.denominator})"
    _emit(df.drop(columns=["paper_source"]) if plain else df, args, title)
    if plain or args.markdown:
        n, ok = len(df), int(df["rounds_to_paper"].sum())
        print(
            f"{ok}/{n} reproduced values round to the paper's; "
            f"max |diff| {df['diff'].abs().max():.3f}, mean |diff| {df['diff'].abs().mean():.3f}"
        )
    return 0


def run_join(args: argparse.Namespace) -> int:
    """Join the store's profiles with the records and write one CSV (nothing dropped)."""
    from stbench.bench.join import join_profiles_records, join_summary
    from stbench.bench.store import ResultsStore, default_store_path

    if Path(args.out).is_dir():
        raise ValueError(f"--out: {str(args.out)!r} is a directory; give a .csv file path")
    path = args.store or default_store_path()
    if not Path(path).is_file():
        raise FileNotFoundError(f"store: {path} does not exist; run `stbench sweep` first")
    with ResultsStore(path, readonly=True) as store:
        profiles = store.to_dataframe()
    if profiles.empty:
        raise ValueError(f"store: {path} holds no profiles")
    joined = join_profiles_records(profiles, _load(args.records))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    joined.to_csv(args.out, index=False)
    s = join_summary(joined)
    print(
        f"wrote {args.out}: {s['both']} joined rows ({s['records_joined']} records), "
        f"{s['record_only']} records without a profile, {s['profile_only']} profiles without a record"
    )
    return 0
