"""One model timed by pytest-benchmark with stbench's protocol: what `stbench_bench` runs.

The model (a zoo name or any ``nn.Module``) is counted once on meta (params, per-clip
MACs), prepared like a profile (device, autocast dtype, channels_last_3d, compile), warmed
up by `bench.measure.timing.warm_up` (until the median of the last forwards stops moving), then
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
from stbench.bench.config import ProfileConfig
from stbench.bench.count.static import build_model, count_static, static_fields
from stbench.bench.measure.profiler import profile_config
from stbench.bench.measure.timing import (
    Protocol,
    cudnn_autotune,
    make_timer,
    prepare,
    run_meta,
    warm_up,
)
from torch import nn


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
    rounds: int | None = None,
    warmup_rounds: int | None = None,
    protocol: Protocol | None = None,
    **options: Any,
) -> Any:
    """Time one forward of `model` with pytest-benchmark's `benchmark` fixture under
    stbench's protocol; returns the last output. ``rounds``/``warmup_rounds`` of None: the
    protocol decides; `options` are `profile_config`'s (frames, size, batch, num_classes,
    name, device, dtype, channels_last, compile)."""
    protocol = protocol or Protocol()
    cfg, shape = profile_config(model, input_shape, **options)
    if isinstance(model, str):
        model = build_model(cfg, weights=True)
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
