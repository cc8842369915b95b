"""Latency and throughput of a forward pass: one protocol on GPU (CUDA events) and CPU.

Protocol: `torch.inference_mode`, optional autocast (bf16/fp16), channels_last_3d and
`torch.compile`; warm-up until the median of the last few forwards stops moving, then
timed forwards until the relative IQR is small enough (or an iteration/time cap).
GPU forwards are timed with CUDA events and synchronised; CPU ones with
`time.perf_counter_ns`, recording the thread count. Throughput halves the batch on
out-of-memory (timm-style back-off) and records the batch actually used.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import math
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import torch
from stbench.bench.config import ProfileConfig, canonical_device
from stbench.bench.config import dtype_name as check_dtype
from stbench.bench.environment import cpu_model
from stbench.bench.measure.fit import is_oom_error
from stbench.models.layout import to_channels_last
from torch import nn

DTYPES: dict[str, torch.dtype | None] = {
    "float32": None,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}
PREPARE_OPTIONS = ("device", "dtype", "channels_last", "compile")
T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Protocol:
    """Warm-up and stopping rules of a timing run (seconds and iteration counts)."""

    warmup_s: float = 0.5
    min_warmup_iters: int = 3
    max_warmup_iters: int = 200
    max_warmup_s: float = 10.0
    warmup_window: int = 3
    warmup_tol: float = 0.05
    min_iters: int = 20
    max_iters: int = 300
    min_time_s: float = 1.0
    max_time_s: float = 20.0
    target_rel_iqr: float = 0.05

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> Protocol:
        """Build a protocol, naming the allowed keys when one is unknown."""
        allowed = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(kwargs) - set(allowed))
        if unknown:
            raise ValueError(f"timing option: unknown {unknown}; allowed: {', '.join(allowed)}")
        return cls(**kwargs)

    def fixed_rounds(self, median_ms: float) -> int:
        """Rounds a fixed-count runner (pytest-benchmark) needs for ``min_iters`` and
        ``min_time_s`` at a forward of ``median_ms``, within ``max_iters`` and ``max_time_s``."""
        per = max(median_ms, 1e-6) / 1000.0
        want = max(self.min_iters, math.ceil(self.min_time_s / per))
        return max(1, min(want, self.max_iters, max(3, math.floor(self.max_time_s / per))))


# ---------------------------------------------------------------- input validation


def check_device(device: str | torch.device) -> str:
    """Validate a device string (cpu, cuda, cuda:N); refuse cuda without CUDA."""
    name = canonical_device(device)
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(
                f"device: {name!r} requested but CUDA is not available "
                f"(torch {torch.__version__}, CUDA build: {torch.version.cuda})"
            )
        idx = int(name.split(":")[1]) if ":" in name else 0
        if idx >= torch.cuda.device_count():
            raise ValueError(f"device: got {name!r}; only {torch.cuda.device_count()} GPU(s)")
    return name


def check_shape(input_shape: Sequence[int]) -> tuple[int, ...]:
    """Validate an input shape: a non-empty sequence of positive integers."""
    shape = tuple(input_shape)
    if not shape or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape):
        raise ValueError(f"input_shape: got {input_shape!r}; allowed: positive integers")
    if min(shape) < 1:
        raise ValueError(f"input_shape: got {shape}; every dimension must be >= 1")
    return shape


# ---------------------------------------------------------------- preparing a run


@dataclasses.dataclass
class Prepared:
    """A model placed on its device with the options that shape every forward."""

    model: nn.Module
    device: str
    dtype: str
    memory_format: str
    compiled: bool
    compile_mode: str | None

    def make_input(self, shape: Sequence[int]) -> torch.Tensor:
        """A random float32 input on the device in the run's memory format."""
        x = torch.randn(*shape, device=self.device)
        if self.memory_format == "channels_last_3d":
            x = x.contiguous(memory_format=torch.channels_last_3d)
        return x

    @contextlib.contextmanager
    def forward_context(self) -> Iterator[None]:
        """`inference_mode` plus autocast when the dtype is bf16/fp16."""
        amp = DTYPES[self.dtype]
        device_type = "cuda" if self.device.startswith("cuda") else "cpu"
        with torch.inference_mode():
            if amp is None:
                yield
            else:
                with torch.autocast(device_type=device_type, dtype=amp):
                    yield


