"""The data pipeline behind `stbench frontier` and `stbench demo` (`compare` reads the same
store through `sources`), with the cost-axis and frontier selection they share.

Records -> the configurations they need -> the results store's rows, with static counts
it lacks counted and stored (+ the shipped reference results of any device) -> one join -> points,
cost axes and every frontier, once (`PlotData`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from stbench.plots.data import MAIN_DATASETS, CostAxis, PlotData
from stbench.plots.frontier import frontier_key
from stbench.plots.sources import Inputs

__all__ = [
    "MAIN_DATASETS",
    "PlotData",
    "collect",
    "frontier_points",
    "pick_axis",
]


DIAGNOSTIC_PROTOCOLS = ("reversed",)  # protocol words of figures that are not an accuracy


def split_diagnostic(records: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(records to draw, diagnostic records): time-reversed test clips are a probe of
    temporal modelling, not a model's accuracy, so they never join a frontier."""
    if "protocol" not in records.columns or records.empty:
        return records, records.iloc[0:0]
    text = records["protocol"].fillna("").astype(str)
    mask = text.str.contains("|".join(DIAGNOSTIC_PROTOCOLS))
    return records[~mask].reset_index(drop=True), records[mask].reset_index(drop=True)


def collect(
    *,
    store: str | Path | None = None,
    records_paths: Sequence[str | Path] | None = None,
    user_records: Sequence[str | Path] = (),
    reference: bool = True,
    quiet: bool = False,
    predict: bool = False,
    inputs: Inputs | None = None,
    gpu: str | None = None,
) -> PlotData:
    """Load records (``records_paths``, default: the shipped files; plus your own
    ``user_records``, drawn as yours), take the static counts they need from the store
    (counting and storing only the missing ones), add the shipped reference rows, join
    once, build the points and every frontier once. `predict`: add the device model's forward predictions (batch 1,
    float32, on ``gpu``: a GPU of the device table, default `sources.DEFAULT_GPU`) of the
    records' configurations as cost axes, read from the store (only those it lacks are
    predicted and stored). ``inputs``: the store and
    reference rows already read (`sources.read_inputs`); read here otherwise, once."""
    from stbench.bench.count.static import static_key
    from stbench.plots.curves import curve_configs, heavy_curves, shows_curves
    from stbench.plots.sources import (
        DEFAULT_GPU,
        join,
        read_inputs,
        record_configs,
        store_predictions,
        store_profiles,
        timed_rows,
        with_predictions,
    )
    from stbench.zoo.records import load_records
    from stbench.zoo.registry import list_models

    records = load_records(records_paths, check_zoo_names=False, user_files=user_records)
    records, diagnostic = split_diagnostic(records)
    configs = record_configs(records, names=list_models())
    if not configs:
        raise ValueError("records: no accuracy record names a registered zoo model")
    if shows_curves(c.model for c in configs):  # a view that draws the cost curves
        configs = list({static_key(c): c for c in [*configs, *curve_configs()]}.values())
    if inputs is None:
        inputs = read_inputs(store, reference=reference)
    profiles, notes = store_profiles(inputs.store, configs, quiet=quiet, rows=inputs.rows)
    if predict:
        configs_all = record_configs(records, list_models())
        predicted, problems = store_predictions(inputs.store, configs_all, gpu=gpu or DEFAULT_GPU)
        profiles = with_predictions(profiles, predicted)
        notes.extend(problems)
    if len(notes) > 10:
        notes = [*notes[:10], f"... and {len(notes) - 10} more problems"]
    parts = [profiles]
    if reference:
        notes.extend(inputs.reference_notes)
        parts.append(timed_rows(inputs.reference))
    profiles = pd.concat([p for p in parts if len(p)], ignore_index=True)
    if len(diagnostic):
        notes.append(
            f"{len(diagnostic)} record(s) measured on time-reversed test clips (a diagnostic "
            "of temporal modelling, e.g. Xie et al. Table 1) are not drawn: they are no "
            "model's accuracy"
        )
    joined, unmatched = join(profiles, records) if len(profiles) else (profiles, records)
    if len(joined) == 0:
        raise ValueError("no accuracy record joined a profile: nothing to show")
    return PlotData.from_joined(joined, unmatched, notes, curves=heavy_curves(profiles))


