"""`profile()`: one `ProfileConfig` in, one JSON-able row out, through one pipeline.

The model is built once (on meta, or with real CPU weights when the profile measures or
cross-checks counters), counted once (`bench.count.static.count_static`, per clip at batch 1;
the meta counter's op records also serve the cross-check), prepared and compiled once,
and that one prepared model is timed, run at the throughput batch and measured for peak
memory. ``flops = 2 * macs``. The row starts with its store key
``(model, frames, size, batch, num_classes, device, dtype, memory_format, compile)``.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from stbench.bench.config import MEMORY_FORMATS, ProfileConfig
from stbench.bench.count.counting import StaticCount, check_input_shape
from stbench.bench.count.crosscheck import cross_check
from stbench.bench.count.static import build_model, build_zoo_model, count_static, static_fields
from stbench.bench.measure.efficiency import efficiency_fields, gemm_rate, per_module_time
from stbench.bench.measure.fit import (
    OutOfMemory,
    check_fits,
    is_oom_error,
    out_of_memory,
    throughput_start,
)
from stbench.bench.measure.memory import measure_peak_memory
from stbench.bench.measure.timing import (
    Prepared,
    check_device,
    measure_latency,
    measure_throughput,
    prepare,
)
from stbench.bench.store.history import with_noise
from stbench.zoo.registry import model_code
from torch import nn

__all__ = ["build_zoo_model", "measure", "profile", "profile_config", "run_profile"]


def _has_weights(model: nn.Module) -> bool:
    return all(t.device.type != "meta" for t in [*model.parameters(), *model.buffers()])


@contextlib.contextmanager
def intra_op_threads(threads: int | None) -> Iterator[None]:
    """Run with `threads` intra-op threads (None: leave torch's setting), then restore it."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def measure(prep: Prepared, cfg: ProfileConfig, shape: tuple[int, ...]) -> dict[str, Any]:
    """Latency, throughput and peak memory fields, all of one prepared model; running out of
    memory raises `OutOfMemory` (one line, with the size asked for)."""
    out: dict[str, Any] = {}
    protocol = cfg.protocol()
    steps: list[tuple[str, Callable[[], dict[str, Any]]]] = []
    if cfg.timing:
        steps.append(("timing", lambda: measure_latency(prep, shape, **protocol)))
    if cfg.throughput_batch is not None:
        clip = (1, *shape[1:])
        start, most = throughput_start(cfg, cfg.throughput_batch)
        if most is not None:
            out["throughput_batch_predicted_max"] = most
        steps.append(
            (
                "throughput",
                lambda: {
                    **measure_throughput(prep, clip, batch=start, **protocol),
                    "throughput_batch_requested": cfg.throughput_batch,
                },
            )
        )
    if cfg.memory:
        steps.append(("memory measurement", lambda: measure_peak_memory(prep, shape)))
    with intra_op_threads(cfg.threads):
        for what, step in steps:
            try:
                out.update(step())
            except Exception as exc:
                if is_oom_error(exc):
                    raise out_of_memory(exc, what) from None
                raise
        if cfg.timing:
            out["latency_gemm"] = gemm_rate(prep.device, prep.dtype)
            if cfg.per_module:
                out["latency_module_share"] = _module_shares(prep, shape)
    if protocol:
        out["protocol_overrides"] = protocol
    return out


def _module_shares(prep: Prepared, shape: tuple[int, ...]) -> dict[str, float]:
    """Each module's share of the prepared model's forward time (self time)."""
    x = prep.make_input(shape)

    def forward() -> Any:
        with prep.forward_context():
            return prep.model(x)

    return per_module_time(prep.model, forward, device=prep.device)


def run_profile(
    cfg: ProfileConfig,
    *,
    model: nn.Module | None = None,
    input_shape: Sequence[int] | None = None,
    static: StaticCount | None = None,
) -> dict[str, Any]:
    """The row of one configuration; ``model`` (else built from the zoo), ``input_shape``
    (else ``cfg.input_shape``) and an already made ``static`` count (else counted) may be
    given."""
    check_device(cfg.device)
    shape = cfg.input_shape if input_shape is None else check_input_shape(input_shape)
    if model is None and (static is None or cfg.needs_weights):
        model = build_model(cfg, weights=cfg.needs_weights)
    sc = count_static(cfg, model, input_shape=(1, *shape[1:])) if static is None else static
    check_fits(dataclasses.replace(cfg, batch=shape[0]), sc)
    if cfg.num_classes is None and sc.output_shape is not None and len(sc.output_shape) == 2:
        cfg = dataclasses.replace(cfg, num_classes=sc.output_shape[1])
    flags = [f for f in (sc.matmul_flag(), sc.uncounted_flag()) if f]
    row = {**cfg.key_fields(), "input_shape": list(shape), **static_fields(sc), "flags": flags}
    row["status"] = "ok"
    if len(cfg.counters) > 1:
        with model_code(cfg.model, "forward (counter cross-check)"):
            results, checked = cross_check(
                model, sc.input_shape, cfg.counters, meta_records=sc.records
            )
        row["flags"] += checked
        row["counters"].update({n: r.to_dict() for n, r in results.items() if n != "meta"})
    if cfg.measures:
        if not _has_weights(model):
            raise ValueError(f"model: {cfg.model} has meta weights; give a module with real ones")
        with model_code(cfg.model, "forward (measuring)", passing=(OutOfMemory,)):
            row.update(measure(prepare(model, **cfg.prepare_options()), cfg, shape))
        if "latency_gemm" in row:
            row.update(efficiency_fields(row, row.pop("latency_gemm")))
        row = with_noise(row)
    return row


def _shape_fields(
    shape: tuple[int, ...], frames: int | None, size: int | None
) -> tuple[int | None, int | None]:
    """(frames, size) an explicit input shape implies; a conflicting ``frames`` is refused."""
    if len(shape) == 5:
        if frames is not None and shape[2] != frames:
            raise ValueError(f"frames: got {frames} but input_shape {shape} has T={shape[2]}")
        frames = shape[2]
    if len(shape) >= 4 and shape[-1] == shape[-2]:
        size = shape[-1]
    return frames, size


def profile(
    model_or_name: ProfileConfig | nn.Module | str,
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
    warmup_s: float | None = None,
    min_iters: int | None = None,
    max_iters: int | None = None,
    max_time_s: float | None = None,
    threads: int | None = None,
) -> dict[str, Any]:
    """Profile a `ProfileConfig`, a zoo model (by name) or any ``nn.Module``; one JSON-able row.

    The keywords are the configuration's fields (``channels_last`` for its memory format);
    with a `ProfileConfig` they are ignored.
    """
    if isinstance(model_or_name, ProfileConfig):
        return run_profile(model_or_name)
    opts: dict[str, Any] = {
        "batch": batch,
        "device": device,
        "dtype": dtype,
        "compile": compile,
        "counters": counters,
        "per_module": per_module,
        "timing": timing,
        "memory": memory,
        "throughput_batch": throughput_batch,
        "warmup_s": warmup_s,
        "min_iters": min_iters,
        "max_iters": max_iters,
        "max_time_s": max_time_s,
        "threads": threads,
    }
    cfg, shape = profile_config(
        model_or_name,
        input_shape,
        frames=frames,
        size=size,
        num_classes=num_classes,
        channels_last=channels_last,
        **opts,
    )
    if isinstance(model_or_name, str):
        return run_profile(cfg, input_shape=shape)
    return run_profile(cfg, model=model_or_name, input_shape=shape)


def profile_config(
    model_or_name: nn.Module | str,
    input_shape: Sequence[int] | None = None,
    *,
    frames: int | None = None,
    size: int | None = None,
    num_classes: int | None = None,
    channels_last: bool = False,
    name: str | None = None,
    **options: Any,
) -> tuple[ProfileConfig, tuple[int, ...]]:
    """The configuration and input shape of a zoo name or any ``nn.Module`` (named ``name``,
    else by its class) from `profile`'s keywords; `options` are the other config fields."""
    shape = None
    if input_shape is not None:
        shape = check_input_shape(input_shape)
        frames, size = _shape_fields(shape, frames, size)
        options["batch"] = shape[0]
    if isinstance(model_or_name, str):
        cfg = ProfileConfig.for_model(
            model_or_name,
            frames=frames,
            size=size,
            num_classes=num_classes,
            channels_last=channels_last,
            **options,
        )
        return cfg, cfg.input_shape if shape is None else shape
    if not isinstance(model_or_name, nn.Module):
        raise ValueError(
            f"model: got {type(model_or_name).__name__}; allowed: a zoo name or nn.Module"
        )
    options["memory_format"] = MEMORY_FORMATS[1] if channels_last else MEMORY_FORMATS[0]
    label = name or type(model_or_name).__name__
    cfg = ProfileConfig(label, frames, size, num_classes=num_classes, **options)
    if shape is None:
        if frames is None or size is None:
            raise ValueError("input_shape: give input_shape, or frames and size, for an nn.Module")
        shape = cfg.input_shape
    return cfg, shape
