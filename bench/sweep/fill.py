"""Filling the results store with the static counts it lacks: `count_many` counts many
configurations (in worker processes when there are many) through the one profile
pipeline, `fill_static` stores each row as it completes. `bench.count.static.missing_static`
says which configurations to count.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

from stbench.bench.config import ProfileConfig
from stbench.bench.count.static import FEW

if TYPE_CHECKING:
    from stbench.bench.store.results import ResultsStore


def _static_row(cfg: ProfileConfig) -> tuple[ProfileConfig, dict[str, Any] | None, str | None]:
    """(cfg, its static profile row, None), or (cfg, None, the one-line error)."""
    from stbench.bench.measure.profiler import run_profile

    try:
        return cfg, run_profile(cfg), None
    except Exception as exc:  # one model's failure is reported, never the end of the run
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return cfg, None, f"{type(exc).__name__}: {first}"


def count_many(
    configs: Sequence[ProfileConfig], *, workers: int | None = None
) -> Iterator[tuple[ProfileConfig, dict[str, Any] | None, str | None]]:
    """Static profile rows of many configurations, in worker processes when there are many;
    yields ``(cfg, row or None, error or None)`` as each completes."""
    from stbench.zoo.plugins import carried_modules, load_modules, runs_here_only

    workers = min(os.cpu_count() or 1, 4) if workers is None else workers
    names = {c.model for c in configs}
    if workers <= 1 or len(configs) <= FEW or runs_here_only(names):
        yield from map(_static_row, configs)
        return
    ctx = multiprocessing.get_context("spawn")
    modules = carried_modules(names)  # each worker registers the user models it counts
    with ProcessPoolExecutor(
        workers, mp_context=ctx, initializer=load_modules, initargs=(modules,)
    ) as pool:
        yield from pool.map(_static_row, configs, chunksize=4)


def fill_static(
    configs: Sequence[ProfileConfig],
    store: ResultsStore | None,
    *,
    on_done: Callable[[ProfileConfig], None] | None = None,
    workers: int | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Count ``configs`` (see `missing_static`), adding each row to ``store`` as it completes;
    returns the rows and a one-line message per configuration that failed (not stored: a
    bad input is not a measurement, and it is tried again next time)."""
    run_id = None
    if store is not None and configs:
        from stbench.bench.environment import collect_environment

        run_id = store.start_run(collect_environment(), {"static_counts": len(configs)})
    rows: list[dict[str, Any]] = []
    failures: list[str] = []
    for cfg, row, error in count_many(configs, workers=workers):
        if row is None:
            where = f"{cfg.model} @ {cfg.frames}x{cfg.size}² ({cfg.num_classes} classes)"
            failures.append(f"{where}: {error}")
        else:
            rows.append(row)
            if store is not None:
                store.add_row(row, run_id=run_id)
        if on_done:
            on_done(cfg)
    return rows, failures
