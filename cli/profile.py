"""`stbench profile`: params, MACs (cross-checked on request), latency and memory of zoo models."""

from __future__ import annotations

import argparse
import json
from typing import Any

UNITS = ("macs", "flops")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `profile` subcommand."""
    p = sub.add_parser(
        "profile",
        help="params, MACs/FLOPs, counter cross-checks, latency and memory of zoo models",
        description=(
            "Profile zoo models. MACs are conv+linear multiply-accumulates per clip "
            "(the papers' 'FLOPs'); FLOPs = 2 x MACs. Counting runs on the meta device "
            "(no real tensors); --counters all cross-checks with fvcore and ptflops."
        ),
    )
    p.add_argument("names", nargs="+", metavar="NAME", help="zoo model names or shell patterns")
    p.add_argument("--frames", metavar="T", help="clip length T (default: the model's spec)")
    p.add_argument("--size", metavar="S", help="spatial size S (S x S; default: the spec's)")
    p.add_argument("--batch", metavar="B", default="1", help="batch size for timing (default 1)")
    p.add_argument("--classes", metavar="C", help="number of classes (default: the spec's)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    p.add_argument(
        "--dtype",
        default="float32",
        help="float32, bfloat16 or float16 (autocast; default float32)",
    )
    p.add_argument(
        "--channels-last", action="store_true", help="use channels_last_3d memory format"
    )
    p.add_argument("--compile", action="store_true", help="torch.compile the model before timing")
    p.add_argument(
        "--counters",
        default="meta",
        metavar="LIST",
        help="meta (default), all, or a comma list of meta, torch-flop-counter, fvcore, "
        "ptflops-pytorch, ptflops-aten (non-meta counters run real CPU forwards)",
    )
    p.add_argument("--per-module", action="store_true", help="include per-module MACs")
    p.add_argument("--time", action="store_true", help="measure latency (median, IQR, p90)")
    p.add_argument(
        "--throughput-batch", metavar="N", help="also measure throughput (clips/s) at batch N"
    )
    p.add_argument("--memory", action="store_true", help="measure peak memory of one forward")
    p.add_argument("--units", default="macs", help="macs (GMACs) or flops (GFLOPs) in the table")
    p.add_argument("--json", action="store_true", help="print one JSON object per line instead")
    p.add_argument(
        "--store", metavar="PATH", help="also store the rows in this SQLite results file"
    )
    p.set_defaults(func=run)


def _int_opt(name: str, text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name}: got {text!r}; allowed: an integer >= 1") from None


def expand_names(patterns: list[str]) -> list[str]:
    """Zoo names for the given names/patterns; unknown names raise naming the closest ones."""
    from stbench.zoo import get_spec, list_models

    names: list[str] = []
    for pat in patterns:
        if any(c in pat for c in "*?["):
            hits = list_models(pat)
            if not hits:
                raise ValueError(f"model: no zoo model matches {pat!r} (see `stbench list`)")
            names.extend(hits)
        else:
            names.append(get_spec(pat).name)
    return list(dict.fromkeys(names))


def configs(args: argparse.Namespace) -> list[Any]:
    """One validated `ProfileConfig` per model the arguments name."""
    from stbench.bench.config import ProfileConfig

    if args.units not in UNITS:
        raise ValueError(f"units: got {args.units!r}; allowed: {', '.join(UNITS)}")
    opts = {
        "frames": _int_opt("frames", args.frames),
        "size": _int_opt("size", args.size),
        "batch": _int_opt("batch", args.batch),
        "num_classes": _int_opt("classes", args.classes),
        "device": args.device,
        "dtype": args.dtype,
        "channels_last": args.channels_last,
        "compile": args.compile,
        "counters": args.counters,
        "per_module": args.per_module,
        "timing": args.time,
        "memory": args.memory,
        "throughput_batch": _int_opt("throughput-batch", args.throughput_batch),
    }
    return [ProfileConfig.for_model(name, **opts) for name in expand_names(args.names)]


def _open_store(path: str, args: argparse.Namespace) -> tuple[Any, int]:
    from stbench.bench.environment import collect_environment
    from stbench.bench.store import ResultsStore

    store = ResultsStore(path)
    flags = {k: v for k, v in vars(args).items() if k != "func"}
    run_id = store.start_run(collect_environment(init_cuda=args.device.startswith("cuda")), flags)
    return store, run_id


def run(args: argparse.Namespace) -> int:
    """Profile every named model and print a table or JSON lines."""
    from stbench.bench.profile import run_profile
    from stbench.bench.static import count_static
    from stbench.bench.timing import check_device

    cfgs = configs(args)
    check_device(args.device)
    # Count every configuration before printing or storing any row: a model that cannot
    # run at this input is refused first, and the counts are reused by the profiles.
    counts = [count_static(c) for c in cfgs] if len(cfgs) > 1 else [None]
    store, run_id = _open_store(args.store, args) if args.store else (None, None)
    rows = []
    try:
        for cfg, sc in zip(cfgs, counts, strict=True):
            row = run_profile(cfg, static=sc)
            if store is not None:
                store.add_row(row, run_id=run_id)
            if args.json:
                print(json.dumps(row, default=str), flush=True)
            rows.append(row)
    finally:
        if store is not None:
            store.close()
    if not args.json:
        print_table(rows, units=args.units)
    return 0


def _g(value: int, units: str) -> str:
    return f"{(2 * value if units == 'flops' else value) / 1e9:,.2f}"


def print_table(rows: list[dict[str, Any]], units: str = "macs") -> None:
    """A rich table of profile rows (params in M, GMACs or GFLOPs), then flags and modules."""
    from rich.table import Table
    from stbench.bench.console import table_console

    unit = "GFLOPs" if units == "flops" else "GMACs"
    console = table_console()
    extra = [c for c in rows[0]["counters"] if c != "meta"] if rows else []
    cols = ["model", "frames (T)", "size (px)", "batch", "classes", "params (M)"]
    cols += [f"{unit} conv+linear", f"conv {unit}", f"linear {unit}", "other (G elem-ops)"]
    cols += [f"{c} {unit}" for c in extra]
    timed = [
        k
        for k in ("latency_ms_median", "latency_ms_iqr", "latency_ms_p90")
        if rows and k in rows[0]
    ]
    names = {"latency_ms_median": "latency median (ms)", "latency_ms_iqr": "latency IQR (ms)"}
    names |= {
        "latency_ms_p90": "latency p90 (ms)",
        "throughput_clips_per_s": "throughput (clips/s)",
    }
    names |= {
        "peak_mem_mib": "peak mem (MiB)",
        "peak_mem_minus_weights_mib": "peak - weights (MiB)",
    }
    timed += [
        k
        for k in ("throughput_clips_per_s", "peak_mem_mib", "peak_mem_minus_weights_mib")
        if rows and k in rows[0]
    ]
    table = Table(
        title=f"stbench profile ({unit} per clip; FLOPs = 2 x MACs; {rows[0]['device'] if rows else ''})"
    )
    width = max([len(r["model"]) for r in rows] + [5])
    table.add_column("model", no_wrap=True, min_width=width)
    for c in cols[1:] + [names[k] for k in timed]:
        table.add_column(c, justify="right")
    for r in rows:
        cells = [
            r["model"],
            str(r["frames"]),
            str(r["size"]),
            str(r["batch"]),
            str(r["num_classes"]),
        ]
        cells += [f"{r['params'] / 1e6:,.2f}", _g(r["macs"], units), _g(r["conv_macs"], units)]
        cells += [_g(r["linear_macs"], units), f"{r['other_macs'] / 1e9:,.2f}"]
        for c in extra:
            macs = r["counters"].get(c, {}).get("macs")
            cells.append("failed" if macs is None else _g(macs, units))
        cells += [f"{r[k]:,.2f}" if isinstance(r.get(k), (int, float)) else "-" for k in timed]
        table.add_row(*cells)
    console.print(table)
    for r in rows:
        for flag in r.get("flags", []):
            console.print(f"[yellow]flag[/] {r['model']}: {flag}", highlight=False)
        if r.get("per_module"):
            _print_modules(console, r, units)


def _print_modules(console: Any, row: dict[str, Any], units: str, top: int = 15) -> None:
    from rich.table import Table

    unit = "GFLOPs" if units == "flops" else "GMACs"
    items = sorted(row["per_module"].items(), key=lambda kv: -kv[1])
    t = Table(title=f"{row['model']}: top {min(top, len(items))} of {len(items)} modules ({unit})")
    t.add_column("module")
    t.add_column(unit, justify="right")
    t.add_column("share (%)", justify="right")
    for name, v in items[:top]:
        t.add_row(name or "(model)", _g(v, units), f"{100 * v / max(row['macs'], 1):.1f}")
    console.print(t)
