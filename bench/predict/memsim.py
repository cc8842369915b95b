"""Peak memory of a traced pass: storage lifetimes replayed as the CUDA caching allocator counts.

Each storage is live from the op that creates it to the op after which it is freed (storages
that exist before the pass — weights, input, optimizer state — are live throughout). Two
lifetime models: ``observed`` (the frees the trace saw: a storage dies with its last tensor,
as on a GPU running the same Python code) and ``last_use`` (free right after the last op
that touches it: what a perfect memory planner could reach; a lower bound).

Sizes are rounded as ``torch.cuda.memory_allocated`` counts them: every block is a multiple
of 512 bytes (``kMinBlockSize`` in c10/cuda/CUDACachingAllocator.cpp); empty tensors take
nothing. Not modelled: cuDNN/cuBLAS workspaces, the CUDA context (~300-600 MiB outside
PyTorch's allocator), allocator fragmentation and cached-but-free blocks (what
``memory_reserved`` adds), kernel-internal scratch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

BLOCK_BYTES = 512
LIFETIMES = ("observed", "last_use")
NOT_MODELLED = (
    "cuDNN/cuBLAS workspaces, the CUDA context, allocator fragmentation and reserved-but-free "
    "blocks, kernel-internal scratch"
)
# Report groups of storage categories.
GROUPS = {
    "parameter": "parameters",
    "buffer": "parameters",
    "autocast_weight": "autocast_weights",
    "gradient": "gradients",
    "optimizer_state": "optimizer_state",
    "input": "input",
    "activation": "activations",
}


def round_block(nbytes: int, block: int = BLOCK_BYTES) -> int:
    """Bytes the CUDA caching allocator accounts for a request of ``nbytes``."""
    if nbytes <= 0:
        return 0
    return -(-nbytes // block) * block if block > 1 else nbytes


@dataclass(frozen=True)
class Interval:
    """One storage's size, role and live range over op indices (inclusive)."""

    nbytes: int
    category: str
    start: int  # -1: exists before the first op
    end: int | None  # None: still alive after the last op


@dataclass(frozen=True)
class Peak:
    """The peak of live bytes, when it happened and what was live then (per group)."""

    peak_bytes: int
    at: int  # op index of the peak (-1 when the pass has no ops)
    live: dict[str, int]  # bytes per report group at the peak


def simulate(intervals: Iterable[Interval], steps: int, *, block: int = BLOCK_BYTES) -> Peak:
    """Peak of live (rounded) bytes over ``steps`` ops; ties go to the earliest op."""
    span = max(steps, 1)
    delta = [0] * (span + 1)
    items = list(intervals)
    for iv in items:
        size = round_block(iv.nbytes, block)
        start = max(iv.start, 0)
        end = span - 1 if iv.end is None else min(iv.end, span - 1)
        if end < start:
            continue
        delta[start] += size
        delta[end + 1] -= size
    running, peak, at = 0, -1, 0
    for i in range(span):
        running += delta[i]
        if running > peak:
            peak, at = running, i
    live: dict[str, int] = {}
    for iv in items:
        end = span - 1 if iv.end is None else iv.end
        if max(iv.start, 0) <= at <= end:
            group = GROUPS.get(iv.category, iv.category)
            live[group] = live.get(group, 0) + round_block(iv.nbytes, block)
    return Peak(max(peak, 0), at if steps else -1, live)


def intervals(trace: Any, lifetimes: str = "observed") -> list[Interval]:
    """Live ranges of every storage of a :class:`bench.predict.trace.Trace`."""
    if lifetimes not in LIFETIMES:
        raise ValueError(f"lifetimes: got {lifetimes!r}; allowed: {', '.join(LIFETIMES)}")
    last: dict[int, int] = {}
    if lifetimes == "last_use":
        for op in trace.ops:
            for sid in op.uses:
                last[sid] = op.index
    out = []
    for s in trace.storages.values():
        end = s.freed
        if end is not None and lifetimes == "last_use" and s.created >= 0:
            end = max(s.created, last.get(s.sid, s.created))
        out.append(Interval(s.nbytes, s.category, s.created, end))
    return out


def totals(trace: Any, categories: Sequence[str], block: int = BLOCK_BYTES) -> int:
    """Bytes (rounded) of every storage of the given categories, live or not."""
    return sum(
        round_block(s.nbytes, block) for s in trace.storages.values() if s.category in categories
    )


def memory_report(
    trace: Any, *, lifetimes: str = "observed", block: int = BLOCK_BYTES
) -> dict[str, Any]:
    """Peak bytes of a trace with its parts: parameters, activations, gradients, state.

    ``block=1`` counts exact tensor bytes (no allocator rounding).
    """
    peak = simulate(intervals(trace, lifetimes), len(trace.ops), block=block)
    op = trace.ops[peak.at] if trace.ops and peak.at >= 0 else None
    report: dict[str, Any] = {
        "peak_bytes": peak.peak_bytes,
        "lifetimes": lifetimes,
        "parameter_bytes": totals(trace, ("parameter", "buffer"), block),
        "input_bytes": totals(trace, ("input",), block),
        "activation_bytes_at_peak": peak.live.get("activations", 0),
        "autocast_weight_bytes_at_peak": peak.live.get("autocast_weights", 0),
        "peak_phase": op.phase if op else None,
        "peak_stage": op.stage if op else None,
        "peak_op": op.op if op else None,
    }
    if trace.training:
        forward_end = trace.phases.get("forward", (0, 0))[1] - 1
        acts = [iv for iv in intervals(trace, lifetimes) if iv.category == "activation"]
        report.update(
            gradient_bytes=totals(trace, ("gradient",), block),
            gradient_bytes_at_peak=peak.live.get("gradients", 0),
            optimizer_state_bytes=totals(trace, ("optimizer_state",), block),
            saved_activation_bytes=_live_after(acts, forward_end, len(trace.ops), block),
            activation_peak_bytes=simulate(acts, len(trace.ops), block=block).peak_bytes,
        )
    return report


def _live_after(items: Iterable[Interval], index: int, steps: int, block: int) -> int:
    """Rounded bytes of the intervals still live after op ``index`` (kept for later ops)."""
    total = 0
    for iv in items:
        end = steps if iv.end is None else iv.end
        if iv.start <= index < end:
            total += round_block(iv.nbytes, block)
    return total
