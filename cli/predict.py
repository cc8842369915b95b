"""`stbench predict`: GPU memory and a latency lower bound of zoo models, traced without a GPU."""

from __future__ import annotations

import argparse
import json
from typing import Any

FORMATS = ("table", "json")


DESCRIPTION = (
    "Trace zoo models on the meta device (no data, no compute) and predict, for a GPU of the "
    "device table: peak memory (tensor lifetimes, 512 B allocator blocks) and a roofline "
    "latency lower bound (max(FLOPs/peak, bytes/bandwidth) per kernel plus launch overhead). "
    "Predictions, never measurements. MACs are per clip; bytes, kernels, memory and latency "
    "are per pass over the whole batch."
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `predict` subcommand."""
    help_ = "predicted GPU peak memory and latency lower bound (no GPU needed)"
    p = sub.add_parser("predict", help=help_, description=DESCRIPTION)
    p.add_argument("names", nargs="*", metavar="PATTERN", help="zoo model names or patterns")
    p.add_argument("--gpu", metavar="NAME", help="a GPU of the device table (see --list-gpus)")
    p.add_argument("--batch", metavar="N", default="1", help="batch size (default 1)")
    p.add_argument("--dtype", default="float32", help="float32, bfloat16 or float16 (autocast)")
    p.add_argument("--frames", metavar="T", help="clip length T (default: the model's spec)")
    p.add_argument("--size", metavar="S", help="spatial size S x S (default: the spec's)")
    p.add_argument("--classes", metavar="C", help="number of classes (default: the spec's)")
    p.add_argument("--train", action="store_true", help="also predict one training step")
    p.add_argument(
        "--optimizer", default="sgd", help="training optimizer state: sgd (momentum) or adamw"
    )
    p.add_argument(
        "--cuda-graphs", action="store_true", help="no per-kernel launch overhead (CUDA graphs)"
    )
    p.add_argument(
        "--per-stage", action="store_true", help="per-stage breakdown with MACs per byte"
    )
    p.add_argument("--format", default="table", help="table (default) or json (one row a line)")
    p.add_argument("--list-gpus", action="store_true", help="print the device table and exit")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Predict every named model and print a table or JSON lines."""
    from stbench.bench.devices import devices
    from stbench.bench.predict import check_request, predict
    from stbench.cli.profile import _int_opt, expand_names

    if args.list_gpus:
        print_devices(list(devices().values()), as_json=args.format == "json")
        return 0
    if args.format not in FORMATS:
        raise ValueError(f"format: got {args.format!r}; allowed: {', '.join(FORMATS)}")
    if not args.gpu:
        raise ValueError(f"gpu: got nothing; allowed: {', '.join(devices())}")
    if not args.names:
        raise ValueError("names: got nothing; allowed: zoo model names or patterns")
    opts: dict[str, Any] = {
        "gpu": args.gpu,
        "batch": _int_opt("batch", args.batch),
        "dtype": args.dtype,
        "frames": _int_opt("frames", args.frames),
        "size": _int_opt("size", args.size),
        "num_classes": _int_opt("classes", args.classes),
        "train": args.train,
        "optimizer": args.optimizer,
        "cuda_graphs": args.cuda_graphs,
        "per_stage": args.per_stage,
    }
    check_request(opts["gpu"], opts["dtype"], opts["batch"], opts["optimizer"])
    rows = []
    for name in expand_names(args.names):
        row = predict(name, **opts)
        if args.format == "json":
            print(json.dumps(row), flush=True)
        rows.append(row)
    if args.format == "table":
        print_table(rows)
    return 0


def _mib(nbytes: int) -> str:
    return f"{nbytes / 2**20:,.0f}"


def print_table(rows: list[dict[str, Any]]) -> None:
    """A rich table of predicted rows, then per-stage tables when the rows carry them."""
    from rich.table import Table
    from stbench.bench.console import table_console

    console = table_console()
    first = rows[0]
    graphs = (
        "CUDA graphs: no launch overhead"
        if first["cuda_graphs"]
        else (f"+{first['launch_overhead_us']:g} us per kernel launch")
    )
    table = Table(
        title=f"stbench predict: PREDICTED for {first['gpu_label']}, {first['dtype']} "
        f"(no measurement; latency is a lower bound, {graphs})"
    )
    cols = ["model", "T", "size", "batch", "GMACs/clip", "GB moved", "MACs/byte", "kernels"]
    cols += ["peak mem (MiB)", "fits", "bound (ms)", "limited by"]
    train = "train_peak_memory_bytes" in first
    if train:
        cols += [f"train peak (MiB, {first['optimizer']})", "train bound (ms)"]
    for c in cols:
        table.add_column(c, justify="left" if c == "model" else "right", no_wrap=c == "model")
    for r in rows:
        cells = [r["model"], str(r["frames"]), str(r["size"]), str(r["batch"])]
        cells += [f"{r['macs'] / 1e9:,.2f}", f"{r['bytes_moved'] / 1e9:,.2f}"]
        cells += [f"{r['arithmetic_intensity']:,.1f}", str(r["kernels"])]
        cells += [_mib(r["peak_memory_bytes"]), "yes" if r["fits"] else "NO"]
        cells += [f"{r['latency_bound_ms']:,.3f}", r["limiter"] or "-"]
        if train:
            cells += [_mib(r["train_peak_memory_bytes"]), f"{r['train_latency_bound_ms']:,.3f}"]
        table.add_row(*cells)
    console.print(table)
    console.print(f"not modelled: {first['not_modelled']}", highlight=False)
    for r in rows:
        if "per_stage" in r:
            _print_stages(console, r)


def _print_stages(console: Any, row: dict[str, Any]) -> None:
    from rich.table import Table

    t = Table(title=f"{row['model']}: per stage (batch {row['batch']}, {row['gpu']})")
    for c in ("stage", "operator", "GMACs", "MB moved", "MACs/byte", "kernels"):
        t.add_column(c, justify="left" if c in ("stage", "operator") else "right")
    for c in ("bound (ms)", "share (%)", "limited by"):
        t.add_column(c, justify="right")
    total = max(row["latency_bound_ms"], 1e-12)
    for stage, s in row["per_stage"].items():
        t.add_row(
            stage,
            s["operator"],
            f"{s['macs'] / 1e9:,.2f}",
            f"{s['bytes_moved'] / 1e6:,.1f}",
            f"{s['arithmetic_intensity']:,.1f}",
            str(s["kernels"]),
            f"{s['latency_bound_ms']:,.3f}",
            f"{100 * s['latency_bound_ms'] / total:.1f}",
            s["limiter"] or "-",
        )
    console.print(t)


def print_devices(table: list[Any], as_json: bool = False) -> None:
    """The device table: peaks, bandwidth, memory and the source of each row."""
    if as_json:
        for d in table:
            print(json.dumps({**d.__dict__, "dtypes": d.dtypes()}))
        return
    from rich.table import Table
    from stbench.bench.console import table_console

    t = Table(title="stbench device table (dense peaks, TFLOPS; bandwidth GB/s)")
    for c in ("name", "GPU", "FP32", "TF32", "BF16", "FP16", "GB/s", "memory (GB)", "source"):
        t.add_column(c, justify="left" if c in ("name", "GPU", "source") else "right")
    for d in table:
        peaks = [d.peak(p) for p in ("fp32", "tf32", "bf16", "fp16")]
        t.add_row(
            d.name,
            d.label,
            *("-" if v is None else f"{v / 1e12:g}" for v in peaks),
            f"{d.bandwidth / 1e9:g}",
            f"{d.memory_bytes / 2**30:g}",
            d.source,
        )
    table_console().print(t)
