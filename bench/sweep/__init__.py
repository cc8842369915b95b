"""Sweeps: one task and how it runs (`tasks`), the driver (`driver`), local and Ray
executors (`executors`), one task in a child process (`isolate`: ``python -m
stbench.bench.sweep.isolate``), the tasks the accuracy records need (`record_tasks`) and
filling the store with the static counts it lacks (`fill`). Inside, `tasks` sits below
both `driver` and `executors`; `driver` imports `executors`, never the reverse."""

from __future__ import annotations

from stbench.lazy import lazy_attributes

_HOMES = {
    "Task": "stbench.bench.sweep.tasks",
    "count_many": "stbench.bench.sweep.fill",
    "fill_static": "stbench.bench.sweep.fill",
    "build_tasks": "stbench.bench.sweep.driver",
    "run_sweep": "stbench.bench.sweep.driver",
}
__all__ = sorted(_HOMES)
__getattr__, __dir__ = lazy_attributes(__name__, _HOMES)
