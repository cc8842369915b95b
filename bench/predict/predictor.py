"""`predict()`: GPU memory and a latency lower bound of a zoo model without a GPU, as one row.

The model is built and traced on the ``meta`` device (``bench.predict.trace``), its storage
lifetimes are replayed for the peak (``bench.predict.memsim``) and its kernels are bounded by the
GPU's datasheet peaks (``bench.predict.roofline``). The row carries the profile key
``(model, frames, size, batch, num_classes, device, dtype, memory_format, compile)`` with
``device = "predicted:<gpu>"`` and ``kind = "predicted"``: a prediction is never a
measurement. ``macs`` and ``train_macs`` are per clip, like every stbench row; bytes,
kernels, memory and latency are per pass over the whole batch.
"""

from __future__ import annotations

from typing import Any

import torch
from stbench.bench.count.static import build_zoo_model
from stbench.bench.predict.allocator import reserved_report
from stbench.bench.predict.devices import Device, get_device
from stbench.bench.predict.estimate import (
    REGIME_ERROR,
    check_memory_format,
    estimate_features,
    features,
    interval,
    regime,
)
from stbench.bench.predict.memsim import NOT_MODELLED, memory_report
from stbench.bench.predict.roofline import (
    LAUNCH_OVERHEAD_US,
    breakdown,
    check_dtype_on,
    summarize_ops,
)
from stbench.bench.predict.trace import (
    OPTIMIZERS,
    TRACE_DTYPES,
    Trace,
    TraceOp,
    trace_forward,
    trace_training_step,
)
from stbench.zoo import get_spec

from stbench.values import positive_int

KIND = "predicted"
MEMORY_LABELS = {
    "peak_memory_bytes": "allocated: torch.cuda.max_memory_allocated (tensor lifetimes, 512 B "
    "blocks)",
    "reserved_peak_memory_bytes": "reserved: torch.cuda.max_memory_reserved (caching-allocator "
    "segments replayed: 2 MiB small, 20 MiB or 2 MiB-rounded large)",
    "not_modelled": "the CUDA context (outside PyTorch's allocator) and cuDNN/cuBLAS "
    "workspaces (algorithm-dependent)",
}
# The `predictor` field: a new model or a newer torch makes stored predictions stale.
PREDICTOR = "stbench device model 2 (estimate + bound)"
METHOD = (
    "meta-device trace; peak = observed tensor lifetimes rounded to 512 B blocks; latency_ms = "
    "estimate (per-kernel achieved fraction of peak by kernel class + layout conversions, "
    "overlapped with eager host cost per op; constants in bench.predict.estimate, fitted on "
    "bench/reference/published_gpu.csv); latency_bound_ms = sum over kernels of "
    "max(flops/peak, bytes/bandwidth) + launches x overhead (a lower bound)"
)


def check_request(gpu: str, dtype: str, batch: int, optimizer: str = "sgd") -> Device:
    """Validate the device-side options of a prediction; return the GPU."""
    device = get_device(gpu)
    if dtype not in TRACE_DTYPES:
        raise ValueError(f"dtype: got {dtype!r}; allowed: {', '.join(device.dtypes())}")
    check_dtype_on(device, dtype)
    positive_int("batch", batch)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer: got {optimizer!r}; allowed: {', '.join(OPTIMIZERS)}")
    return device


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def run_traced(name: str, what: str, run: Any) -> Trace:
    """``run()``, with a failure inside the model turned into a one-line ValueError (a
    user's model runs in the box: its failure is a `UserCodeError` line)."""
    from stbench.zoo.registry import model_code

    try:
        with model_code(name, f"{what} (trace)"):
            return run()
    except ValueError:
        raise
    except (RuntimeError, IndexError, NotImplementedError, TypeError) as exc:
        raise ValueError(
            f"configuration: {name} cannot be traced ({what}): {_first_line(exc)}"
        ) from exc


