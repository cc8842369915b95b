"""The data pipeline behind `stbench frontier` and `stbench demo`.

Records -> the inputs they need -> static profiles on the `meta` device (+ timed rows from
the results store and the shipped reference GPU results) -> join -> points and cost axes.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from stbench.plots.data import MAIN_DATASETS, CostAxis, build_points
from stbench.plots.frontier import pareto_frontier

__all__ = [
    "MAIN_DATASETS",
    "Collected",
    "check_writable",
    "collect",
    "frontier_points",
    "pick_axis",
]


@dataclass
class Collected:
    """Everything the dashboard and the tables need."""

    joined: pd.DataFrame
    unmatched: pd.DataFrame
    points: pd.DataFrame
    axes: list[CostAxis]
    notes: list[str] = field(default_factory=list)


def check_writable(path: str | Path) -> Path:
    """Fail early (before profiling) when the output file cannot be written."""
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"--out: {str(p)!r} is a directory; give an .html file path")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=p.parent, prefix=".stbench-write-test-"):
            pass
        if p.exists() and not os.access(p, os.W_OK):
            raise PermissionError(13, "permission denied")
    except OSError as exc:
        raise ValueError(f"--out: cannot write {str(p)!r}: {exc.strerror or exc}") from None
    return p


def _progress(total: int, quiet: bool):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[bold]profiling the zoo on the meta device"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=quiet,
        transient=False,
    )


def collect(
    *,
    store: str | Path | None = None,
    records_paths: Sequence[str | Path] | None = None,
    reference: bool = True,
    quiet: bool = False,
) -> Collected:
    """Load records, profile the zoo at their inputs, add timed rows, join, build points."""
    from stbench.plots.sources import (
        join,
        load_reference,
        load_store,
        profile_inputs,
        record_inputs,
        timed_rows,
    )
    from stbench.zoo.records import load_records
    from stbench.zoo.registry import list_models

    notes: list[str] = []
    records = load_records(records_paths, check_zoo_names=False)
    inputs = record_inputs(records, names=list_models())
    if not inputs:
        raise ValueError("records: no accuracy record names a registered zoo model")
    with _progress(len(inputs), quiet) as bar:
        task = bar.add_task("", total=len(inputs))

        def done(key: tuple) -> None:
            bar.update(task, advance=1, description=f"{key[0]} {key[1]}x{key[2]}²")

        static, failures = profile_inputs(inputs, on_done=done)
    for f in failures[:10]:
        notes.append(f"profile failed: {f}")
    if len(failures) > 10:
        notes.append(f"... and {len(failures) - 10} more failed profiles")
    timed = [timed_rows(load_store(store))]
    if reference:
        ref, ref_notes = load_reference()
        notes.extend(ref_notes)
        timed.append(timed_rows(ref))
    parts = [static] + [t for t in timed if len(t)]
    profiles = pd.concat(parts, ignore_index=True) if parts else static
    joined, unmatched = join(profiles, records)
    if len(joined) == 0:
        raise ValueError("no accuracy record joined a profile: nothing to show")
    points, axes = build_points(joined)
    points = points[points["metric"].isin(("top1", "top5"))].reset_index(drop=True)
    return Collected(joined, unmatched, points, axes, notes)


def pick_axis(axes: Sequence[CostAxis], cost: str) -> CostAxis:
    """The cost axis for `--cost` (macs|flops|params|latency|memory); ValueError if absent."""
    for a in axes:
        if a.key == cost:
            return a
    matches = [a for a in axes if a.kind == cost]
    if matches:
        preferred = [a for a in matches if "|cuda|1|float32" in a.column]
        return (preferred or matches)[0]
    raise ValueError(
        f"--cost {cost}: no {cost} measurements for any joined record "
        "(no timed rows in the results store and no shipped reference GPU results); "
        f"available: {', '.join(sorted({a.key if a.kind == 'static' else a.kind for a in axes}))}"
    )


def frontier_points(
    points: pd.DataFrame, axis: CostAxis, *, dataset: str | None, metric: str
) -> pd.DataFrame:
    """Frontier rows of one metric and cost axis, for one dataset or all of them."""
    sel = points[points["metric"] == metric]
    if dataset is not None:
        sel = sel[sel["dataset"] == dataset]
        if sel.empty:
            have = sorted(points.loc[points["metric"] == metric, "dataset"].unique())
            raise ValueError(
                f"--dataset {dataset}: no {metric} record of this dataset joined a profile; "
                f"datasets with data: {', '.join(have)}"
            )
    if sel.empty:
        raise ValueError(f"--metric {metric}: no record with this metric joined a profile")
    f = pareto_frontier(sel, axis.column, "value", by=["dataset", "metric"], label="model")
    if f.points.empty:
        raise ValueError(f"--cost {axis.key}: none of the selected records has a {axis.label}")
    return f.frontier
