"""Sweep tasks derived from the accuracy records: the (model, frames, size, num_classes) each
record needs, so that the rows a sweep stores join the frontier (``stbench sweep
--for-records``)."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from stbench.bench.sweep.driver import Task, build_tasks


def record_inputs(
    records: Any, pattern: str | None = None, modalities: Sequence[str] = ("rgb",)
) -> list[tuple[str, int, int, int]]:
    """Distinct (model, frames, size, num_classes) of the records that name a zoo model, publish
    frames and input size and have one of `modalities` (the others cannot join a profile:
    ``join_profiles_records``), in record order; `pattern` (comma-separated shell patterns)
    keeps the matching models only."""
    import pandas as pd

    patterns = [p.strip() for p in (pattern or "").split(",") if p.strip()]
    keys: dict[tuple[str, int, int, int], None] = {}
    for row in records.itertuples(index=False):
        model = row.model
        if not model or pd.isna(row.frames) or pd.isna(row.input_size):
            continue
        if getattr(row, "modality", "rgb") not in modalities:
            continue
        if patterns and not any(fnmatch.fnmatchcase(model, p) for p in patterns):
            continue
        keys[(model, int(row.frames), int(row.input_size), int(row.num_classes))] = None
    return list(keys)


def record_tasks(
    records: Any,
    pattern: str | None = None,
    batches: Sequence[int] = (1,),
    **options: Any,
) -> list[Task]:
    """One task per record input (`record_inputs`) and batch; `options` as `build_tasks`'s
    (device, dtype, time, memory, ...), validated the same way."""
    tasks: list[Task] = []
    for model, frames, size, classes in record_inputs(records, pattern):
        tasks += build_tasks(model, [frames], [size], batches, num_classes=classes, **options)
    if not tasks:
        what = f" matching {pattern!r}" if pattern else ""
        raise ValueError(
            f"records: no record{what} names a zoo model with its frames and input size; "
            "allowed: records with model, frames and input_size filled in"
        )
    return tasks


def load_for_records(paths: Iterable[str | Path] | None = None) -> Any:
    """The accuracy records of `paths` (default: the shipped files) for `record_tasks`."""
    from stbench.zoo.records import load_records

    paths = list(paths or [])
    return load_records(paths or None)
