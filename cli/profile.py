"""`stbench profile`: params, MACs/FLOPs, counter cross-checks, latency and memory of zoo models.

Profile zoo models. MACs are conv+linear multiply-accumulates per clip (the papers'
'FLOPs'); FLOPs = 2 x MACs. Counting runs on the meta device (no real tensors); --counters
all cross-checks with fvcore and ptflops.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from stbench.cli.options import (
    about_model,
    add_input,
    add_measure,
    add_models,
    add_output,
    add_protocol,
    add_store,
    command,
    expand_names,
    input_options,
    output_format,
    protocol_options,
)

from stbench.output import Column, Table, emit
from stbench.progress import Progress
from stbench.values import positive_number

UNITS = ("macs", "flops")
TIME_BUDGET_S = 600.0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `profile` subcommand."""
    p = command(sub, "profile", doc=__doc__)
    add_models(p)
    add_input(p, "batch size for timing (default 1)")
    add_measure(p)
    p.add_argument(
        "--counters",
        default="meta",
        metavar="LIST",
        help="meta (default), all, or a comma list of meta, torch-flop-counter, fvcore, "
        "ptflops-pytorch, ptflops-aten (non-meta counters run real CPU forwards)",
    )
    p.add_argument("--per-module", action="store_true", help="include per-module MACs")
    p.add_argument("--units", default="macs", help="macs (GMACs) or flops (GFLOPs) in the table")
    add_protocol(p)
    p.add_argument(
        "--time-budget",
        metavar="S",
        help=f"refuse (before any model runs) measurements estimated to take longer than S "
        f"seconds in all (default {TIME_BUDGET_S:g}); the estimate is a lower bound: counted "
        "MACs at this machine's measured matrix-multiply rate, times the forwards the timing "
        "protocol needs (--max-time caps the timing of each model, not the command)",
    )
    _output_flags(p)
    add_store(p, "also store the rows in this SQLite results file")
    p.set_defaults(func=run)


def configs(args: argparse.Namespace) -> list[Any]:
    """One validated `ProfileConfig` per model the arguments name."""
    from stbench.bench.config import ProfileConfig

    if args.units not in UNITS:
        raise ValueError(f"units: got {args.units!r}; allowed: {', '.join(UNITS)}")
    opts = {
        **input_options(args),
        "device": args.device,
        "dtype": args.dtype,
        "channels_last": args.channels_last,
        "compile": args.compile,
        "counters": args.counters,
        "per_module": args.per_module,
        "timing": args.time,
        "memory": args.memory,
        "throughput_batch": args.throughput_batch,
        **protocol_options(args),
    }
    names = expand_names(args.names)
    out = []
    for name in names:
        with about_model(name, len(names) > 1):
            out.append(ProfileConfig.for_model(name, **opts))
    return out


def _open_store(path: str, args: argparse.Namespace) -> tuple[Any, int]:
    from stbench.bench.environment import collect_environment
    from stbench.bench.store.results import ResultsStore

    store = ResultsStore(path)
    flags = {k: v for k, v in vars(args).items() if k != "func"}
    run_id = store.start_run(collect_environment(init_cuda=args.device.startswith("cuda")), flags)
    return store, run_id


def run(args: argparse.Namespace) -> int:
    """Profile every named model and print a table or JSON lines."""
    from stbench.bench.measure.timing import check_device

    fmt = _checked_output(args)
    budget = TIME_BUDGET_S
    if args.time_budget is not None:
        budget = positive_number("time_budget_s", args.time_budget)
    cfgs = configs(args)
    check_device(args.device)
    several = len(cfgs) > 1
    measures = any(c.timing or c.throughput_batch for c in cfgs)
    first = several or measures or bool(args.store)
    with Progress("profile", len(cfgs)) as bar:
        # Count every configuration before printing or storing any row (or creating the
        # store): a model that cannot run at this input is refused first; counts are reused.
        counts = [_count(c, bar) for c in cfgs] if first else [None]
        if measures:
            check_time_budget(cfgs, counts, budget)
        bar.reset(len(cfgs))  # the counter counts models: once checking, once profiling
        rows, failed = _profile_all(args, cfgs, counts, bar)
    if rows and not args.json_lines:
        emit(profile_tables(rows, args.units, fmt), fmt, out=args.out)
    return 1 if failed else 0