def prepare(
    model: nn.Module,
    *,
    device: str = "cpu",
    dtype: str = "float32",
    channels_last: bool = False,
    compile: bool | str = False,
) -> Prepared:
    """Validate options, move the model to the device in eval mode, compile if asked."""
    device = check_device(device)
    dtype = check_dtype(dtype)
    model = model.eval().to(device)
    memory_format = "contiguous"
    if channels_last:
        model = to_channels_last(model)
        memory_format = "channels_last_3d"
    mode = None
    if compile:
        mode = compile if isinstance(compile, str) else "default"
        model = torch.compile(model, mode=None if mode == "default" else mode)
    return Prepared(model, device, dtype, memory_format, bool(compile), mode)


def prepared(
    model: nn.Module | Prepared, options: dict[str, Any]
) -> tuple[Prepared, dict[str, Any]]:
    """``model`` prepared with the prepare options in ``options``, and the other options; a
    `Prepared` model is used as it is (one preparation serves several measurements)."""
    opts = {k: options.pop(k) for k in PREPARE_OPTIONS if k in options}
    if not isinstance(model, Prepared):
        return prepare(model, **opts), options
    if opts:
        raise ValueError(f"{', '.join(opts)}: already fixed by the prepared model; give none")
    return model, options


def device_name(device: str) -> str:
    """The GPU's name for cuda devices, the CPU model otherwise."""
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))

    return cpu_model()


# ---------------------------------------------------------------- timers and statistics


def make_timer(device: str) -> Callable[[Callable[[], Any]], float]:
    """A function timing one call in ms: CUDA events on GPU, perf_counter_ns on CPU."""
    if device.startswith("cuda"):
        dev = torch.device(device)
        start = torch.cuda.Event(enable_timing=True)
        end = torch.cuda.Event(enable_timing=True)

        def cuda_time(fn: Callable[[], Any]) -> float:
            with torch.cuda.device(dev):
                start.record()
                fn()
                end.record()
                end.synchronize()
            return float(start.elapsed_time(end))

        return cuda_time

    def cpu_time(fn: Callable[[], Any]) -> float:
        t0 = time.perf_counter_ns()
        fn()
        return (time.perf_counter_ns() - t0) / 1e6

    return cpu_time


