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

import os
import statistics
import warnings
from collections.abc import Sequence
from typing import Any

import torch
from stbench.bench.config import ProfileConfig
from stbench.bench.count.static import build_model, count_static, static_fields
from stbench.bench.measure.profiler import intra_op_threads, profile_config
from stbench.bench.measure.timing import (
    Protocol,
    cudnn_autotune,
    make_timer,
    prepare,
    run_meta,
    warm_up,
)
from torch import nn

TICKS_MS = (10.0, 4.0, 1.0)  # scheduler ticks at HZ = 100, 250, 1000


class NoisyTiming(UserWarning):
    """A benchmark's rounds were timed on a busy machine (see `timing_flags`)."""


def machine_load() -> dict[str, Any]:
    """The 1-minute load average and the CPUs this process may run on."""
    try:
        load: float | None = round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        load = None
    affinity = getattr(os, "sched_getaffinity", None)
    cpus = len(affinity(0)) if affinity else os.cpu_count()
    return {"load_avg_1m": load, "cpus": cpus}


def tick_quantised(samples_ms: Sequence[float]) -> float | None:
    """The scheduler tick (ms) that preemption put the rounds on, or None."""
    # preempted: a quarter of the rounds a tick or more above the fastest, 80% of those on
    # whole ticks (a forward interrupted k times takes k ticks longer)
    if len(samples_ms) < 5:
        return None
    low = min(samples_ms)
    for tick in TICKS_MS:
        above = [s - low for s in samples_ms if s - low >= 0.8 * tick]
        if len(above) < 0.25 * len(samples_ms):
            continue
        on = [d for d in above if abs(d / tick - round(d / tick)) <= 0.15]
        if len(on) >= 0.8 * len(above):
            return tick
    return None


def timing_flags(samples_ms: Sequence[float], load: float | None, cpus: int | None) -> list[str]:
    """Why rounds timed on this machine may not show the model's speed (none: [])."""
    flags = []
    tick = tick_quantised(samples_ms)
    if tick is not None:
        flags.append(f"rounds quantised to ~{tick:g} ms scheduler ticks (preempted: a busy CPU)")
    if load is not None and cpus and load > cpus:
        flags.append(f"load average {load:g} above the {cpus} CPU(s)")
    return flags


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
    threads: int | None = None,
    **options: Any,
) -> Any:
    """Time one forward of `model` with pytest-benchmark's `benchmark` fixture under
    stbench's protocol; returns the last output. ``rounds``/``warmup_rounds`` of None: the
    protocol decides; `options` are `profile_config`'s (frames, size, batch, num_classes,
    name, device, dtype, channels_last, compile); ``threads``: intra-op threads (None: torch's
    setting). ``extra_info`` also gets the machine's load, its CPUs and ``timing_flags``."""
    with intra_op_threads(threads):
        return _benchmark_model(
            benchmark, model, input_shape, rounds, warmup_rounds, protocol, options
        )


def _benchmark_model(
    benchmark: Any,
    model: str | nn.Module,
    input_shape: Sequence[int] | None,
    rounds: int | None,
    warmup_rounds: int | None,
    protocol: Protocol | None,
    options: dict[str, Any],
) -> Any:
    """`benchmark_model` at the threads already set."""
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
                **machine_load(),
            }
        )
        out = benchmark.pedantic(forward, rounds=rounds, warmup_rounds=0, iterations=1)
    _flag(benchmark)
    if benchmark.extra_info.get("num_classes") is None and getattr(out, "ndim", 0) == 2:
        benchmark.extra_info["num_classes"] = int(out.shape[1])
    return out


def _flag(benchmark: Any) -> None:
    """Set ``timing_flags`` (with the higher load of before and after) and warn on any."""
    stats = getattr(getattr(benchmark, "stats", None), "stats", None)
    samples = [v * 1e3 for v in getattr(stats, "data", None) or []]
    info = benchmark.extra_info
    after = machine_load()["load_avg_1m"]
    load = max((v for v in (info.get("load_avg_1m"), after) if v is not None), default=None)
    flags = timing_flags(samples, load, info.get("cpus"))
    info["timing_flags"] = flags
    if flags:
        name = getattr(benchmark, "name", "") or info.get("model")
        warnings.warn(f"stbench_bench {name}: {'; '.join(flags)}", NoisyTiming, stacklevel=3)
