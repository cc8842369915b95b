"""`stbench frontier`, `stbench compare` and `stbench demo`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from stbench.cli import options
from stbench.cli.options import (
    about_model,
    add_models,
    add_output,
    add_store,
    command,
    expand_names,
    output_format,
)

from stbench.output import check_writable, emit
from stbench.progress import Progress
from stbench.values import positive_int

if TYPE_CHECKING:
    from stbench.plots.sources import Inputs

DEFAULT_OUT_DIR = Path("stbench_out")
DEFAULT_DASHBOARD = DEFAULT_OUT_DIR / "dashboard.html"
COSTS = ("macs", "flops", "params", "latency", "memory")
HTML = (".html", ".htm")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `frontier`, `compare` and `demo` subcommands."""
    p = command(sub, "frontier", "write the speed-accuracy dashboard and print the Pareto frontier")
    p.add_argument(
        "--dashboard",
        metavar="FILE",
        help=f"dashboard HTML file (default: {DEFAULT_DASHBOARD})",
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
    _add_per(p, default=None)
    p.add_argument(
        "--dtype",
        choices=("float32", "bfloat16", "float16"),
        help="--cost latency/memory: the measurements at this dtype (default: float32 where "
        "measured)",
    )
    p.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        help="--cost latency/memory: the measurements on this device (default: cuda where "
        "measured, else cpu)",
    )
    _add_gpu(p)
    p.add_argument(
        "--level",
        choices=("clip", "video", "unspecified"),
        help="accuracy level (default: a table per level; a frontier never mixes levels)",
    )
    add_store(p)
    options.add_records(p)
    p.add_argument(
        "--no-reference",
        action="store_true",
        help="ignore shipped reference results (bench/reference/)",
    )
    add_output(p, what="the frontier table", note="; an .html FILE is taken as --dashboard")
    p.set_defaults(func=run_frontier)

    c = command(
        sub,
        "compare",
        "compare models side by side (deltas vs the first)",
        "Compare models side by side: params, MACs/FLOPs, stored latency and memory, cited "
        "accuracy, with deltas against the first model. Each model runs at its own default "
        "input unless --frames/--size/--classes align them; differing inputs are stated.",
    )
    add_models(c)
    c.add_argument("--frames", help="clip length T (default: each model's own)")
    c.add_argument("--size", help="input size S in px (default: each model's own)")
    c.add_argument("--classes", help="number of classes (default: each model's own)")
    c.add_argument(
        "--units",
        default="macs",
        choices=("macs", "flops"),
        help="macs (GMACs, default) or flops (GFLOPs = 2 x MACs)",
    )
    _add_per(c)
    add_store(c)
    options.add_records(c)
    add_output(
        c,
        what="the comparison (csv/json: one row per model and figure, under the same keys "
        "whatever the records: figure, value, delta vs the first)",
    )
    c.set_defaults(func=run_compare)

    d = command(sub, "demo", "profile the zoo statically, write the dashboard, print the frontiers")
    d.add_argument(
        "--out-dir", default=str(DEFAULT_OUT_DIR), help="output folder (default: stbench_out)"
    )
    _add_gpu(d)
    add_store(d)
    options.add_records(d)
    d.set_defaults(func=run_demo)


def _gpu(name: str | None) -> str | None:
    """The device-table name of ``name`` (None: the default GPU); refused before any work."""
    if name is None:
        return None
    from stbench.bench.predict.devices import get_device

    return get_device(name).name


def _dataset(name: str | None) -> str | None:
    if name is None:
        return None
    from stbench.zoo.records import resolve_dataset

    return resolve_dataset(name).name


def _frontier_outputs(args: argparse.Namespace) -> tuple[str, str | None, Path]:
    """(format, table file or None, dashboard file), checked before any work."""
    from stbench.output import resolve_format

    out, dashboard, option = args.out, args.dashboard, "--dashboard"
    if out and Path(out).suffix.lower() in HTML:  # `--out x.html`: the old spelling of --dashboard
        if dashboard:
            raise ValueError(f"--out: {out!r} is a dashboard file; give it once, as --dashboard")
        out, dashboard, option = None, args.out, "--out"
    fmt = resolve_format(args.format, out)
    if out:
        check_writable(out)
    dashboard = dashboard or DEFAULT_DASHBOARD
    if Path(dashboard).suffix.lower() not in HTML:  # refused before counting or storing
        raise ValueError(f"{option}: got {str(dashboard)!r}; allowed: an .html file")
    return fmt, out, check_writable(dashboard, option=option)