def check_time_budget(cfgs: list[Any], counts: list[Any], budget_s: float) -> float:
    """The estimated seconds of every timed measurement (a lower bound); a one-line error
    naming the slowest model when the sum exceeds `budget_s`."""
    from stbench.bench.measure.efficiency import gemm_rate
    from stbench.bench.measure.timing import timing_seconds

    total, worst = 0.0, None
    for cfg, sc in zip(cfgs, counts, strict=True):
        if not (cfg.timing or cfg.throughput_batch) or not getattr(sc, "macs", None):
            continue
        rate = gemm_rate(cfg.device, cfg.dtype, cfg.threads)["gmacs_per_s"]
        forward, seconds = timing_seconds(cfg, sc.macs, rate)
        total += seconds * (1 + bool(cfg.timing and cfg.throughput_batch))
        if worst is None or forward > worst[1]:
            worst = (cfg, forward, rate, sc.macs)
    if worst is not None and total > budget_s:
        cfg, forward, rate, macs = worst
        shape = "x".join(map(str, cfg.input_shape))
        raise ValueError(
            f"time_budget_s: got {budget_s:g} s; allowed: at least the estimated "
            f"{total:,.0f} s of timing ({cfg.model} at {shape}: {macs * cfg.batch / 1e9:,.0f} "
            f"GMACs per forward, >= {forward:,.1f} s at this machine's measured "
            f"{rate:,.0f} GMAC/s; raise --time-budget, or lower --size/--frames/--batch)"
        )
    return total


def _count(cfg: Any, bar: Progress) -> Any:
    from stbench.bench.count.static import count_static

    bar.describe(f"{cfg.model}: counting")
    with about_model(cfg.model):
        count = count_static(cfg)
    bar.advance()
    return count


def _profile_all(
    args: argparse.Namespace, cfgs: list[Any], counts: list[Any], bar: Progress
) -> tuple[list[dict[str, Any]], int]:
    """Profile each configuration (storing and streaming rows as asked); (rows, failures)."""
    from stbench.bench.measure.fit import OutOfMemory
    from stbench.bench.measure.profiler import run_profile

    store, run_id = _open_store(args.store, args) if args.store else (None, None)
    rows, failed = [], 0
    try:
        for cfg, sc in zip(cfgs, counts, strict=True):
            bar.describe(f"{cfg.model}: {_doing(cfg)}")
            try:
                with about_model(cfg.model, len(cfgs) > 1):
                    row = run_profile(cfg, static=sc)
            except OutOfMemory as exc:  # a result, not a crash: stored as a failure
                failed += 1
                bar.print(f"stbench profile: {cfg.model}: {exc}")
                if store is not None:
                    fail = {**cfg.key_fields(), "oom": True, "error_type": "OutOfMemory"}
                    store.add_row(fail, run_id=run_id, status="failed", error=str(exc))
                continue
            finally:
                bar.advance()
            if store is not None:
                store.add_row(row, run_id=run_id)
            if args.json_lines:
                print(json.dumps(row, default=str), flush=True)
            rows.append(row)
    finally:
        if store is not None:
            store.close()
    return rows, failed


def _doing(cfg: Any) -> str:
    """What a profile of `cfg` does, in words."""
    what = ["counting"]
    if len(cfg.counters) > 1:
        what.append("cross-checking counters")
    if cfg.timing or cfg.throughput_batch:
        what.append("timing")
    if cfg.memory:
        what.append("measuring memory")
    return ", ".join(what)


def _output_flags(p: argparse.ArgumentParser) -> None:
    group = add_output(p, what="the table (csv/json: every field of every row)", legacy=("csv",))
    # the old --json: one JSON object per line as each model finishes (scripts stream it)
    group.add_argument("--json", dest="json_lines", action="store_true", help=argparse.SUPPRESS)


def _checked_output(args: argparse.Namespace) -> str:
    """The output format, refused (like an unwritable --out) before any model is profiled."""
    from stbench.output import check_writable

    fmt = output_format(args)
    if args.out:
        check_writable(args.out)
    return fmt


def _macs_column(key: str, header: str, units: str, get: Any = None) -> Column:
    """A MACs count shown in GMACs, or in GFLOPs (2 x MACs) when units is flops."""
    return Column(key, header, scale=5e8 if units == "flops" else 1e9, get=get)


def _counter(name: str) -> Any:
    def get(row: dict[str, Any]) -> Any:
        macs = row["counters"].get(name, {}).get("macs")
        return "failed" if macs is None else macs

    return get


