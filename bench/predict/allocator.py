"""What the CUDA caching allocator *reserves* for a traced pass: its segments, replayed.

``memory_report`` gives the peak of allocated bytes (``torch.cuda.max_memory_allocated``).
A GPU also holds the allocator's segments, of which allocated blocks are a part
(``torch.cuda.max_memory_reserved``). This module replays the storages' allocations and frees,
in trace order, through a model of the caching allocator with its documented sizes
(c10/cuda/CUDACachingAllocator.cpp, https://github.com/pytorch/pytorch/blob/main/c10/cuda/CUDACachingAllocator.cpp):
requests round up to ``kMinBlockSize`` (512 B); requests up to ``kSmallSize`` (1 MiB) come from
the small pool, in ``kSmallBuffer`` (2 MiB) segments; larger ones from the large pool, in
``kLargeBuffer`` (20 MiB) segments below ``kMinLargeAlloc`` (10 MiB), else in a segment of the
request rounded up to ``kRoundLarge`` (2 MiB). A free block is reused best-fit within its pool
and split when the rest is large enough; freed blocks merge with free neighbours; segments are
kept (cached), never returned. Not modelled: the CUDA context (outside the allocator), cuDNN and
cuBLAS workspaces (algorithm-dependent), allocations of other streams, expandable segments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MIN_BLOCK = 512
SMALL_SIZE = 1 << 20
SMALL_BUFFER = 2 << 20
LARGE_BUFFER = 20 << 20
MIN_LARGE_ALLOC = 10 << 20
ROUND_LARGE = 2 << 20


def round_size(nbytes: int) -> int:
    """A request's size as the allocator rounds it (a multiple of 512 B)."""
    return max(-(-nbytes // MIN_BLOCK), 1) * MIN_BLOCK


def segment_size(size: int) -> int:
    """The size of a new segment the allocator reserves for a rounded request ``size``."""
    if size <= SMALL_SIZE:
        return SMALL_BUFFER
    if size < MIN_LARGE_ALLOC:
        return LARGE_BUFFER
    return -(-size // ROUND_LARGE) * ROUND_LARGE


@dataclass
class _Pool:
    free: list[list[int]] = field(default_factory=list)  # [segment, offset, size]


@dataclass
class CachingAllocator:
    """A replay of the caching allocator: allocate / free by key, reserved bytes so far."""

    reserved: int = 0
    allocated: int = 0
    peak_allocated: int = 0
    segments: int = 0
    pools: dict[bool, _Pool] = field(default_factory=lambda: {True: _Pool(), False: _Pool()})
    blocks: dict[Any, tuple[bool, int, int, int]] = field(default_factory=dict)

    def malloc(self, key: Any, nbytes: int) -> None:
        """Allocate ``nbytes`` for ``key`` (best fit in its pool, else a new segment)."""
        if nbytes <= 0:
            return
        size = round_size(nbytes)
        small = size <= SMALL_SIZE
        pool = self.pools[small]
        fits = [b for b in pool.free if b[2] >= size]
        if fits:
            best = min(fits, key=lambda b: b[2])
            pool.free.remove(best)
        else:
            seg = segment_size(size)
            self.reserved += seg
            self.segments += 1
            best = [self.segments, 0, seg]
        segment, offset, have = best
        rest = have - size
        if rest >= (MIN_BLOCK if small else SMALL_SIZE + 1):
            pool.free.append([segment, offset + size, rest])
        else:
            size = have
        self.blocks[key] = (small, segment, offset, size)
        self.allocated += size
        self.peak_allocated = max(self.peak_allocated, self.allocated)

    def free(self, key: Any) -> None:
        """Free ``key``'s block; merge it with free neighbours of its segment."""
        if key not in self.blocks:
            return
        small, segment, offset, size = self.blocks.pop(key)
        self.allocated -= size
        pool = self.pools[small]
        block = [segment, offset, size]
        for other in [b for b in pool.free if b[0] == segment]:
            if other[1] + other[2] == block[1] or block[1] + block[2] == other[1]:
                pool.free.remove(other)
                block = [segment, min(block[1], other[1]), block[2] + other[2]]
        pool.free.append(block)


def reserved_report(trace: Any) -> dict[str, Any]:
    """Peak reserved bytes of a trace (segments) beside the peak of allocated blocks."""
    alloc = CachingAllocator()
    starts: dict[int, list[Any]] = {}
    ends: dict[int, list[Any]] = {}
    for s in trace.storages.values():
        if s.created < 0:
            alloc.malloc(s.sid, s.nbytes)
        else:
            starts.setdefault(s.created, []).append(s)
        if s.freed is not None:
            ends.setdefault(s.freed, []).append(s)
    for i in range(len(trace.ops)):
        for s in starts.get(i, ()):
            alloc.malloc(s.sid, s.nbytes)
        for s in ends.get(i, ()):
            alloc.free(s.sid)
    return {
        "reserved_peak_bytes": alloc.reserved,
        "allocated_peak_bytes_in_segments": alloc.peak_allocated,
        "segments": alloc.segments,
        "not_modelled": "the CUDA context (outside the allocator), cuDNN/cuBLAS workspaces",
    }