def timer_name(device: str) -> str:
    """The label of the timer used on `device`."""
    return "cuda_event" if device.startswith("cuda") else "perf_counter"


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (0..100) of already sorted values."""
    if not sorted_values:
        raise ValueError("percentile: no values")
    pos = (len(sorted_values) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summarize(samples_ms: Sequence[float], prefix: str = "latency_ms_") -> dict[str, float]:
    """Median, IQR, p90, mean, min, max and std of samples (ms) under `prefix`."""
    s = sorted(samples_ms)
    median = percentile(s, 50)
    return {
        f"{prefix}median": median,
        f"{prefix}iqr": percentile(s, 75) - percentile(s, 25),
        f"{prefix}p90": percentile(s, 90),
        f"{prefix}mean": statistics.fmean(s),
        f"{prefix}min": s[0],
        f"{prefix}max": s[-1],
        f"{prefix}std": statistics.stdev(s) if len(s) > 1 else 0.0,
    }


def _rel_iqr(samples: Sequence[float]) -> float:
    s = sorted(samples)
    med = percentile(s, 50)
    return (percentile(s, 75) - percentile(s, 25)) / med if med > 0 else math.inf


def warm_up(
    step: Callable[[], Any],
    timer: Callable[[Callable[[], Any]], float],
    protocol: Protocol,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[list[float], bool, float]:
    """Run `step` until the median of the last forwards stops moving (or a warm-up cap);
    returns (the warm-up times in ms, whether it became stable, seconds spent)."""
    p = protocol
    warm: list[float] = []
    t0 = clock()
    while True:
        warm.append(timer(step))
        elapsed = clock() - t0
        n, w = len(warm), p.warmup_window
        if n >= max(p.min_warmup_iters, 2 * w) and elapsed >= p.warmup_s:
            last, prev = statistics.median(warm[-w:]), statistics.median(warm[-2 * w : -w])
            if last > 0 and abs(last - prev) / last <= p.warmup_tol:
                return warm, True, clock() - t0
        if n >= p.max_warmup_iters or elapsed >= p.max_warmup_s:
            return warm, False, clock() - t0


def run_protocol(
    step: Callable[[], Any],
    timer: Callable[[Callable[[], Any]], float],
    protocol: Protocol,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, Any]:
    """Warm up until stable, then time `step` until the IQR target or a cap is reached."""
    p = protocol
    warm, stable, warmup_s = warm_up(step, timer, p, clock)
    samples: list[float] = []
    t0 = clock()
    while True:
        samples.append(timer(step))
        n, elapsed = len(samples), clock() - t0
        if n >= p.min_iters and elapsed >= p.min_time_s and _rel_iqr(samples) <= p.target_rel_iqr:
            reason = "stable"
            break
        if n >= p.max_iters:
            reason = "max_iters"
            break
        if elapsed >= p.max_time_s and n >= min(3, p.min_iters):
            reason = "max_time"
            break
    return {
        "samples_ms": samples,
        "warmup_iterations": len(warm),
        "warmup_stable": stable,
        "warmup_s": warmup_s,
        "stop_reason": reason,
        "rel_iqr": _rel_iqr(samples),
        "drift_rel": drift(samples),
    }


def drift(samples: Sequence[float]) -> float | None:
    """Relative change between the medians of the first and second half of `samples`
    (None under 4 samples): a steady state shows ~0 however short its warm-up was."""
    if len(samples) < 4:
        return None
    half = len(samples) // 2
    first, second = statistics.median(samples[:half]), statistics.median(samples[-half:])
    return abs(second - first) / first if first > 0 else math.inf


# ---------------------------------------------------------------- latency


@contextlib.contextmanager
def cudnn_autotune(device: str, enabled: bool) -> Iterator[bool | None]:
    """Set cuDNN autotuning for a CUDA run and restore it after (yields the flag; None on CPU)."""
    if not device.startswith("cuda"):
        yield None
        return
    old = torch.backends.cudnn.benchmark
    torch.backends.cudnn.benchmark = enabled
    try:
        yield enabled
    finally:
        torch.backends.cudnn.benchmark = old


def _time_prepared(
    prep: Prepared, shape: tuple[int, ...], protocol: Protocol, cudnn_benchmark: bool
) -> tuple[dict[str, Any], bool | None]:
    x = prep.make_input(shape)
    timer = make_timer(prep.device)
    with cudnn_autotune(prep.device, cudnn_benchmark) as cb, prep.forward_context():
        result = run_protocol(lambda: prep.model(x), timer, protocol)
    return result, cb


def run_meta(prep: Prepared, cudnn_benchmark: bool | None) -> dict[str, Any]:
    """How a prepared model runs: timer, threads, cuDNN autotuning, autocast, format, device."""
    return {
        "timer": timer_name(prep.device),
        "threads": torch.get_num_threads(),
        "cudnn_benchmark": cudnn_benchmark,
        "autocast_dtype": None if DTYPES[prep.dtype] is None else prep.dtype,
        "memory_format": prep.memory_format,
        "compiled": prep.compiled,
        "compile_mode": prep.compile_mode,
        "device_name": device_name(prep.device),
    }


def measure_latency(
    model: nn.Module | Prepared,
    input_shape: Sequence[int],
    *,
    cudnn_benchmark: bool = True,
    **options: Any,
) -> dict[str, Any]:
    """Forward latency (ms) of `model` on `input_shape`: median, IQR, p90, mean and run facts.

    `options` are `prepare`'s (device, dtype, channels_last, compile; none for a
    `Prepared` model) and the fields of `Protocol` (warmup_s, min_iters, ...).
    """
    shape = check_shape(input_shape)
    prep, protocol = prepared(model, options)
    result, cb = _time_prepared(prep, shape, Protocol.from_kwargs(**protocol), cudnn_benchmark)
    return {
        **summarize(result["samples_ms"]),
        "latency_rel_iqr": result["rel_iqr"],
        "latency_drift_rel": result["drift_rel"],
        "iterations": len(result["samples_ms"]),
        "warmup_iterations": result["warmup_iterations"],
        "warmup_stable": result["warmup_stable"],
        "warmup_s": round(result["warmup_s"], 3),
        "stop_reason": result["stop_reason"],
        "input_shape": list(shape),
        **run_meta(prep, cb),
    }


# ---------------------------------------------------------------- throughput with OOM back-off


def free_memory(device: str = "cpu") -> None:
    """Collect garbage and release cached CUDA blocks after an OOM."""
    gc.collect()
    if device.startswith("cuda") and torch.cuda.is_available():
        torch.cuda.empty_cache()


def oom_backoff(
    fn: Callable[[int], T],
    batch: int,
    *,
    min_batch: int = 1,
    cleanup: Callable[[], None] = free_memory,
) -> tuple[T, int, list[int]]:
    """Call `fn(batch)`, halving the batch on OOM; returns (result, batch_used, failed_batches).

    Re-raises the last OOM when even `min_batch` does not fit; other errors pass through.
    """
    if batch < 1 or min_batch < 1:
        raise ValueError(f"batch: got {batch} (min_batch {min_batch}); allowed: >= 1")
    failed: list[int] = []
    while True:
        try:
            return fn(batch), batch, failed
        except Exception as exc:  # noqa: BLE001 - filtered just below
            if not is_oom_error(exc) or batch <= min_batch:
                raise
            failed.append(batch)
        # outside the except block so the traceback (and its tensors) can be freed
        cleanup()
        batch = max(min_batch, batch // 2)


def measure_throughput(
    model: nn.Module | Prepared,
    input_shape_b1: Sequence[int],
    *,
    batch: int,
    cudnn_benchmark: bool = True,
    min_batch: int = 1,
    **options: Any,
) -> dict[str, Any]:
    """Clips/s at a large batch (dim 0 of `input_shape_b1` replaced), halving on OOM.

    `options` as for `measure_latency`.
    """
    shape = check_shape(input_shape_b1)
    prep, protocol = prepared(model, options)
    proto = Protocol.from_kwargs(**{"min_iters": 10, "min_time_s": 0.5, **protocol})
    cleanup = lambda: free_memory(prep.device)  # noqa: E731

    def attempt(b: int) -> tuple[dict[str, Any], bool | None]:
        return _time_prepared(prep, (b, *shape[1:]), proto, cudnn_benchmark)

    (result, cb), used, failed = oom_backoff(attempt, batch, min_batch=min_batch, cleanup=cleanup)
    stats = summarize(result["samples_ms"], prefix="throughput_latency_ms_")
    median_s = stats["throughput_latency_ms_median"] / 1000.0
    meta = run_meta(prep, cb)
    return {
        "throughput_clips_per_s": used / median_s if median_s > 0 else math.inf,
        "throughput_batch_requested": batch,
        "throughput_batch_used": used,
        "throughput_oom_batches": failed,
        "throughput_latency_ms_median": stats["throughput_latency_ms_median"],
        "throughput_latency_ms_iqr": stats["throughput_latency_ms_iqr"],
        "throughput_iterations": len(result["samples_ms"]),
        **{k: meta[k] for k in ("timer", "threads", "memory_format", "compiled")},
    }


# ---------------------------------------------------------------- how long a measurement takes


def timing_seconds(cfg: ProfileConfig, macs: int, gmacs_per_s: float) -> tuple[float, float]:
    """(seconds of one forward, seconds of the whole latency measurement) at least, for
    `macs` per clip at `gmacs_per_s`: the protocol's warm-up (>= 1 forward) and timed
    rounds (>= 3 forwards, or until its time caps) of `bench.measure.timing.Protocol`."""
    p = Protocol.from_kwargs(**cfg.protocol())
    forward = macs * cfg.batch / (gmacs_per_s * 1e9)
    f = forward
    least = max(p.min_warmup_iters, 2 * p.warmup_window)
    warm = min(max(least * f, p.warmup_s), max(p.max_warmup_s, f), p.max_warmup_iters * f)
    timed = min(
        max(p.min_iters * f, p.min_time_s),
        max(p.max_time_s, min(3, p.min_iters) * f),
        p.max_iters * f,
    )
    return forward, warm + timed
