"""Sweeps: the task driver (`driver`), local and Ray executors (`executors`), one task in
a child process (`isolate`: ``python -m stbench.bench.sweep.isolate``) and the tasks the
accuracy records need (`record_tasks`)."""

from __future__ import annotations

from stbench.lazy import lazy_attributes

_HOMES = {
    "Task": "stbench.bench.sweep.driver",
    "build_tasks": "stbench.bench.sweep.driver",
    "register_profiler": "stbench.bench.sweep.driver",
    "run_sweep": "stbench.bench.sweep.driver",
}
__all__ = sorted(_HOMES)
__getattr__, __dir__ = lazy_attributes(__name__, _HOMES)