def stage_operators(spec: Any, stages: list[str]) -> dict[str, str]:
    """The zoo spec's operator of each traced stage, where the skeleton says which is which.

    ResNet: ``stem`` and ``stages.i`` (also SlowFast's ``slow.i``); InceptionV1: the stem
    ``features.conv_1a``, then ``features.conv_2c`` and the ``mixed_*`` blocks in order.
    """
    ops = list(spec.operators)
    out: dict[str, str] = {}
    if spec.backbone.startswith("resnet"):
        out["stem"] = spec.stem or "2d"
        for i, op in enumerate(ops):
            out[f"stages.{i}"] = out[f"slow.{i}"] = op
    elif spec.backbone.startswith("inception") and ops:
        out["features.conv_1a"] = spec.stem or "2d"
        slots = ["features.conv_2c", *(s for s in stages if s.startswith("features.mixed_"))]
        if len(slots) == len(ops):
            out.update(zip(slots, ops, strict=True))
    return {s: out[s] for s in stages if s in out}


def _per_group(trace: Trace, device: Device, options: dict[str, Any], spec: Any) -> dict[str, Any]:
    stages = breakdown(trace.ops, device, trace.dtype, lambda o: o.stage or "(model)", **options)
    operators = stage_operators(spec, list(stages))
    for stage, row in stages.items():
        row["operator"] = operators.get(stage, "")
    kinds = breakdown(trace.ops, device, trace.dtype, lambda o: o.kind, **options)
    return {"per_stage": stages, "per_kind": {k: v for k, v in kinds.items() if v["kernels"]}}


