"""`stbench predict`: predicted GPU latency (estimate and lower bound) and peak memory.

Trace zoo models on the meta device (no data, no compute, no GPU needed) and predict, for a
GPU of the device table: peak memory (tensor lifetimes, 512 B allocator blocks), the latency
estimate of eager PyTorch (kernels at fitted fractions of peak, the host's dispatch cost
overlapped, with an interval from its validation error) and the roofline lower bound
(max(FLOPs/peak, bytes/bandwidth) per kernel plus launch overhead). Predictions, never
measurements. MACs are per clip; bytes, kernels, memory and latency (ms) are per pass over
the whole batch. --validate-published and --validate-cpu check the estimate against cited
published GPU measurements and against a CPU reference file.
"""

from __future__ import annotations

import argparse
from typing import Any

from stbench.cli.options import (
    about_model,
    add_input,
    add_models,
    add_output,
    add_store,
    command,
    expand_names,
    input_options,
    output_format,
)

from stbench.output import Column, Table
from stbench.progress import Progress


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `predict` subcommand."""
    p = command(sub, "predict", doc=__doc__)
    add_models(p, "*")
    p.add_argument(
        "--gpu", metavar="NAME", help="a GPU of the device table (see --list-gpus); required"
    )
    add_input(p)
    p.add_argument(
        "--dtype", default="float32", help="float32 (default), bfloat16 or float16 (autocast)"
    )
    p.add_argument("--train", action="store_true", help="also predict one training step")
    p.add_argument(
        "--optimizer",
        default="sgd",
        help="training optimizer state: sgd (momentum; default) or adamw",
    )
    p.add_argument(
        "--cuda-graphs", action="store_true", help="no per-kernel launch overhead (CUDA graphs)"
    )
    p.add_argument(
        "--per-stage", action="store_true", help="per-stage breakdown with MACs per byte"
    )
    p.add_argument("--list-gpus", action="store_true", help="print the device table and exit")
    p.add_argument(
        "--validate",
        action="store_true",
        help="compare the stored predictions with every measured CUDA row of the same "
        "configuration in the store (error table per family) and exit",
    )
    p.add_argument(
        "--memory-format",
        default="contiguous",
        help="contiguous (default) or channels_last (channels_last_3d for video models): the "
        "layout the estimate assumes (tensor-core convs on contiguous tensors pay NCHW<->NHWC "
        "conversions)",
    )
    p.add_argument(
        "--compile",
        action="store_true",
        help="estimate a torch.compile'd model (fused elementwise chains, no eager host cost)",
    )
    p.add_argument(
        "--validate-published",
        action="store_true",
        help="predict every published GPU measurement of bench/reference/published_gpu.csv and "
        "print the error per source, GPU, dtype, mode and batch regime, then exit",
    )
    p.add_argument(
        "--leave-one-gpu-out",
        action="store_true",
        help="with --validate-published: refit the estimate's constants without each GPU and "
        "predict that GPU's rows (slower: one fit per GPU)",
    )
    p.add_argument(
        "--validate-cpu",
        metavar="CSV",
        nargs="?",
        const="bench/reference/cpu-amd-epyc.csv",
        help="the same estimate for this CPU (a device row from short GEMM and copy probes, "
        "cached per machine): fit on every other input of a CPU reference file (default: "
        "bench/reference/cpu-amd-epyc.csv), print the error per design group on the others",
    )
    p.add_argument(
        "--reprobe",
        action="store_true",
        help="with --validate-cpu: measure this CPU's probes again and replace the cached ones "
        "(a probe taken while the machine was busy reads low)",
    )
    add_store(p, "store the predictions in this results store (with --validate: read it)")
    add_output(p, what="the predictions (csv/json: every field of every row)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Predict every named model and print or write the tables."""
    from stbench.bench.predict.devices import devices

    from stbench.output import check_writable, emit

    fmt = output_format(args)
    if args.out:
        check_writable(args.out)
    if args.list_gpus:
        emit(device_table(list(devices().values())), fmt, out=args.out)
        return 0
    for flag, used, needs, given in (
        (
            "--leave-one-gpu-out",
            args.leave_one_gpu_out,
            "--validate-published",
            args.validate_published,
        ),
        ("--reprobe", args.reprobe, "--validate-cpu", args.validate_cpu),
    ):
        if used and not given:
            raise ValueError(f"{flag}: given without {needs}; allowed: only with {needs}")
    if args.validate_published:
        return _validate_published(args, fmt)
    if args.validate_cpu:
        return _validate_cpu(args, fmt)
    if args.validate:
        return _validate(args, fmt)
    if not args.gpu:
        raise ValueError(f"--gpu: got nothing; allowed: {', '.join(devices())}")
    from stbench.bench.predict.predictor import check_request, predict  # imports torch

    opts: dict[str, Any] = {
        "gpu": args.gpu,
        **input_options(args),
        "dtype": args.dtype,
        "train": args.train,
        "optimizer": args.optimizer,
        "cuda_graphs": args.cuda_graphs,
        "per_stage": args.per_stage,
        "memory_format": args.memory_format,
        "compile": args.compile,
    }
    check_request(opts["gpu"], opts["dtype"], opts["batch"], opts["optimizer"])
    names = expand_names(args.names)
    rows = []
    with Progress("predict", len(names)) as bar:
        for name in names:
            bar.describe(name)
            with about_model(name, len(names) > 1):
                rows.append(predict(name, **opts))
            bar.advance()
    if args.store:
        from stbench.bench.store.results import ResultsStore

        with ResultsStore(args.store) as store:
            store.add_predictions(rows)
    emit(prediction_tables(rows, fmt), fmt, out=args.out)
    return 0


