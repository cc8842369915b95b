"""Peak memory of one forward pass, in its own pass, with the method named in the row.

GPU: `torch.cuda.reset_peak_memory_stats` then `max_memory_allocated` around one
forward (after a warm-up forward, so cuDNN autotuning is not counted).
CPU: PyTorch has no CPU peak counter, so the forward runs under
`torch.profiler.profile(profile_memory=True)` and its allocation events are replayed in
time order; the peak of the running sum is the activation peak above weights and input.
When the profiler's event tree is unavailable the method falls back to the growth of
the process's max RSS (`resource.getrusage`), an upper-bound-ish, coarser figure.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import torch
from stbench.bench.measure.timing import (
    PREPARE_OPTIONS,
    Prepared,
    check_shape,
    free_memory,
    prepared,
)
from torch import nn
from torch._C._profiler import _EventType
from torch.profiler import ProfilerActivity, profile

MIB = 2**20


def weights_bytes(model: nn.Module) -> int:
    """Bytes of parameters and buffers (shared tensors counted once)."""
    seen: set[int] = set()
    total = 0
    for t in (*model.parameters(), *model.buffers()):
        if id(t) not in seen:
            seen.add(id(t))
            total += t.numel() * t.element_size()
    return total


def _cuda_peak(prep: Prepared, x: torch.Tensor) -> dict[str, Any]:
    dev = torch.device(prep.device)
    with prep.forward_context():
        prep.model(x)  # warm-up: cuDNN autotuning / lazy init outside the measured pass
    torch.cuda.synchronize(dev)
    free_memory(prep.device)
    torch.cuda.reset_peak_memory_stats(dev)
    before = torch.cuda.memory_allocated(dev)
    with prep.forward_context():
        out = prep.model(x)
    torch.cuda.synchronize(dev)
    peak = torch.cuda.max_memory_allocated(dev)
    del out
    return {
        "peak_mem_bytes": int(peak),
        "peak_mem_before_bytes": int(before),
        "peak_mem_method": "cuda.max_memory_allocated",
    }


def _walk(nodes: Iterable[Any]) -> Iterable[Any]:
    for n in nodes:
        yield n
        yield from _walk(n.children)


def allocation_peak(events: Iterable[tuple[int, int]]) -> int:
    """Peak of the running sum of (time_ns, +/-bytes) allocation events, from 0."""
    running = peak = 0
    for _, nbytes in sorted(events, key=lambda e: e[0]):
        running += nbytes
        peak = max(peak, running)
    return peak


@contextlib.contextmanager
def _native_stderr_silenced() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null: Kineto logs profiler start/stop lines from C++."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _profiler_alloc_events(prep: Prepared, x: torch.Tensor) -> list[tuple[int, int]]:
    with _native_stderr_silenced():
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            with prep.forward_context():
                prep.model(x)
    tree = prof.profiler.kineto_results.experimental_event_tree()
    return [
        (n.start_time_ns, int(n.extra_fields.alloc_size))
        for n in _walk(tree)
        if n.tag == _EventType.Allocation and str(n.extra_fields.device) == "cpu"
    ]


def _maxrss_bytes() -> int:
    import resource

    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss if sys.platform == "darwin" else rss * 1024


def _cpu_peak(prep: Prepared, x: torch.Tensor) -> dict[str, Any]:
    with prep.forward_context():
        prep.model(x)  # warm-up, like the GPU pass
    wb = weights_bytes(prep.model)
    base = wb + x.numel() * x.element_size()
    try:
        act = allocation_peak(_profiler_alloc_events(prep, x))
        method = "torch.profiler(profile_memory) allocation replay"
    except (ImportError, AttributeError, RuntimeError):
        before = _maxrss_bytes()
        with prep.forward_context():
            prep.model(x)
        act = max(0, _maxrss_bytes() - before)
        method = "resource.ru_maxrss growth (coarse)"
    return {"peak_mem_bytes": base + act, "peak_mem_before_bytes": base, "peak_mem_method": method}


def measure_peak_memory(
    model: nn.Module | Prepared, input_shape: Sequence[int], **options: Any
) -> dict[str, Any]:
    """Peak memory (MiB) of one forward, and the peak minus the weights; method labelled.

    `options` are `prepare`'s (device, dtype, channels_last, compile); none for a
    `Prepared` model.
    """
    shape = check_shape(input_shape)
    prep, unknown = prepared(model, options)
    if unknown:
        raise ValueError(f"memory option: unknown {sorted(unknown)}; allowed: {PREPARE_OPTIONS}")
    x = prep.make_input(shape)
    raw = _cuda_peak(prep, x) if prep.device.startswith("cuda") else _cpu_peak(prep, x)
    wb = weights_bytes(prep.model)
    return {
        "peak_mem_mib": raw["peak_mem_bytes"] / MIB,
        "peak_mem_minus_weights_mib": (raw["peak_mem_bytes"] - wb) / MIB,
        "weights_mib": wb / MIB,
        "peak_mem_method": raw["peak_mem_method"],
    }
