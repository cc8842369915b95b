"""Sweeps: one task and how it runs (`tasks`), the driver (`driver`), local and Ray
executors (`executors`), one task in a child process (`isolate`: ``python -m
stbench.bench.sweep.isolate``), the tasks the accuracy records need (`record_tasks`) and
filling the store with the static counts it lacks (`fill`). Inside, `tasks` sits below
both `driver` and `executors`; `driver` imports `executors`, never the reverse."""

from __future__ import annotations

from stbench.lazy import lazy_package

__all__, __getattr__, __dir__ = lazy_package(
    __name__,
    {
        "tasks": "Task register_profiler",
        "fill": "count_many fill_static",
        "driver": "build_tasks run_sweep",
    },
)