def _validate(args: argparse.Namespace, fmt: str) -> int:
    from stbench.bench.store.results import ResultsStore

    from stbench.output import emit

    with Progress("predict --validate") as bar, ResultsStore(args.store, readonly=True) as store:
        bar.describe("loading the device model")
        from stbench.bench.predict.predictions import validation_rows

        bar.describe(f"reading {store.path}")
        rows, measured, missing = validation_rows(store)
        path = store.path
    if not rows:
        why = (
            f"{missing} measured CUDA row(s) have no stored prediction (predict them with "
            "`stbench sweep PATTERN --predict GPU`)"
            if measured
            else "no measured CUDA row on a GPU of the device table"
        )
        print(f"stbench predict --validate: nothing to validate in {path}: {why}")
        return 0
    emit(validation_tables(rows, missing), fmt, out=args.out)
    return 0


def _validate_published(args: argparse.Namespace, fmt: str) -> int:
    from stbench.bench.predict import published as pub

    from stbench.output import emit

    rows = pub.load_published()
    targets = pub.latency_targets(rows)
    with Progress("predict published measurements", 1) as bar:
        results = pub.predict_targets(targets)
        memory = pub.predict_memory(pub.memory_targets(rows))
        held = pub.leave_one_gpu_out(targets) if args.leave_one_gpu_out else []
        bar.advance()
    emit(published_tables(results, memory, held), fmt, out=args.out)
    return 0


def _validate_cpu(args: argparse.Namespace, fmt: str) -> int:
    from pathlib import Path

    from stbench.bench.predict import cpu_device as cpu

    from stbench.output import emit

    path = Path(args.validate_cpu)
    targets = cpu.reference_targets(path)  # a bad file, too few rows: one line, before probes
    with Progress("probe this CPU, fit and predict the CPU reference", 1) as bar:
        rows, v, device = cpu.validate_cpu_targets(targets, reprobe=args.reprobe)
        bar.advance()
    cols = [
        Column("group", "design group"),
        *ERROR_SUMMARY,
    ]
    held = [r for r in rows if not r["fit"]]
    total = pub_summary([r["error"] for r in held])
    consts = ", ".join(f"{k} {v[k]:.3g}" for k in cpu.CPU_FITTED)
    notes = [
        f"device: {device.label}; probed GEMM {device.peaks['fp32'] / 1e9:.1f} GFLOP/s float32, "
        f"copy {device.bandwidth / 1e9:.1f} GB/s; fitted on {len(rows) - len(held)} inputs: "
        f"{consts}",
        f"{len(held)} held-out float32 inputs of {path.name}: median |error| "
        f"{_pct(total['median']):.1f}%, worst {_pct(total['worst']):.1f}%",
    ]
    title = "stbench predict --validate-cpu: estimate vs the CPU reference (held-out inputs)"
    emit(Table(cpu.group_table(rows), cols, title=title, notes=notes), fmt, out=args.out)
    return 0