# --cost -> the measured field it needs
MEASURED = {"latency": "latency_ms_median", "memory": "peak_mem_mib"}


def _check_cost(args: argparse.Namespace, inputs: Inputs) -> None:
    """Refuse --cost/--per/--dtype/--device that no data can answer before counting anything."""
    for option in ("dtype", "device"):
        given = getattr(args, option, None)
        if given and args.cost not in MEASURED:
            raise ValueError(
                f"--{option}: got {given!r} with --cost {args.cost}; allowed: only with "
                "--cost latency or memory (a static count has no dtype or device)"
            )
    if args.per == "video" and args.cost not in ("macs", "flops"):
        raise ValueError(
            f"--per video: the {args.cost} axis has no per-video form; allowed: macs, flops"
        )
    field = MEASURED.get(args.cost)
    ok = [r for r in inputs.rows if r["status"] == "ok"]
    if field is None or any(r.get(field) is not None for r in ok):
        return
    ref = inputs.reference
    if field in ref.columns and ref[field].notna().any():
        return
    where = "the results store" + ("" if args.no_reference else " or the shipped reference results")
    raise ValueError(
        f"--cost {args.cost}: no {args.cost} measurements in {where}; allowed: macs, flops, "
        "params (or measure first: `stbench sweep MODEL --time --memory`)"
    )


def _add_gpu(p: argparse.ArgumentParser) -> None:
    """The GPU of the dashboard's predicted axes (`frontier`, `demo`)."""
    p.add_argument(
        "--gpu",
        metavar="NAME",
        help="GPU of the dashboard's predicted latency and memory axes, any of `stbench predict "
        "--list-gpus` (default: h100_sxm)",
    )


def _add_per(p: argparse.ArgumentParser, default: str | None = "clip") -> None:
    what = (
        "per video where the records state their views, else per clip, as the dashboard"
        if default is None
        else default
    )
    p.add_argument(
        "--per",
        default=default,
        choices=("clip", "video"),
        help="MACs/FLOPs per clip or per video (per clip x the record's clips x crops; "
        f"default: {what})",
    )


def _frontier(
    data: object, cost: str, per: str | None, measured: dict | None = None, **selection: object
) -> tuple:
    """(axis, frontier rows) of `cost` (a measured one at ``measured``' dtype and device):
    per ``per``, or (None) per video where the selected records state their views (clips x
    crops), else per clip (the dashboard's default)."""
    from stbench.plots.pipeline import frontier_points, pick_axis

    if per is None:
        try:
            return _frontier(data, cost, "video", measured, **selection)
        except ValueError:
            per = "clip"
    axis = pick_axis(data.axes, cost, per, **(measured or {}))
    return axis, frontier_points(data, axis, **selection)


def run_frontier(args: argparse.Namespace) -> int:
    """Write the dashboard and print the frontier of the chosen dataset, metric and cost."""
    from stbench.plots.dashboard import check_dashboard_path, dashboard_page, initial_selection
    from stbench.plots.pipeline import collect
    from stbench.plots.sources import read_inputs
    from stbench.plots.tables import frontier_tables

    from stbench.output import render, write_set

    fmt, table_out, dashboard = _frontier_outputs(args)
    gpu = _gpu(args.gpu)
    user = options.records_files(args)
    dataset = _dataset(args.dataset)
    inputs = read_inputs(args.store, reference=not args.no_reference)  # read once, here
    _check_cost(args, inputs)
    quiet = fmt != "table"
    data = collect(
        user_records=user,
        reference=not args.no_reference,
        quiet=quiet,
        predict=True,
        inputs=inputs,
        gpu=gpu,
    )
    measured = dict(dtype=args.dtype, device=args.device)
    axis, front = _frontier(
        data, args.cost, args.per, measured, dataset=dataset, metric=args.metric, level=args.level
    )
    opens = dict(dataset=dataset, metric=args.metric, level=args.level)
    page = dashboard_page(data, initial=initial_selection(data.axes, axis, **opens))
    tables = frontier_tables(front, axis)
    outputs = {check_dashboard_path(dashboard): page}
    if table_out:  # the dashboard and the table file are one output: replaced together
        outputs[Path(table_out)] = render(tables, fmt)
    write_set(outputs, option="--out" if table_out else "--dashboard")
    if not table_out:
        emit(tables, fmt)
    print(f"dashboard: {dashboard}", file=sys.stderr)  # stderr: stdout stays the table
    return 0