def predict(
    name: str,
    *,
    gpu: str,
    batch: int = 1,
    dtype: str = "float32",
    frames: int | None = None,
    size: int | None = None,
    num_classes: int | None = None,
    train: bool = False,
    optimizer: str = "sgd",
    cuda_graphs: bool = False,
    per_stage: bool = False,
    memory_format: str = "contiguous",
    compile: bool = False,
) -> dict[str, Any]:
    """Predicted memory, latency estimate and bound of zoo model ``name`` on ``gpu``: one row."""

    device = check_request(gpu, dtype, batch, optimizer)
    check_memory_format(memory_format)
    spec = get_spec(name)
    frames = spec.default_frames if frames is None else positive_int("frames", frames)
    size = spec.default_size if size is None else positive_int("size", size)
    num_classes = (
        spec.default_classes if num_classes is None else positive_int("num_classes", num_classes)
    )
    shape = (batch, 3, frames, size, size)
    options = {"cuda_graphs": cuda_graphs}
    model = build_zoo_model(spec.name, frames=frames, num_classes=num_classes)
    fwd = run_traced(spec.name, "forward", lambda: trace_forward(model, shape, dtype=dtype))
    total = summarize_ops(fwd.ops, device, dtype, **options)
    how = {"memory_format": memory_format, "cuda_graphs": cuda_graphs, "compile": compile}
    est = _at_least_bound(estimate_features(features(fwd.ops, device, dtype, **how)), total)
    memory = memory_report(fwd)
    row: dict[str, Any] = {
        "kind": KIND,
        "model": spec.name,
        "frames": frames,
        "size": size,
        "batch": batch,
        "num_classes": num_classes,
        "device": f"predicted:{device.name}",
        "dtype": dtype,
        "memory_format": memory_format,
        "compile": compile,
        "gpu": device.name,
        "gpu_label": device.label,
        "input_shape": list(shape),
        "params": sum(p.numel() for p in model.parameters()),
        "macs_per": "clip",
        "macs": _conv_linear_macs(fwd.ops) // batch,
        "flops": 2 * _conv_linear_macs(fwd.ops) // batch,
        "bytes_moved": total["bytes_moved"],
        "kernels": total["kernels"],
        "arithmetic_intensity": total["arithmetic_intensity"],
        "peak_memory_bytes": memory["peak_bytes"],
        "peak_memory_last_use_bytes": memory_report(fwd, lifetimes="last_use")["peak_bytes"],
        "reserved_peak_memory_bytes": reserved_report(fwd)["reserved_peak_bytes"],
        "memory_labels": MEMORY_LABELS,
        "device_memory_bytes": device.memory_bytes,
        "fits": memory["peak_bytes"] <= device.memory_bytes,
        "memory": memory,
        **_estimate_fields("", est, batch, train=False),
        "latency_bound_ms": total["latency_bound_ms"],
        "roofline_ms": total["roofline_ms"],
        "launch_overhead_ms": total["launch_overhead_ms"],
        "launch_overhead_us": 0.0 if cuda_graphs else LAUNCH_OVERHEAD_US,
        "cuda_graphs": cuda_graphs,
        "compute_ms": total["compute_ms"],
        "memory_ms": total["memory_ms"],
        "limiter": total["limiter"],
        "per": "forward pass of the whole batch (macs: per clip)",
        "method": METHOD,
        "not_modelled": NOT_MODELLED,
        "device_source": device.source,
        "predictor": f"{PREDICTOR}, torch {torch.__version__}",
    }
    if per_stage:
        row.update(_per_group(fwd, device, options, spec))
    if train:
        step = run_traced(
            spec.name,
            "training step",
            lambda: trace_training_step(model, shape, dtype=dtype, optimizer=optimizer),
        )
        tmem = memory_report(step)
        ttotal = summarize_ops(step.ops, device, dtype, **options)
        test = _at_least_bound(estimate_features(features(step.ops, device, dtype, **how)), ttotal)
        row.update(
            optimizer=optimizer,
            train_macs=_conv_linear_macs(step.ops) // batch,
            train_flops=2 * _conv_linear_macs(step.ops) // batch,
            train_bytes_moved=ttotal["bytes_moved"],
            train_kernels=ttotal["kernels"],
            train_peak_memory_bytes=tmem["peak_bytes"],
            train_reserved_peak_memory_bytes=reserved_report(step)["reserved_peak_bytes"],
            train_fits=tmem["peak_bytes"] <= device.memory_bytes,
            train_memory=tmem,
            **_estimate_fields("train_", test, batch, train=True),
            train_latency_bound_ms=ttotal["latency_bound_ms"],
            train_limiter=ttotal["limiter"],
            train_phases=breakdown(step.ops, device, dtype, lambda o: o.phase, **options),
        )
        if per_stage:
            row["train_per_stage"] = _per_group(step, device, options, spec)["per_stage"]
    return row


def _at_least_bound(est: dict[str, Any], bound: dict[str, Any]) -> dict[str, Any]:
    """The estimate, never below the roofline bound of the same pass."""
    return {**est, "latency_ms": max(est["latency_ms"], bound["latency_bound_ms"])}


def _estimate_fields(prefix: str, est: dict[str, Any], batch: int, train: bool) -> dict[str, Any]:
    """The estimate's fields of a row: latency, its interval, throughput, host and GPU time."""
    which = regime(est["bound_by"], train)
    low, high = interval(est["latency_ms"], which)
    median, worst = REGIME_ERROR[which]
    return {
        f"{prefix}latency_ms": est["latency_ms"],
        f"{prefix}latency_ms_low": low,
        f"{prefix}latency_ms_high": high,
        f"{prefix}throughput_clips_per_s": batch / est["latency_ms"] * 1e3,
        f"{prefix}gpu_ms": est["gpu_ms"],
        f"{prefix}host_ms": est["host_ms"],
        f"{prefix}bound_by": est["bound_by"],
        f"{prefix}estimate_regime": which,
        f"{prefix}estimate_error_median": median,
        f"{prefix}estimate_error_worst": worst,
    }


def _conv_linear_macs(ops: list[TraceOp]) -> int:
    return sum(o.macs for o in ops if o.category in ("conv", "linear"))