def pub_summary(errors: list[float]) -> dict[str, float]:
    """n, median and worst |relative error| (as `bench.predict.published.summary`)."""
    from stbench.bench.predict.published import summary

    return summary(errors)


def _pct(x: float) -> float:
    return 100 * x


# the columns of an error summary (`published.summary`): count, median and worst |error|
ERROR_SUMMARY = (
    Column("n"),
    Column("median", "median |err| (%)", get=lambda r: _pct(r["median"]), digits=1),
    Column("worst", "worst |err| (%)", get=lambda r: _pct(r["worst"]), digits=1),
)


def published_tables(
    results: list[dict[str, Any]],
    memory: list[dict[str, Any]],
    held: list[dict[str, Any]] | None = None,
) -> list[Table]:
    """Error tables of the estimate against published GPU measurements, and a summary line."""
    from stbench.bench.predict import published as pub

    def src(r: dict[str, Any]) -> str:
        return r["repository"].split("/")[-1]

    groups = [
        ("source", src),
        ("gpu", lambda r: r["gpu"]),
        ("dtype", lambda r: r["dtype"]),
        ("mode", lambda r: r["mode"]),
        ("batch regime", pub.batch_regime),
        ("bound by", pub.regime_of),
    ]
    summary_rows = []
    for name, key in groups:
        for group, s in pub.group_errors(results, key).items():
            summary_rows.append({"by": name, "group": group, **s})
    cols = [
        Column("by"),
        Column("group"),
        *ERROR_SUMMARY,
    ]
    total = pub.summary(r["error"] for r in results)
    above = sum(r["bound_ms"] > r["measured_ms"] for r in results)
    mem = pub.summary(r["error"] for r in memory)
    line = (
        f"latency estimate vs {total['n']} published measurements: median |error| "
        f"{_pct(total['median']):.1f}%, worst {_pct(total['worst']):.1f}%; lower bound above a "
        f"measurement: {above}; training peak memory vs {mem['n']}: worst "
        f"{_pct(mem['worst']):.1f}%"
    )
    notes = [
        "error = estimate / measured - 1; measured = the published mean ms per batch "
        "(or batch / published throughput); constants as shipped (fitted on these rows)",
    ]
    notes.append(line)
    tables = [Table(summary_rows, cols, title="stbench predict --validate-published", notes=notes)]
    detail = [
        {**r, "precision": r["dtype"], "layout": r["memory_format"], "err": _pct(r["error"])}
        for r in results
    ]
    tables.append(
        Table(
            detail,
            [
                Column("gpu"),
                Column("zoo_model", "model"),
                Column("precision"),
                Column("layout"),
                Column("mode"),
                Column("batch"),
                Column("measured_ms", "measured (ms)", digits=2),
                Column("predicted_ms", "estimate (ms)", digits=2),
                Column("bound_ms", "bound (ms)", digits=2),
                Column("bound_by", "bound by"),
                Column("err", "err (%)", digits=1),
            ],
            title="per published measurement",
        )
    )
    if memory:
        tables.append(
            Table(
                [{**r, "err": _pct(r["error"])} for r in memory],
                [
                    Column("zoo_model", "model"),
                    Column("frames", "T"),
                    Column("batch"),
                    Column("value", "measured (MiB)", digits=0),
                    Column("predicted_mib", "predicted (MiB)", digits=0),
                    Column("err", "err (%)", digits=1),
                ],
                title="training peak memory (max_memory_allocated) vs published",
            )
        )
    if held:
        tables.append(_held_out_table(held))
    return tables


