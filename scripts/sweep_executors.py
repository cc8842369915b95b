"""Time one static sweep with the local executor and with a local Ray, in one run.

Each executor sweeps the same tasks into its own fresh store (the Ray time includes
starting Ray on this machine); prints both times, their ratio, and whether the stored
rows agree. Usage: python scripts/sweep_executors.py [PATTERN] (default: the whole zoo).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from stbench.bench.store.results import ResultsStore
from stbench.bench.sweep.driver import build_tasks, run_sweep
from stbench.bench.sweep.executors import RayExecutor

BOOKKEEPING = ("stored_at", "provenance", "run_id")


def timed_sweep(tasks: list, path: Path, executor: RayExecutor | None) -> tuple[float, list]:
    """Seconds one sweep of `tasks` into a new store at `path` took, and its rows."""
    start = time.perf_counter()
    try:
        with ResultsStore(path) as db:
            s = run_sweep(tasks=tasks, store=db, isolate=None, progress=False, executor=executor)
            rows = [{k: v for k, v in r.items() if k not in BOOKKEEPING} for r in db.rows()]
    finally:
        if executor is not None:
            executor.close()
    if s.failed:
        raise SystemExit(f"sweep_executors: {s.failed} task(s) failed")
    return time.perf_counter() - start, rows


def main(pattern: str = "*") -> int:
    """Print local and Ray times, the ratio and whether the rows agree."""
    tasks = build_tasks(pattern)
    with tempfile.TemporaryDirectory() as tmp:
        local_s, local_rows = timed_sweep(tasks, Path(tmp) / "local.sqlite", None)
        ray_s, ray_rows = timed_sweep(tasks, Path(tmp) / "ray.sqlite", RayExecutor())
    print(f"{len(tasks)} static tasks ({pattern!r}): local {local_s:.1f} s, ray {ray_s:.1f} s")
    print(f"ray / local = {ray_s / local_s:.2f}; same rows: {ray_rows == local_rows}")
    return 0 if ray_rows == local_rows else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