def run_compare(args: argparse.Namespace) -> int:
    """Print the models side by side, with deltas against the first."""
    from stbench.bench.config import ProfileConfig

    fmt = output_format(args)
    for flag, field in (("frames", "frames"), ("size", "size"), ("classes", "num_classes")):
        if getattr(args, flag) is not None:
            setattr(args, flag, positive_int(field, getattr(args, flag)))
    if args.out:
        check_writable(args.out)
    user = options.records_files(args)
    with Progress("compare") as bar:
        bar.describe("loading the zoo")
        from stbench.plots.sources import static_lookup, store_profiles
        from stbench.plots.tables import compare_records, compare_rows, compare_table
        from stbench.zoo.records import load_records

        names = expand_names(args.names)
        configs = []
        for n in names:
            with about_model(n, len(names) > 1):
                configs.append(
                    ProfileConfig.for_model(
                        n, frames=args.frames, size=args.size, num_classes=args.classes
                    )
                )
    store, problems = store_profiles(args.store, configs, quiet=fmt != "table", strict=True)
    records = load_records(check_zoo_names=False, user_files=user)
    rows, notes = compare_rows(
        [c.model for c in configs],
        frames=args.frames,
        size=args.size,
        num_classes=args.classes,
        units=args.units,
        store=store,
        records=records,
        profiler=static_lookup(store),
        per=args.per,
    )
    differ = _inputs_differ(configs)
    if differ and fmt != "table":
        print(f"stbench compare: note: {differ}", file=sys.stderr)
    notes = [*([differ] if differ else []), *notes, *problems]
    scope = (
        "conv + linear + attention matmuls"
        if any("(conv+linear+matmul)" in k for r in rows for k in r)
        else "conv + linear"
    )
    title = (
        f"stbench compare (MACs = multiply-accumulates, {scope}, per clip"
        f"{'; per video = per clip x views' if args.per == 'video' else ''}; deltas vs the first)"
    )
    people = fmt in ("table", "markdown")  # CSV/JSON: stable keys, a row per figure
    emit((compare_table if people else compare_records)(rows, notes, title), fmt, out=args.out)
    return 0


def _inputs_differ(configs: list) -> str:
    """A note when the models run at different inputs (their deltas then mix two things)."""
    inputs = {(c.frames, c.size, c.num_classes) for c in configs}
    if len(inputs) < 2:
        return ""
    each = ", ".join(f"{c.model} {c.frames}x{c.size}², {c.num_classes} classes" for c in configs)
    return (
        f"inputs differ ({each}): deltas compare different clips or heads; give --frames and "
        "--size (and --classes) to compare at one input"
    )


def run_demo(args: argparse.Namespace) -> int:
    """The one-command demo: profile, join, write the dashboard, print the frontiers."""
    import time

    from stbench.plots.dashboard import dashboard_page
    from stbench.plots.demo import all_frontiers, demo_datasets
    from stbench.plots.pipeline import collect
    from stbench.plots.sources import read_inputs
    from stbench.plots.tables import frontier_tables

    from stbench.output import Table, render, write_set

    t0 = time.perf_counter()
    gpu = _gpu(args.gpu)
    out = check_writable(Path(args.out_dir) / "dashboard.html", option="--out-dir")
    csv_path = check_writable(out.with_name("frontiers.csv"), option="--out-dir")
    inputs = read_inputs(args.store)  # a bad store is refused before any counting
    data = collect(user_records=options.records_files(args), predict=True, inputs=inputs, gpu=gpu)
    # the dashboard and the CSV are one output, written together before anything is printed
    pages = {out: dashboard_page(data), csv_path: render(Table(all_frontiers(data)), "csv")}
    write_set(pages, option="--out-dir")
    shown, missing = demo_datasets(data)
    for ds in shown:
        try:
            axis, front = _frontier(data, "macs", None, dataset=ds, metric="top1")
        except ValueError as exc:  # one dataset without costs must not end the demo
            print(f"{ds}: {exc}")
            continue
        emit(frontier_tables(front, axis))
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