def _held_out_table(held: list[dict[str, Any]]) -> Table:
    from stbench.bench.predict import published as pub

    rows = []
    for gpu, s in pub.group_errors(held, lambda r: r["held_out"]).items():
        mine = [r for r in held if r["held_out"] == gpu]
        rows.append({"held_out": gpu, **s, "unseen": sum(not r["identifiable"] for r in mine)})
    for reg, s in pub.group_errors(held, pub.batch_regime).items():
        rows.append({"held_out": f"(all) {reg}", **s})
    for reg, s in pub.group_errors(held, pub.regime_of).items():
        if reg != "train":
            rows.append({"held_out": f"(all) {reg}", **s})
    ok = [r for r in held if r["identifiable"]]
    rows.append({"held_out": "(all)", **pub.summary(r["error"] for r in held)})
    rows.append({"held_out": "(all, precision seen)", **pub.summary(r["error"] for r in ok)})
    return Table(
        rows,
        [
            Column("held_out", "held-out GPU"),
            *ERROR_SUMMARY,
            Column("unseen", "rows in a precision no other GPU runs"),
        ],
        title="leave one GPU out: refit without the GPU, predict its rows",
        notes=["'precision seen': rows whose kernel precision some training GPU also runs"],
    )


def validation_tables(rows: list[dict[str, Any]], missing: int = 0) -> list[Table]:
    """The per-family error table and the per-configuration table of a validation."""
    from stbench.bench.predict.predictions import family_errors

    notes = [
        "memory error: predicted peak / measured peak - 1 (|%|); latency ratio: measured / "
        "predicted lower bound (>= 1 expected; below 1 the bound is a model error)"
    ]
    if missing:
        notes.append(f"{missing} measured CUDA row(s) without a stored prediction left out")
    summary = Table(
        family_errors(rows),
        [
            Column("family"),
            Column("configurations", "configs"),
            Column("memory_abs_error_pct_median", "mem |err| median (%)", digits=1),
            Column("memory_abs_error_pct_max", "mem |err| max (%)", digits=1),
            Column("latency_ratio_median", "measured/bound median", digits=2),
            Column("latency_ratio_min", "measured/bound min", digits=2),
            Column("bound_above_measured", "bound > measured (model error)"),
            Column("estimate_abs_error_pct_median", "estimate |err| median (%)", digits=1),
            Column("estimate_abs_error_pct_max", "estimate |err| max (%)", digits=1),
        ],
        title="stbench predict --validate: PREDICTED vs MEASURED per family",
        notes=notes,
    )
    detail = Table(
        rows,
        [
            Column("model"),
            Column("frames", "T"),
            Column("size"),
            Column("batch"),
            Column("dtype"),
            Column("gpu"),
            Column("predicted_mib", "predicted (MiB)", digits=0),
            Column("measured_mib", "measured (MiB)", digits=0),
            Column("memory_error_pct", "mem err (%)", digits=1),
            Column("bound_ms", "bound (ms)", digits=3),
            Column("measured_ms", "measured (ms)", digits=3),
            Column("latency_ratio", "measured/bound", digits=2),
            Column("estimate_ms", "estimate (ms)", digits=3),
            Column("estimate_error_pct", "estimate err (%)", digits=1),
            Column(
                "bound_above_measured",
                "flag",
                get=lambda r: "MODEL ERROR" if r.get("bound_above_measured") else "",
            ),
        ],
        title="per configuration",
    )
    return [summary, detail]


def _mib(row: dict[str, Any], key: str) -> float:
    return row[key] / 2**20