def pick_axis(
    axes: Sequence[CostAxis],
    cost: str,
    per: str = "clip",
    *,
    dtype: str | None = None,
    device: str | None = None,
) -> CostAxis:
    """The cost axis for `--cost` (macs|flops|params|latency|memory), per clip or (MACs and
    FLOPs) per video; a measured axis (latency, memory) at ``dtype`` and on ``device``
    (cpu, cuda) where given; ValueError if absent."""
    if per not in ("clip", "video"):
        raise ValueError(f"per: got {per!r}; allowed: clip, video")
    axis = _pick_axis(_measured_at(axes, cost, dtype, device), cost)
    if per == "video":
        twin = [a for a in axes if a.key == axis.video]
        if not twin:
            raise ValueError(
                f"per: got 'video' for the {cost} axis, which has no per-video form; "
                "allowed: video with macs, flops"
            )
        return twin[0]
    return axis


def _measured_at(
    axes: Sequence[CostAxis], cost: str, dtype: str | None, device: str | None
) -> list[CostAxis]:
    """``axes`` without the `cost` axes measured at another dtype or device than asked
    (columns `kind|device|batch|dtype|options|name`); ValueError naming what was measured."""
    if dtype is None and device is None:
        return list(axes)
    measured = [a for a in axes if a.kind == cost and a.column.count("|") == 5]
    if not measured:
        option = "--dtype" if dtype else "--device"
        raise ValueError(
            f"{option}: got {dtype or device!r} with --cost {cost}; allowed: only with a "
            "measured cost (--cost latency or memory) that has measurements"
        )
    kept = measured
    for option, want, part in (("--device", device, 1), ("--dtype", dtype, 3)):
        if want is None:
            continue
        have = sorted({a.column.split("|")[part].split(":")[0] for a in kept})
        kept = [a for a in kept if a.column.split("|")[part].split(":")[0] == want]
        if not kept:
            raise ValueError(
                f"{option}: got {want!r}; allowed: {', '.join(have)} (the {cost} measured)"
            )
    return [a for a in axes if a.kind != cost or a in kept]


def _pick_axis(axes: Sequence[CostAxis], cost: str) -> CostAxis:
    for a in axes:
        if a.key == cost:
            return a
    matches = [a for a in axes if a.kind == cost]
    if matches:
        cuda = [a for a in matches if "|cuda|1|float32" in a.column]
        return (cuda or [a for a in matches if "|1|float32|" in a.column] or matches)[0]
    raise ValueError(
        f"cost: got {cost!r}, but no {cost} measurements for any joined record "
        "(no timed rows in the results store and no shipped reference results); "
        "available: "
        + ", ".join(
            sorted({a.key.removesuffix("_video") if a.kind == "static" else a.kind for a in axes})
        )
    )


def frontier_points(
    data: PlotData,
    axis: CostAxis,
    *,
    dataset: str | None,
    metric: str,
    level: str | None = None,
) -> pd.DataFrame:
    """Frontier rows of one metric and cost axis, one frontier per (dataset, split, level)
    (one ``level`` or all), for one dataset or all of them, cheapest first; read from the
    run's frontiers, never recomputed."""
    points = data.points
    sel = points[points["metric"] == metric]
    if dataset is not None:
        sel = sel[sel["dataset"] == dataset]
        if sel.empty:
            have = sorted(points.loc[points["metric"] == metric, "dataset"].unique())
            raise ValueError(
                f"dataset: got {dataset!r}, but no {metric} record of it joined a profile; "
                f"datasets with data: {', '.join(have)}"
            )
    if sel.empty:
        raise ValueError(f"metric: got {metric!r}, but no record of it joined a profile")
    if level is not None and not (sel["level"] == level).any():
        have = ", ".join(sorted(sel["level"].unique()))
        raise ValueError(f"level: got {level!r}, but no {metric} record at it; allowed: {have}")
    groups = sel[["dataset", "split", "level"]].fillna("").astype(str).drop_duplicates()
    ids = [
        i
        for ds, sp, lev in sorted(map(tuple, groups.to_numpy()))
        if level is None or lev == level
        for i in data.frontiers.get(frontier_key(ds, sp, metric, axis.column, "all", lev), [])
    ]
    if not ids:
        raise ValueError(
            f"cost: got {axis.key!r}, but none of the selected records has a {axis.label}"
        )
    return points.set_index("_id").loc[ids].reset_index()
