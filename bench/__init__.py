"""Counting, timing, memory, predictions, sweeps and the results store.

``from stbench.bench import profile`` gives the profiling function (defined in
``stbench.bench.profiler``). It is loaded on first use, so that the store and the other
light modules here import without torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["profile"]


def __getattr__(name: str) -> Any:
    """Load `profile` on first access."""
    if name == "profile":
        from stbench.bench.profiler import profile

        globals()["profile"] = profile
        return profile
    raise AttributeError(f"module 'stbench.bench' has no attribute {name!r}")
