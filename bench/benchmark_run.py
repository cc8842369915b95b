"""One model timed by pytest-benchmark with stbench's protocol: what `stbench_bench` runs.

The model (a zoo name or any ``nn.Module``) is counted once on meta (params, per-clip
MACs), prepared like a profile (device, autocast dtype, channels_last_3d, compile), warmed
up by `bench.timing.warm_up` (until the median of the last forwards stops moving), then
timed by ``benchmark.pedantic`` for the rounds the protocol asks (`Protocol.fixed_rounds`).
Each round is one forward under `torch.inference_mode`, synchronised on GPU so the
wall-clock timer sees finished work. ``benchmark.extra_info`` gets the store key, the
static counts and the run's device facts, so the JSON imports as profile rows.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

import torch
from stbench.bench.config import MEMORY_FORMATS, ProfileConfig
from stbench.bench.counting import check_input_shape
from stbench.bench.profiler import shape_fields
from stbench.bench.static import build_model, count_static, static_fields
from stbench.bench.timing import (
    Protocol,
    cudnn_autotune,
    make_timer,
    prepare,
    run_meta,
    warm_up,
)
from torch import nn


def bench_config(
    model: str | nn.Module,
    input_shape: Sequence[int] | None,
    *,
    frames: int | None,
    size: int | None,
    batch: int,
    num_classes: int | None,
    name: str | None,
    **settings: Any,
) -> tuple[ProfileConfig, nn.Module, tuple[int, ...]]:
    """(configuration, model with real weights, input shape) of one benchmark; `settings`
    are device, dtype, channels_last and compile."""
    if isinstance(model, str):
        if input_shape is not None:
            frames, size = shape_fields(check_input_shape(input_shape), frames, size)
            batch = input_shape[0]
        cfg = ProfileConfig.for_model(
            model, frames=frames, size=size, num_classes=num_classes, batch=batch, **settings
        )
        return cfg, build_model(cfg, weights=True), cfg.input_shape
    if not isinstance(model, nn.Module):
        raise ValueError(f"model: got {type(model).__name__}; allowed: a zoo name or nn.Module")
    if input_shape is None:
        if frames is None or size is None:
            raise ValueError("input_shape: give input_shape, or frames and size, for an nn.Module")
        input_shape = (batch, 3, frames, size, size)
    shape = check_input_shape(input_shape)
    frames, size = shape_fields(shape, frames, size)
    memory_format = MEMORY_FORMATS[1] if settings.pop("channels_last") else MEMORY_FORMATS[0]
    cfg = ProfileConfig(
        name or type(model).__name__,
        frames,
        size,
        batch=shape[0],
        num_classes=num_classes,
        memory_format=memory_format,
        **settings,
    )
    return cfg, model, shape


def _static(cfg: ProfileConfig, model: nn.Module, shape: tuple[int, ...]) -> dict[str, Any]:
    """Params and per-clip MACs from the meta counter (a count error, if it fails)."""
    try:
        sc = count_static(cfg, model, input_shape=(1, *shape[1:]))
    except Exception as exc:  # noqa: BLE001 - a benchmark should still time the model
        return {"count_error": f"{type(exc).__name__}: {exc}"}
    fields = static_fields(sc)
    if cfg.num_classes is None and sc.output_shape is not None and len(sc.output_shape) == 2:
        fields["num_classes"] = sc.output_shape[1]
    return fields


def _warm(
    step: Any, device: str, warmup_rounds: int | None, protocol: Protocol
) -> tuple[list[float], bool | None, float]:
    """stbench's warm-up (None rounds), or exactly `warmup_rounds` forwards."""
    timer = make_timer(device)
    if warmup_rounds is None:
        return warm_up(step, timer, protocol)
    times = [timer(step) for _ in range(warmup_rounds)]
    return times, None, sum(times) / 1000.0


def benchmark_model(
    benchmark: Any,
    model: str | nn.Module,
    input_shape: Sequence[int] | None = None,
    *,
    frames: int | None = None,
    size: int | None = None,
    batch: int = 1,
    num_classes: int | None = None,
    name: str | None = None,
    device: str = "cpu",
    dtype: str = "float32",
    channels_last: bool = False,
    compile: bool = False,
    rounds: int | None = None,
    warmup_rounds: int | None = None,
    protocol: Protocol | None = None,
) -> Any:
    """Time one forward of `model` with pytest-benchmark's `benchmark` fixture under
    stbench's protocol; returns the last output. ``rounds``/``warmup_rounds`` of None:
    the protocol decides."""
    protocol = protocol or Protocol()
    cfg, model, shape = bench_config(
        model,
        input_shape,
        frames=frames,
        size=size,
        batch=batch,
        num_classes=num_classes,
        name=name,
        device=device,
        dtype=dtype,
        channels_last=channels_last,
        compile=compile,
    )
    static = _static(cfg, model, shape)
    prep = prepare(model, **cfg.prepare_options())
    x = prep.make_input(shape)
    gpu = prep.device.startswith("cuda")
    sync = torch.cuda.synchronize if gpu else (lambda: None)

    def forward() -> Any:
        with prep.forward_context():
            out = prep.model(x)
        sync()
        return out

    with cudnn_autotune(prep.device, True) as autotune:
        if benchmark.disabled:
            warm, stable, warm_s, rounds = [], None, 0.0, 1
        else:
            warm, stable, warm_s = _warm(forward, prep.device, warmup_rounds, protocol)
        if rounds is None:
            tail = warm[-protocol.warmup_window :] or [make_timer(prep.device)(forward)]
            rounds = protocol.fixed_rounds(statistics.median(tail))
        if benchmark.group is None:
            benchmark.group = f"{cfg.device} {cfg.dtype} {shape}"
        benchmark.extra_info.update(
            {
                **cfg.key_fields(),
                "input_shape": list(shape),
                **static,
                **run_meta(prep, autotune),
                "timer": "perf_counter+cuda.synchronize" if gpu else "perf_counter",
                "torch_version": torch.__version__,
                "protocol": "stbench warm-up + fixed rounds",
                "warmup_iterations": len(warm),
                "warmup_stable": stable,
                "warmup_s": round(warm_s, 3),
                "rounds": rounds,
            }
        )
        out = benchmark.pedantic(forward, rounds=rounds, warmup_rounds=0, iterations=1)
    if benchmark.extra_info.get("num_classes") is None and getattr(out, "ndim", 0) == 2:
        benchmark.extra_info["num_classes"] = int(out.shape[1])
    return out