TIMED_COLUMNS = (
    Column("latency_ms_median", "latency median (ms)", digits=2),
    Column("latency_ms_iqr", "latency IQR (ms)", digits=2),
    Column("latency_ms_p90", "latency p90 (ms)", digits=2),
    Column("latency_gmacs_per_s", "achieved GMAC/s", digits=1),
    Column("latency_gemm_fraction", "of GEMM rate (%)", scale=0.01, digits=1),
    Column("throughput_clips_per_s", "throughput (clips/s)", digits=2),
    Column("peak_mem_mib", "peak mem (MiB)", digits=2),
    Column("peak_mem_minus_weights_mib", "peak - weights (MiB)", digits=2),
)


def profile_tables(rows: list[dict[str, Any]], units: str = "macs", fmt: str = "table") -> list:
    """The profile table (params in M, GMACs or GFLOPs; counter flags as notes) and, for
    people, each model's per-module table (CSV/JSON carry per_module inside the rows)."""
    unit = "GFLOPs" if units == "flops" else "GMACs"
    extra = [c for c in rows[0]["counters"] if c != "meta"] if rows else []
    cols = [
        Column("model"),
        Column("frames", "frames (T)"),
        Column("size", "size (px)"),
        Column("batch"),
        Column("num_classes", "classes"),
        Column("params", "params (M)", scale=1e6),
        _macs_column("macs", f"{unit} conv+linear", units),
        _macs_column("conv_macs", f"conv {unit}", units),
        _macs_column("linear_macs", f"linear {unit}", units),
        _macs_column("matmul_macs", f"matmul {unit}", units),
        _macs_column("total_macs", f"total {unit} conv+linear+matmul", units),
        Column("other_elements", "other: G elements (pool/norm/elementwise)", scale=1e9),
        *(_macs_column(c, f"{c} {unit}", units, get=_counter(c)) for c in extra),
        *(c for c in TIMED_COLUMNS if rows and c.key in rows[0]),
    ]
    device = rows[0]["device"] if rows else ""
    title = f"stbench profile ({unit} per clip; FLOPs = 2 x MACs; {device})"
    notes = [f"flag {r['model']}: {flag}" for r in rows for flag in r.get("flags", [])]
    notes += [f"noisy latency of {r['model']}: {r['noisy_reason']}" for r in rows if r.get("noisy")]
    probes = {r["latency_gemm_probe"]: r for r in rows if r.get("latency_gemm_probe")}
    notes += [
        f"GEMM rate {r['latency_gemm_gmacs_per_s']} GMAC/s: {probe}" for probe, r in probes.items()
    ]
    tables = [Table(rows, cols, title=title, notes=notes)]
    if fmt in ("table", "markdown"):
        tables += [_modules_table(r, units) for r in rows if r.get("per_module")]
        tables += [_time_table(r) for r in rows if r.get("latency_module_share")]
    return tables


def _time_table(row: dict[str, Any], top: int = 15) -> Table:
    """The modules taking the most of one model's forward time, with their MAC shares."""
    shares = row["latency_module_share"]
    macs = row.get("per_module") or {}
    total = max(row.get("macs") or 0, 1)
    shown = [
        {
            "module": name or "(outside modules)",
            "time": 100 * share,
            "macs": 100 * _subtree(macs, name) / total if name else 0.0,
        }
        for name, share in list(shares.items())[:top]
    ]
    cols = [
        Column("module"),
        Column("time", "self time (%)", digits=1),
        Column("macs", "MACs in it (%)", digits=1),
    ]
    title = f"{row['model']}: top {len(shown)} of {len(shares)} modules by forward time"
    return Table(shown, cols, title=title)


def _subtree(per_module: dict[str, int], name: str) -> int:
    """MACs of module `name` and the modules inside it."""
    return sum(v for k, v in per_module.items() if k == name or k.startswith(name + "."))


def _modules_table(row: dict[str, Any], units: str, top: int = 15) -> Table:
    unit = "GFLOPs" if units == "flops" else "GMACs"
    items = sorted(row["per_module"].items(), key=lambda kv: -kv[1])
    shown = [
        {"module": name or "(model)", "macs": v, "share": 100 * v / max(row["macs"], 1)}
        for name, v in items[:top]
    ]
    cols = [
        Column("module"),
        _macs_column("macs", unit, units),
        Column("share", "share (%)", digits=1),
    ]
    title = f"{row['model']}: top {min(top, len(items))} of {len(items)} modules ({unit})"
    return Table(shown, cols, title=title)
