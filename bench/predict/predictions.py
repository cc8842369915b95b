"""Predictions in the results store: a sweep that predicts every task of a pattern, and the
join of stored predictions with stored measurements of the same configuration.

A prediction's key is the measured row's key with ``device = "predicted:<gpu>"``; a
measured CUDA row (``device`` ``cuda``/``cuda:N``) names its GPU in ``device_name`` (or the
run's ``gpu_name``), which ``bench.predict.devices.device_for_cuda_name`` maps to a device-table row.
"""

from __future__ import annotations

import contextlib
import dataclasses
import statistics
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from stbench.bench.predict.devices import device_for_cuda_name
from stbench.bench.store.results import ResultsStore

MIB = 2**20
FEW = 8  # fewer configurations than this are predicted in this process (no pool start-up)


@dataclasses.dataclass
class PredictSummary:
    """What a prediction sweep did."""

    total: int = 0
    ran: int = 0
    skipped: int = 0
    failures: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    seconds: float = 0.0


def _predict_one(args: tuple[str, dict[str, Any]]) -> tuple[str, dict[str, Any] | str]:
    from stbench.bench.predict.predictor import predict

    name, opts = args
    try:
        return name, predict(name, **opts)
    except ValueError as exc:
        return name, str(exc)


def _options(task: Any, gpu: str) -> dict[str, Any]:
    return {
        "gpu": gpu,
        "batch": task.batch,
        "dtype": task.dtype,
        "frames": task.frames,
        "size": task.size,
        "num_classes": task.num_classes,
        "memory_format": layout(getattr(task, "channels_last", False)),
    }


def layout(channels_last: Any) -> str:
    """The prediction's memory format of a task's or a row's channels_last / memory_format."""
    if isinstance(channels_last, str):
        return "channels_last" if channels_last.startswith("channels_last") else "contiguous"
    return "channels_last" if channels_last else "contiguous"


def _stored_keys(store: ResultsStore, device: str) -> set[tuple[Any, ...]]:
    return {
        (
            r["model"],
            r["frames"],
            r["size"],
            r["batch"],
            r["num_classes"],
            r["dtype"],
            layout(r.get("memory_format") or ""),
        )
        for r in store.predictions(device=device, train=False, cuda_graphs=False)
        if r.get("predictor") == predictor_version()
    }


def predictor_version() -> str:
    """The `predictor` field this stbench writes (a newer torch traces anew)."""
    import torch
    from stbench.bench.predict.predictor import PREDICTOR

    return f"{PREDICTOR}, torch {torch.__version__}"


def predict_sweep(
    tasks: Sequence[Any],
    store: ResultsStore,
    gpu: str,
    *,
    jobs: int = 1,
    redo: bool = False,
    on_row: Callable[[str], None] | None = None,
) -> PredictSummary:
    """Predict every task's configuration on `gpu` (forward, no timing) into `store`.

    Configurations already predicted by this predictor are skipped unless `redo`; a model
    that cannot be traced is a failure (one line each), the others are stored as they come.
    `jobs > 1` predicts in that many processes (from `FEW` configurations on).
    """
    import time

    from stbench.bench.predict.predictor import check_request
    from stbench.zoo.plugins import carried_modules, load_modules, runs_here_only

    device = check_request(gpu, "float32", 1)
    start = time.perf_counter()
    summary = PredictSummary(total=len(tasks))
    have = set() if redo else _stored_keys(store, f"predicted:{device.name}")
    todo: list[tuple[str, dict[str, Any]]] = []
    seen: set[tuple[Any, ...]] = set()
    for t in tasks:
        key = (
            *(t.model, t.frames, t.size, t.batch, t.num_classes, t.dtype),
            layout(getattr(t, "channels_last", False)),
        )
        if key in have or key in seen:
            summary.skipped += 1
            continue
        seen.add(key)
        check_request(gpu, t.dtype, t.batch)
        todo.append((t.model, _options(t, device.name)))
    with contextlib.ExitStack() as stack:
        results: Iterable[tuple[str, dict[str, Any] | str]] = map(_predict_one, todo)
        names = {name for name, _ in todo}
        if jobs > 1 and len(todo) >= FEW and not runs_here_only(names):
            from concurrent.futures import ProcessPoolExecutor

            modules = carried_modules(names)  # each worker registers the user models it needs
            pool = stack.enter_context(
                ProcessPoolExecutor(jobs, initializer=load_modules, initargs=(modules,))
            )
            results = pool.map(_predict_one, todo, chunksize=4)
        for name, out in results:  # stored as they come: an interrupted sweep keeps them
            if isinstance(out, str):
                summary.failures.append((name, out))
                continue
            store.add_predictions([out])
            summary.ran += 1
            if on_row is not None:
                on_row(name)
    summary.seconds = time.perf_counter() - start
    return summary


