"""Short probes of this machine's speed: the best wall time of a call, and of one square
matrix product (the one GEMM probe).

`measure.efficiency` turns the product's time into the GEMM rate a timed row is compared
with; `predict.cpu_device` into the peaks of its probed CPU device row. Each keeps its own
method (operand dtype or autocast, calls, warm-up) and cache; the timing is this module's.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import torch


def device_sync(device: str) -> Callable[[], None]:
    """What waits for `device`'s queued work: CUDA's synchronize, nothing on a CPU."""
    if device.startswith("cuda"):
        return torch.cuda.synchronize
    return lambda: None


def best_seconds(fn: Callable[[], Any], calls: int, warmup: int = 1, device: str = "cpu") -> float:
    """The best wall time of `calls` calls of `fn` after `warmup` untimed ones (each call
    waited for on `device`)."""
    sync, best = device_sync(device), math.inf
    for _ in range(warmup):
        fn()
    for _ in range(calls):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - start)
    return best


def gemm_seconds(
    n: int,
    *,
    calls: int,
    warmup: int,
    dtype: torch.dtype = torch.float32,
    autocast: torch.dtype | None = None,
    device: str = "cpu",
) -> float:
    """The best time of one ``n x n x n`` product (``torch.mm``) of `dtype` operands on
    `device`, under `autocast` when given, at the current intra-op threads."""
    a, b = (torch.randn(n, n, dtype=dtype, device=device) for _ in range(2))
    kind = "cuda" if device.startswith("cuda") else "cpu"
    amp = torch.autocast(kind, dtype=autocast or torch.bfloat16, enabled=autocast is not None)
    with torch.inference_mode(), amp:
        return best_seconds(lambda: torch.mm(a, b), calls, warmup, device)
