"""Static counts of zoo configurations: the one counting function, with the store as cache.

`count_static` is where a zoo configuration's params and per-clip MACs are counted (on
the meta device, conv+linear scope): `profile` (and so `stbench profile` and `sweep`),
`reproduce`, `compare`, `frontier`, `demo` and the pytest-benchmark suites all call it.
`missing_static` finds the configurations whose counts the results store lacks, and
`fill_static` counts and stores only those, so a second `stbench frontier` counts nothing.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

from stbench.bench.config import ProfileConfig

if TYPE_CHECKING:
    import torch
    from stbench.bench.count.counting import StaticCount
    from stbench.bench.store.results import ResultsStore
    from torch import nn

COUNTER = "meta"
STATIC_KEY = ("model", "frames", "size", "num_classes")
FEW = 8  # configurations counted in this process, in a second or two, without progress
_STATIC_SETTINGS = {
    f: v for f, v in ProfileConfig("any", 1, 1).key_fields().items() if f not in STATIC_KEY
}


def build_zoo_model(
    name: str, *, frames: int, num_classes: int, device: str | torch.device = "meta"
) -> nn.Module:
    """Build a zoo model; on ``meta`` weights are not allocated or initialised."""
    import torch
    from stbench.zoo import create_model

    if torch.device(device).type != "meta":
        return create_model(name, num_classes=num_classes, frames=frames)
    try:
        with torch.device("meta"):
            return create_model(name, num_classes=num_classes, frames=frames)
    except ValueError:
        raise
    except Exception:  # a builder that cannot run on meta: build for real instead
        return create_model(name, num_classes=num_classes, frames=frames)


def build_model(cfg: ProfileConfig, *, weights: bool = False) -> nn.Module:
    """The configuration's zoo model: on meta, or on the CPU with real weights."""
    device = "cpu" if weights else "meta"
    return build_zoo_model(cfg.model, frames=cfg.frames, num_classes=cfg.num_classes, device=device)


def count_static(
    cfg: ProfileConfig,
    model: nn.Module | None = None,
    *,
    input_shape: Sequence[int] | None = None,
) -> StaticCount:
    """Params and conv+linear MACs of one clip of ``cfg``: stbench's one static count.

    The zoo model is built on meta unless ``model`` is given (any module, with real or meta
    weights, is counted on meta and left unchanged); ``input_shape`` defaults to one clip
    ``(1, 3, frames, size, size)``. Per-module MACs when ``cfg.per_module``. A user's
    model runs in the box (`zoo.usercode`); the output's class dimension must be
    ``cfg.num_classes`` when that is given.
    """
    from stbench.bench.count.counting import static_count
    from stbench.zoo.usercode import check_classes, model_code

    if model is None:
        model = build_model(cfg)
    shape = (1, 3, cfg.frames, cfg.size, cfg.size) if input_shape is None else input_shape
    with model_code(cfg.model, "forward (counting)"):
        sc = static_count(model, shape, per_module=cfg.per_module)
    check_classes(sc.output_shape, cfg.num_classes, cfg.model)
    return sc


def static_fields(sc: StaticCount) -> dict[str, Any]:
    """The static part of a profile row: params, MACs by scope, the counter and its scope."""
    row: dict[str, Any] = {
        "count_input_shape": list(sc.input_shape),
        "macs_per": "clip",
        "params": sc.params,
        "macs": sc.macs,
        "flops": sc.flops,
        "conv_macs": sc.conv_macs,
        "linear_macs": sc.linear_macs,
        "matmul_macs": sc.matmul_macs,
        "total_macs": sc.total_macs,
        "other_elements": sc.other_elements,
        "other": sc.other,
        "other_by_category": sc.other_by_category,
        "counter": sc.counter,
        "counter_version": sc.counter_version,
        "scope": sc.scope,
        "counters": {
            COUNTER: {
                "macs": sc.macs,
                "conv_macs": sc.conv_macs,
                "linear_macs": sc.linear_macs,
                "scope": sc.scope,
                "version": sc.counter_version,
            }
        },
    }
    if sc.per_module is not None:
        row["per_module"] = sc.per_module
    return row


# ---------------------------------------------------------------- the store as a cache


def static_key(row: Mapping[str, Any] | ProfileConfig) -> tuple[Any, ...]:
    """(model, frames, size, num_classes): what fixes a clip's static counts."""
    get = row.get if isinstance(row, Mapping) else lambda f: getattr(row, f)
    return tuple(get(f) for f in STATIC_KEY)


def stored_static(rows: Iterable[Mapping[str, Any]]) -> set[tuple[Any, ...]]:
    """The `static_key`s that stored rows answer: ok rows with the meta counter's params
    and MACs, whatever device, batch or dtype they were measured at (MACs are per clip)."""
    return {
        static_key(r)
        for r in rows
        if r.get("status", "ok") == "ok"
        and r.get("counter") == COUNTER
        and None not in (r.get("params"), r.get("macs"))
    }


def missing_static(
    configs: Iterable[ProfileConfig], rows: Iterable[Mapping[str, Any]]
) -> list[ProfileConfig]:
    """The static configurations of ``configs`` that ``rows`` do not answer, each once."""
    have = stored_static(rows)
    return list({static_key(c): c.static() for c in configs if static_key(c) not in have}.values())


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