def prediction_tables(rows: list[dict[str, Any]], fmt: str = "table") -> list[Table]:
    """The predictions table (labelled PREDICTED, latency a lower bound) and, for people, a
    per-stage table of each row that carries one (CSV/JSON carry per_stage in the rows)."""
    first = rows[0]
    graphs = (
        "CUDA graphs: no launch overhead"
        if first["cuda_graphs"]
        else f"+{first['launch_overhead_us']:g} us per kernel launch"
    )
    title = (
        f"stbench predict: PREDICTED for {first['gpu_label']}, {first['dtype']} "
        f"(no measurement; latency: estimate with its interval, and a lower bound, {graphs})"
    )
    cols = [
        Column("model"),
        Column("frames", "T"),
        Column("size", "size (px)"),
        Column("batch"),
        Column("macs", "GMACs/clip", scale=1e9),
        Column("bytes_moved", "GB moved", scale=1e9),
        Column("arithmetic_intensity", "MACs/byte", digits=1),
        Column("kernels"),
        Column(
            "peak_memory_bytes",
            "peak mem (MiB)",
            get=lambda r: _mib(r, "peak_memory_bytes"),
            digits=0,
        ),
        Column(
            "reserved_peak_memory_bytes",
            "reserved (MiB)",
            get=lambda r: _mib(r, "reserved_peak_memory_bytes"),
            digits=0,
        ),
        Column("fits", get=lambda r: "yes" if r["fits"] else "NO"),
        Column("latency_ms", "estimate (ms)", digits=3),
        Column(
            "latency_ms_low",
            "interval (ms)",
            get=lambda r: f"{r['latency_ms_low']:.3g}-{r['latency_ms_high']:.3g}",
        ),
        Column("bound_by", "waits on"),
        Column("latency_bound_ms", "bound (ms)", digits=3),
        Column("limiter", "bound limited by"),
    ]
    if "train_peak_memory_bytes" in first:
        cols += [
            Column(
                "train_peak_memory_bytes",
                f"train peak (MiB, {first['optimizer']})",
                get=lambda r: _mib(r, "train_peak_memory_bytes"),
                digits=0,
            ),
            Column("train_latency_ms", "train estimate (ms)", digits=3),
            Column("train_latency_bound_ms", "train bound (ms)", digits=3),
        ]
    notes = [
        f"not modelled: {first['not_modelled']}",
        "estimate: bench.predict.estimate (eager PyTorch, memory format "
        f"{first['memory_format']}); interval: its regime's worst leave-one-GPU-out error vs "
        "published measurements (stbench predict --validate-published)",
    ]
    tables = [Table(rows, cols, title=title, notes=notes, first=["model", "frames", "size"])]
    if fmt in ("table", "markdown"):
        tables += [_stage_table(r) for r in rows if "per_stage" in r]
    return tables


def _stage_table(row: dict[str, Any]) -> Table:
    total = max(row["latency_bound_ms"], 1e-12)
    stages = [
        {"stage": name, **s, "share": 100 * s["latency_bound_ms"] / total}
        for name, s in row["per_stage"].items()
    ]
    cols = [
        Column("stage"),
        Column("operator"),
        Column("macs", "GMACs", scale=1e9),
        Column("bytes_moved", "MB moved", scale=1e6, digits=1),
        Column("arithmetic_intensity", "MACs/byte", digits=1),
        Column("kernels"),
        Column("latency_bound_ms", "bound (ms)", digits=3),
        Column("share", "share (%)", digits=1),
        Column("limiter", "limited by"),
    ]
    return Table(
        stages, cols, title=f"{row['model']}: per stage (batch {row['batch']}, {row['gpu']})"
    )


def device_table(table: list[Any]) -> Table:
    """The device table: dense peaks (TFLOPS), bandwidth, memory and the source of each row."""
    rows = []
    for d in table:
        peaks = {p: d.peak(p) for p in ("fp32", "tf32", "bf16", "fp16")}
        rows.append(
            {
                "name": d.name,
                "gpu": d.label,
                **{f"{p}_tflops": None if v is None else v / 1e12 for p, v in peaks.items()},
                "bandwidth_gb_s": d.bandwidth / 1e9,
                "memory_gib": d.memory_bytes / 2**30,
                "sm_count": d.sm_count,
                "boost_mhz": d.boost_mhz,
                "source": d.source,
            }
        )
    cols = [
        Column("name"),
        Column("gpu", "GPU"),
        *(
            Column(f"{p}_tflops", f"{p.upper()} (TFLOPS)", digits=1)
            for p in ("fp32", "tf32", "bf16", "fp16")
        ),
        Column("bandwidth_gb_s", "bandwidth (GB/s)", digits=0),
        Column("memory_gib", "memory (GiB)", digits=0),
        Column("sm_count", "SMs"),
        Column("boost_mhz", "boost (MHz)", digits=0),
        Column("source"),
    ]
    return Table(rows, cols, title="stbench device table (dense peaks)")
