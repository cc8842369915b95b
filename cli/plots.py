"""`stbench frontier`, `stbench compare` and `stbench demo`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_OUT_DIR = Path("stbench_out")
COSTS = ("macs", "flops", "params", "latency", "memory")


def _formats(p: argparse.ArgumentParser) -> None:
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print JSON instead of a table")
    fmt.add_argument("--csv", action="store_true", help="print CSV instead of a table")


def _fmt(args: argparse.Namespace) -> str:
    return "json" if args.json else "csv" if args.csv else "table"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `frontier`, `compare` and `demo` subcommands."""
    p = sub.add_parser(
        "frontier", help="write the speed-accuracy dashboard and print the Pareto frontier"
    )
    p.add_argument(
        "--out",
        default=str(DEFAULT_OUT_DIR / "dashboard.html"),
        help="dashboard HTML file (default: stbench_out/dashboard.html)",
    )
    p.add_argument("--dataset", help="dataset id or alias (default: every dataset)")
    p.add_argument(
        "--metric", default="top1", choices=("top1", "top5"), help="accuracy in %% (default: top1)"
    )
    p.add_argument(
        "--cost",
        default="macs",
        choices=COSTS,
        help="cost axis of the table: macs (GMACs per clip, default), flops (GFLOPs = 2 x MACs), "
        "params (M), latency (ms, median), memory (peak MiB)",
    )
    p.add_argument(
        "--store", help="results store (default: $STBENCH_STORE or results/stbench.sqlite)"
    )
    p.add_argument("--no-reference", action="store_true", help="ignore shipped GPU results")
    _formats(p)
    p.set_defaults(func=run_frontier)

    c = sub.add_parser("compare", help="compare models side by side (deltas vs the first)")
    c.add_argument("names", nargs="+", metavar="NAME", help="zoo model names")
    c.add_argument("--frames", type=int, help="clip length T (default: each model's own)")
    c.add_argument("--size", type=int, help="input size S in px (default: each model's own)")
    c.add_argument(
        "--units",
        default="macs",
        choices=("macs", "flops"),
        help="macs (GMACs, default) or flops (GFLOPs = 2 x MACs)",
    )
    c.add_argument(
        "--store", help="results store (default: $STBENCH_STORE or results/stbench.sqlite)"
    )
    _formats(c)
    c.set_defaults(func=run_compare)

    d = sub.add_parser(
        "demo", help="profile the zoo statically, write the dashboard, print the frontiers"
    )
    d.add_argument(
        "--out-dir", default=str(DEFAULT_OUT_DIR), help="output folder (default: stbench_out)"
    )
    d.add_argument(
        "--store", help="results store (default: $STBENCH_STORE or results/stbench.sqlite)"
    )
    d.set_defaults(func=run_demo)


def _dataset(name: str | None) -> str | None:
    if name is None:
        return None
    from stbench.zoo.records import resolve_dataset

    return resolve_dataset(name).name


def run_frontier(args: argparse.Namespace) -> int:
    """Write the dashboard and print the frontier of the chosen dataset, metric and cost."""
    from stbench.plots.dashboard import write_dashboard
    from stbench.plots.demo import check_writable, collect, frontier_points, pick_axis
    from stbench.plots.tables import brief_columns, dataset_title, emit, frontier_rows

    out = check_writable(args.out)
    dataset = _dataset(args.dataset)
    quiet = args.json or args.csv
    data = collect(store=args.store, reference=not args.no_reference, quiet=quiet)
    axis = pick_axis(data.axes, args.cost)
    front = frontier_points(data, axis, dataset=dataset, metric=args.metric)
    write_dashboard(data, out)
    rows = frontier_rows(front, axis)
    if quiet:
        emit(rows, fmt=_fmt(args))
    else:
        for (ds, metric), grp in front.groupby(["dataset", "metric"], sort=True):
            emit(
                frontier_rows(grp, axis),
                title=dataset_title(ds, metric, axis),
                columns=brief_columns(axis),
            )
        print(f"dashboard: {out}", file=sys.stderr)
    return 0


def run_compare(args: argparse.Namespace) -> int:
    """Print the models side by side, with deltas against the first."""
    from stbench.bench.config import ProfileConfig
    from stbench.plots.sources import static_lookup, store_profiles
    from stbench.plots.tables import compare_rows, emit
    from stbench.zoo.records import load_records

    for flag in ("frames", "size"):
        v = getattr(args, flag)
        if v is not None and v < 1:
            raise ValueError(f"--{flag}: got {v}; allowed: an integer >= 1")
    configs = [ProfileConfig.for_model(n, frames=args.frames, size=args.size) for n in args.names]
    store, problems = store_profiles(args.store, configs, quiet=args.json or args.csv, strict=True)
    records = load_records(check_zoo_names=False)
    rows, notes = compare_rows(
        [c.model for c in configs],
        frames=args.frames,
        size=args.size,
        units=args.units,
        store=store,
        records=records,
        profiler=static_lookup(store),
    )
    notes = [*notes, *problems]
    title = "stbench compare (MACs = multiply-accumulates, conv + linear; deltas vs the first)"
    emit(rows, fmt=_fmt(args), title=title, deltas=True, transpose=True, notes=notes)
    return 0


def run_demo(args: argparse.Namespace) -> int:
    """The one-command demo: profile, join, write the dashboard, print the frontiers."""
    import time

    from stbench.plots.dashboard import write_dashboard
    from stbench.plots.demo import (
        MAIN_DATASETS,
        check_writable,
        collect,
        frontier_points,
        pick_axis,
    )
    from stbench.plots.tables import brief_columns, dataset_title, emit, frontier_rows

    t0 = time.perf_counter()
    out = check_writable(Path(args.out_dir) / "dashboard.html")
    data = collect(store=args.store)
    write_dashboard(data, out)
    axis = pick_axis(data.axes, "macs")
    have = set(data.points.loc[data.points["metric"] == "top1", "dataset"])
    for ds in [d for d in MAIN_DATASETS if d in have] + sorted(have - set(MAIN_DATASETS)):
        try:
            front = frontier_points(data, axis, dataset=ds, metric="top1")
        except ValueError as exc:  # one dataset without costs must not end the demo
            print(f"{ds}: {exc}")
            continue
        emit(
            frontier_rows(front, axis),
            title=dataset_title(ds, "top1", axis),
            columns=brief_columns(axis),
        )
    csv_path = out.with_name("frontiers.csv")
    with csv_path.open("w", encoding="utf-8") as fh:
        rows = []
        for ax in data.axes:
            for metric in ("top1", "top5"):
                try:
                    front = frontier_points(data, ax, dataset=None, metric=metric)
                except ValueError:
                    continue
                for r in frontier_rows(front, ax):
                    cost = r.pop(ax.label)
                    rows.append({**r, "cost_axis": ax.label, "cost": cost})
        emit(rows, fmt="csv", stream=fh)
    missing = [d for d in MAIN_DATASETS if d not in have]
    print(
        f"{len(data.points)} records plotted, {len(data.unmatched)} without a profile"
        + (f"; no joined records for {', '.join(missing)}" if missing else "")
        + "."
    )
    for n in data.notes:
        print(f"note: {n}")
    print(
        f"dashboard: {out}  ({time.perf_counter() - t0:.0f} s); every frontier as CSV: {csv_path}"
    )
    return 0
