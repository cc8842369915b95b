"""Will it fit: a lower bound on a measurement's memory, the memory the device has free,
and out-of-memory errors turned into one-line results.

On CUDA a zoo model's peak is predicted instead (meta-device trace replayed by
``bench.predict.memsim``): a configuration predicted not to fit in the free memory is refused, and
throughput starts at the largest batch predicted to stay under ``HEADROOM`` of the device.

The bound is deliberately loose (weights plus the largest single tensor one op produces,
at the run's batch and dtype) so that it only refuses configurations that clearly cannot
run; anything closer is left to the measurement, whose out-of-memory error is caught and
stored as a failure with the size it asked for.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stbench.bench.config import ProfileConfig
    from stbench.bench.count.counting import StaticCount

DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
GIB = 1024**3
HEADROOM = 0.9  # throughput batches stay under this share of the device's memory
_ASKED = re.compile(r"(?:tried to allocate|allocate)\s+([\d.]+)\s*(bytes|[KMGT]i?B)", re.I)
_UNITS = {"bytes": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12}
_UNITS |= {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


class OutOfMemory(RuntimeError):
    """A measurement ran out of memory; the message is one line with the size asked for."""


OOM_MESSAGES = (
    "out of memory",
    "not enough memory",
    "can't allocate memory",
    "cudnn_status_alloc_failed",
    "cublas_status_alloc_failed",
)


def is_oom_error(exc: BaseException) -> bool:
    """True for CUDA/CPU out-of-memory errors, typed or by their message (imports no torch:
    torch's OutOfMemoryError is checked only when torch is already loaded)."""
    if isinstance(exc, (OutOfMemory, MemoryError)):
        return True
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(exc, torch.OutOfMemoryError):
        return True
    if isinstance(exc, RuntimeError):
        msg = str(exc).lower()
        return any(s in msg for s in OOM_MESSAGES)
    return False


def available_memory(device: str) -> int | None:
    """Bytes the device can still allocate (CPU: MemAvailable; CUDA: free), None if unknown."""
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.mem_get_info(torch.device(device))[0])
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def device_memory(device: str) -> int | None:
    """Total bytes of a CUDA device (None elsewhere)."""
    if not device.startswith("cuda"):
        return None
    import torch

    return int(torch.cuda.mem_get_info(torch.device(device))[1])


def predicted_peak(cfg: ProfileConfig, batch: int) -> int | None:
    """Predicted peak memory (bytes) of one forward of zoo model `cfg.model` at `batch`
    (meta-device trace, ``bench.predict.memsim``); None for a model outside the zoo."""
    from stbench.bench.count.static import build_zoo_model
    from stbench.bench.predict.memsim import memory_report
    from stbench.bench.predict.trace import trace_forward
    from stbench.zoo import get_spec, list_models
    from stbench.zoo.registry import model_code

    if cfg.frames is None or cfg.size is None or cfg.model not in list_models():
        return None
    classes = cfg.num_classes or get_spec(cfg.model).default_classes
    model = build_zoo_model(cfg.model, frames=cfg.frames, num_classes=classes)
    shape = (batch, 3, cfg.frames, cfg.size, cfg.size)
    with model_code(cfg.model, "forward (memory prediction)"):
        trace = trace_forward(model, shape, dtype=cfg.dtype)
    return int(memory_report(trace)["peak_bytes"])


def largest_batch(peak_at: Callable[[int], int], limit: int, most: int) -> int:
    """The largest batch <= `most` whose predicted peak `peak_at(batch)` is <= `limit`
    (0 when not even batch 1 fits): a line through batches 1 and 2, checked, else bisected."""
    p1 = peak_at(1)
    if p1 > limit:
        return 0
    if most <= 1:
        return 1
    slope = max(peak_at(2) - p1, 1)
    guess = int(min(most, 1 + (limit - p1) // slope))
    if peak_at(guess) <= limit:
        return guess
    low, high = 1, guess  # the peak grew faster than the line: bisect (fits, does not)
    for _ in range(10):
        if high - low <= 1:
            break
        mid = (low + high) // 2
        low, high = (mid, high) if peak_at(mid) <= limit else (low, mid)
    return low


def throughput_start(cfg: ProfileConfig, requested: int) -> tuple[int, int | None]:
    """(starting batch, largest batch up to `requested` predicted under HEADROOM of the
    device's memory) of a CUDA throughput measurement; elsewhere, or outside the zoo,
    (requested, None)."""
    total = device_memory(cfg.device)
    if total is None or predicted_peak(cfg, 1) is None:
        return requested, None
    best = largest_batch(lambda b: predicted_peak(cfg, b) or 0, int(HEADROOM * total), requested)
    return max(1, min(requested, best)), best


def memory_lower_bound(cfg: ProfileConfig, sc: StaticCount) -> int:
    """Bytes a forward of `cfg` needs at least: fp32 weights + its largest activation."""
    return 4 * sc.params + cfg.batch * sc.largest_activation * DTYPE_BYTES[cfg.dtype]


def check_fits(cfg: ProfileConfig, sc: StaticCount, available: int | None = None) -> None:
    """Refuse (one-line ValueError) a measurement that will not fit in free memory: on CUDA
    when its predicted peak exceeds it, elsewhere when its lower bound does."""
    if not cfg.measures:
        return
    free = available_memory(cfg.device) if available is None else available
    if free is not None and cfg.device.startswith("cuda"):
        peak = predicted_peak(cfg, cfg.batch)
        if peak is not None and peak > free:
            shape = "x".join(map(str, cfg.input_shape))
            raise ValueError(
                f"size/batch: {cfg.model} at {shape} is predicted to need "
                f"{peak / GIB:,.2f} GiB at peak (stbench predict) but {cfg.device} has "
                f"{free / GIB:,.2f} GiB free; allowed: a smaller size, frames or batch"
            )
    need = memory_lower_bound(cfg, sc)
    if free is None or need <= free:
        return
    shape = "x".join(map(str, cfg.input_shape))
    raise ValueError(
        f"size/batch: {cfg.model} at {shape} needs at least {need / GIB:,.2f} GiB "
        f"(weights and its largest activation) but {cfg.device} has {free / GIB:,.2f} GiB "
        "available; allowed: a smaller size, frames or batch"
    )


def asked_bytes(message: str) -> int | None:
    """The allocation size an out-of-memory message names, in bytes, if it names one."""
    m = _ASKED.search(message)
    if not m:
        return None
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def out_of_memory(exc: BaseException, what: str) -> OutOfMemory:
    """The one-line `OutOfMemory` for an allocation failure during `what`."""
    asked = asked_bytes(str(exc))
    size = f": tried to allocate {asked / GIB:,.2f} GiB ({asked:,} bytes)" if asked else ""
    return OutOfMemory(f"out of memory during {what}{size}")