# ---------------------------------------------------------------- validation


def measured_gpu(row: dict[str, Any]) -> str | None:
    """The device-table name of the GPU a measured CUDA row ran on, or None."""
    if not str(row.get("device", "")).startswith("cuda"):
        return None
    for field in ("device_name", "run_gpu_name"):
        found = device_for_cuda_name(row.get(field) or "")
        if found is not None:
            return found.name
    return None


def validation_rows(store: ResultsStore) -> tuple[list[dict[str, Any]], int, int]:
    """Measured CUDA rows joined with the stored forward prediction of the same
    configuration: (joined rows, CUDA rows measured, of those without a stored prediction).

    Each joined row carries the measured and predicted peak memory (MiB) and latency (ms),
    ``memory_error_pct`` (predicted vs measured, signed) and ``latency_ratio`` (measured /
    bound); ``bound_above_measured`` flags a lower bound that the measurement beat.
    """
    from stbench.zoo import get_spec

    measured = [r for r in store.rows(status="ok", with_run=True) if measured_gpu(r)]
    index = {
        (
            p["model"],
            p["frames"],
            p["size"],
            p["batch"],
            p["num_classes"],
            p["device"],
            p["dtype"],
            layout(p.get("memory_format") or ""),
        ): p
        for p in sorted(store.predictions(train=False, cuda_graphs=False), key=_stored_at)
    }
    out, missing = [], 0
    for m in measured:
        device = f"predicted:{measured_gpu(m)}"
        key = (
            *(m["model"], m["frames"], m["size"], m["batch"], m["num_classes"], device),
            *(m["dtype"], layout(m.get("memory_format") or "")),
        )
        p = index.get(key)
        if p is None:
            missing += 1
            continue
        row = {k: m[k] for k in ("model", "frames", "size", "batch", "dtype", "memory_format")}
        row["gpu"] = p["gpu"]
        try:
            row["family"] = get_spec(m["model"]).family
        except (KeyError, ValueError):
            row["family"] = "?"
        row["predicted_mib"] = p["peak_memory_bytes"] / MIB
        row["measured_mib"] = m.get("peak_mem_mib")
        if row["measured_mib"]:
            row["memory_error_pct"] = 100 * (row["predicted_mib"] / row["measured_mib"] - 1)
        row["bound_ms"] = p["latency_bound_ms"]
        row["measured_ms"] = m.get("latency_ms_median")
        if row["measured_ms"] and row["bound_ms"]:
            row["latency_ratio"] = row["measured_ms"] / row["bound_ms"]
            row["bound_above_measured"] = row["bound_ms"] > row["measured_ms"]
        row["estimate_ms"] = p.get("latency_ms")
        if row["measured_ms"] and row["estimate_ms"]:
            row["estimate_error_pct"] = 100 * (row["estimate_ms"] / row["measured_ms"] - 1)
        out.append(row)
    return out, len(measured), missing


def _stored_at(p: dict[str, Any]) -> str:
    return str(p.get("stored_at") or "")


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def family_errors(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per family: how many joined rows, median and worst |memory error| (%), median and
    smallest measured/bound latency ratio, and how many bounds exceed the measurement."""
    out = []
    for family in sorted({r["family"] for r in rows}):
        mine = [r for r in rows if r["family"] == family]
        mem = [abs(r["memory_error_pct"]) for r in mine if "memory_error_pct" in r]
        lat = [r["latency_ratio"] for r in mine if "latency_ratio" in r]
        est = [abs(r["estimate_error_pct"]) for r in mine if "estimate_error_pct" in r]
        out.append(
            {
                "family": family,
                "configurations": len(mine),
                "memory_n": len(mem),
                "memory_abs_error_pct_median": _median(mem),
                "memory_abs_error_pct_max": max(mem) if mem else None,
                "latency_n": len(lat),
                "latency_ratio_median": _median(lat),
                "latency_ratio_min": min(lat) if lat else None,
                "bound_above_measured": sum(bool(r.get("bound_above_measured")) for r in mine),
                "estimate_abs_error_pct_median": _median(est),
                "estimate_abs_error_pct_max": max(est) if est else None,
            }
        )
    return out
