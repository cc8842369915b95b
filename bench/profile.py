"""`profile()`: one JSON-able row of params, MACs, counter cross-checks, latency and memory.

MACs are counted per clip (at batch 1, on the meta device); ``flops = 2 * macs``. The
timing input uses the requested batch. The row carries its key
``(model, frames, size, batch, num_classes, device, dtype, memory_format, compile)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from stbench.bench.counting import check_input_shape, static_count
from stbench.bench.crosscheck import cross_check, parse_counters
from torch import nn


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name}: got {value!r}; allowed: an integer >= 1")
    return value


def build_zoo_model(
    name: str, *, frames: int, num_classes: int, device: str | torch.device = "meta"
) -> nn.Module:
    """Build a zoo model; on ``meta`` weights are not allocated or initialised."""
    from stbench.zoo import create_model

    if torch.device(device).type != "meta":
        return create_model(name, num_classes=num_classes, frames=frames)
    try:
        with torch.device("meta"):
            return create_model(name, num_classes=num_classes, frames=frames)
    except ValueError:
        raise
    except Exception:  # a builder that cannot run on meta: build for real instead
        return create_model(name, num_classes=num_classes, frames=frames)


def _resolve_shape(
    input_shape: Sequence[int] | None, frames: int | None, size: int | None, batch: int
) -> tuple[int, ...]:
    if input_shape is not None:
        shape = check_input_shape(input_shape)
        if frames is not None and len(shape) == 5 and shape[2] != frames:
            raise ValueError(f"frames: got {frames} but input_shape {shape} has T={shape[2]}")
        return shape
    if frames is None or size is None:
        raise ValueError("input_shape: give input_shape, or frames and size, for an nn.Module")
    return (batch, 3, frames, size, size)


def _is_real(model: nn.Module) -> bool:
    return all(t.device.type != "meta" for t in [*model.parameters(), *model.buffers()])


def profile(
    model_or_name: nn.Module | str,
    input_shape: Sequence[int] | None = None,
    *,
    frames: int | None = None,
    size: int | None = None,
    batch: int = 1,
    num_classes: int | None = None,
    device: str = "cpu",
    dtype: str = "float32",
    channels_last: bool = False,
    compile: bool = False,
    counters: str | Sequence[str] = ("meta",),
    per_module: bool = False,
    timing: bool = False,
    memory: bool = False,
    throughput_batch: int | None = None,
) -> dict[str, Any]:
    """Profile a zoo model (by name) or any ``nn.Module``; return one JSON-able row."""
    from stbench.bench.timing import check_device, check_dtype

    device = check_device(device)
    dtype = check_dtype(dtype)
    batch = _positive_int("batch", batch)
    for arg, val in (("frames", frames), ("size", size), ("num_classes", num_classes)):
        if val is not None:
            _positive_int(arg, val)
    if throughput_batch is not None:
        _positive_int("throughput_batch", throughput_batch)
    names = parse_counters(counters)

    real: nn.Module | None = None
    if isinstance(model_or_name, str):
        from stbench.zoo import get_spec

        spec = get_spec(model_or_name)
        name = spec.name
        frames = spec.default_frames if frames is None else frames
        size = spec.default_size if size is None else size
        num_classes = spec.default_classes if num_classes is None else num_classes
        shape = _resolve_shape(input_shape, frames, size, batch)
        model = build_zoo_model(name, frames=shape[2], num_classes=num_classes)
    elif isinstance(model_or_name, nn.Module):
        model = model_or_name
        name = type(model).__name__
        shape = _resolve_shape(input_shape, frames, size, batch)
        if _is_real(model):
            real = model
    else:
        raise ValueError(
            f"model: got {type(model_or_name).__name__}; allowed: a zoo name or nn.Module"
        )
    batch = shape[0]
    count_shape = (1, *shape[1:])
    sc = static_count(model, count_shape, per_module=per_module)
    if num_classes is None and sc.output_shape is not None and len(sc.output_shape) == 2:
        num_classes = sc.output_shape[1]

    row: dict[str, Any] = {
        "model": name,
        "frames": shape[2] if len(shape) == 5 else frames,
        "size": shape[-1] if len(shape) >= 4 and shape[-1] == shape[-2] else size,
        "batch": batch,
        "num_classes": num_classes,
        "device": device,
        "dtype": dtype,
        "memory_format": "channels_last_3d" if channels_last else "contiguous",
        "compile": bool(compile),
        "input_shape": list(shape),
        "count_input_shape": list(count_shape),
        "macs_per": "clip",
        "params": sc.params,
        "macs": sc.macs,
        "flops": sc.flops,
        "conv_macs": sc.conv_macs,
        "linear_macs": sc.linear_macs,
        "other_macs": sum(sc.other.values()),
        "other": sc.other,
        "other_by_category": sc.other_by_category,
        "counter": sc.counter,
        "counter_version": sc.counter_version,
        "scope": sc.scope,
        "counters": {
            "meta": {
                "macs": sc.macs,
                "conv_macs": sc.conv_macs,
                "linear_macs": sc.linear_macs,
                "scope": sc.scope,
                "version": sc.counter_version,
            }
        },
        "flags": [],
        "status": "ok",
    }
    if per_module:
        row["per_module"] = sc.per_module
    if len(names) > 1:
        results, flags = cross_check(model, count_shape, names)
        for cname, res in results.items():
            if cname != "meta":
                row["counters"][cname] = res.to_dict()
        row["flags"] = flags
    if timing or memory or throughput_batch:
        if real is None:
            real = build_zoo_model(name, frames=shape[2], num_classes=num_classes, device="cpu")
        row.update(
            _measure(
                real, shape, device, dtype, channels_last, compile, timing, memory, throughput_batch
            )
        )
    return row


def check_configuration(name: str, **options: Any) -> None:
    """Raise ValueError if ``profile(name, **options)`` would refuse its input (meta pass only)."""
    quick = {k: v for k, v in options.items() if k not in ("timing", "memory", "throughput_batch")}
    profile(name, **{**quick, "counters": ("meta",), "per_module": False})


def _measure(
    model: nn.Module,
    shape: tuple[int, ...],
    device: str,
    dtype: str,
    channels_last: bool,
    compile: bool,
    timing: bool,
    memory: bool,
    throughput_batch: int | None,
) -> dict[str, Any]:
    """Latency, throughput and peak memory fields from bench.timing / bench.memory."""
    opts = {"device": device, "dtype": dtype, "channels_last": channels_last, "compile": compile}
    out: dict[str, Any] = {}
    if timing:
        from stbench.bench.timing import measure_latency

        out.update(measure_latency(model, shape, **opts))
    if throughput_batch:
        from stbench.bench.timing import measure_throughput

        out.update(measure_throughput(model, (1, *shape[1:]), batch=throughput_batch, **opts))
    if memory:
        from stbench.bench.memory import measure_peak_memory

        out.update(measure_peak_memory(model, shape, **opts))
    return out
