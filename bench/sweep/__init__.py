"""Sweeps: the task driver (`driver`), local and Ray executors (`executors`), one task in
a child process (`isolate`: ``python -m stbench.bench.sweep.isolate``) and the tasks the
accuracy records need (`record_tasks`).

Public names:
    driver: Task build_tasks register_profiler run_sweep
"""

from __future__ import annotations

from stbench.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, __doc__)
