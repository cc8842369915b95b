"""Comparison and frontier tables (rendered by `stbench.output`). Units on every column."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
from stbench.bench.count.macs_scope import (
    includes_matmul,
    matmul_models_note,
    matmul_share,
    uncounted_text,
)
from stbench.bench.store.history import NOISY_REL_IQR
from stbench.plots.data import CostAxis, dataset_label, matmul_note
from stbench.zoo.records import ORIGIN

from stbench.output import Column, Table

Profiler = Callable[[str, int, int, int], dict]


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _combo_label(row: pd.Series) -> str:
    return f"{row.get('device', '?')} b{row.get('batch', '?')} {row.get('dtype', '?')}"


def compare_rows(
    names: Sequence[str],
    *,
    frames: int | None = None,
    size: int | None = None,
    num_classes: int | None = None,
    units: str = "macs",
    store: pd.DataFrame | None = None,
    records: pd.DataFrame | None = None,
    profiler: Profiler | None = None,
    per: str = "clip",
) -> tuple[list[dict], list[str]]:
    """One row per model (params, GMACs/GFLOPs per clip, latency, memory, accuracy; with
    ``per='video'`` also the cost per video of each accuracy figure) and notes naming each
    figure's source; `delta <col>` fields hold the difference to the first. Each model runs
    at ``frames``/``size``/``num_classes`` (None: its own default), and its counts and
    measurements are those of that input. Records are picked by `plots.runs.one_per_run`,
    the rule the frontier uses."""
    from stbench.zoo.registry import get_spec

    if not names:
        raise ValueError("compare: give at least one model name")
    if units not in ("macs", "flops"):
        raise ValueError(f"units: got {units!r}; allowed: macs, flops")
    if per not in ("clip", "video"):
        raise ValueError(f"per: got {per!r}; allowed: clip, video")
    sources: list[str] = []
    if profiler is None:
        from stbench.plots.sources import static_profile as profiler
    rows: list[dict] = []
    numeric: list[str] = []

    def put(row: dict, col: str, value: float | None) -> None:
        row[col] = value
        if col not in numeric:
            numeric.append(col)

    for name in names:
        spec = get_spec(name)
        t = frames or spec.default_frames
        s = size or spec.default_size
        k = num_classes or spec.default_classes
        prof = profiler(name, t, s, k)
        row: dict[str, Any] = {
            "model": name,
            "family": spec.family,
            "backbone": spec.backbone,
            "frames": t,
            "size (px)": s,
            "classes": k,
        }
        put(row, "params (M)", prof["params"] / 1e6)
        row["_macs"] = prof["macs"]
        row["_matmul"] = (prof.get("matmul_macs"), prof.get("total_macs"))
        if uncounted := uncounted_text(prof.get("uncounted_ops")):
            row["uncounted ops"] = uncounted
        rows.append(row)
    # a model with sizeable attention among them: every model's MACs count total_macs
    total = includes_matmul(r["_matmul"] for r in rows)
    scope = " (conv+linear+matmul)" if total else ""
    for row in rows:
        if total and _num(row["_matmul"][1]) is not None:
            row["_macs"] = row["_matmul"][1]
        if units == "macs":
            put(row, f"GMACs per clip{scope}", row["_macs"] / 1e9)
        else:
            put(row, f"GFLOPs per clip (2 x MACs){scope}", 2 * row["_macs"] / 1e9)
    matmul = _matmul_cells(rows, units, total)
    for row, cells in zip(rows, matmul, strict=True):
        for col, value in cells:
            put(row, col, value)
    noisy: list[str] = []
    for row in rows:
        if store is not None and len(store):
            sub = store[
                (store["model"] == row["model"])
                & (pd.to_numeric(store["frames"]) == row["frames"])
                & (pd.to_numeric(store["size"]) == row["size (px)"])
                & (pd.to_numeric(store["num_classes"]) == row["classes"])
            ]
            for col, label in (
                ("latency_ms_median", "latency (ms)"),
                ("peak_mem_mib", "peak mem (MiB)"),
            ):
                if col not in sub.columns:
                    continue
                for _, r in sub[sub[col].notna()].iterrows():
                    put(row, f"{label} {_combo_label(r)}", float(r[col]))
                    if col == "latency_ms_median" and r.get("noisy") is True:
                        noisy.append(f"{row['model']} latency {_combo_label(r)}")
        if records is not None and len(records):
            for col, value, cost, source in _accuracy_cells(row, records, per, units):
                put(row, col, value)
                if cost is not None:
                    put(row, cost[0], cost[1])
                sources.append(f"{row['model']} {col}: {source}")
    for col in numeric:
        for row in rows:
            row.setdefault(col, None)
    first = rows[0]
    for row in rows:
        for col in numeric:
            a, b = _num(row[col]), _num(first[col])
            # rounded so that float noise (30.199999999999996) never reaches JSON/CSV
            row[f"delta {col}"] = None if a is None or b is None else round(a - b, 9)
    shares: dict[str, list[float]] = {}
    for row in rows:
        got = matmul_share(*row.pop("_matmul"))
        if got is not None:
            shares.setdefault(row["model"], []).append(got)
        row.pop("_macs", None)
    notes = [n for n in (matmul_models_note(shares, included=total),) if n]
    notes += [
        f"{r['model']}: ops not counted, no handle: {r['uncounted ops']}; their arithmetic is "
        "in no GMACs figure"
        for r in rows
        if r.get("uncounted ops")
    ]
    notes += [f"source of {s}" for s in sources]
    notes += [
        f"noisy: {n} (IQR/median > {NOISY_REL_IQR:g} or timing stopped on its time cap)"
        for n in noisy
    ]
    if not any(c.startswith("latency") for c in numeric):
        notes.append("latency/memory: no measurement in the results store at these inputs")
    if not any("(%)" in c for c in numeric):
        notes.append("accuracy: no published record at these frames and input size")
    return rows, notes


def _matmul_cells(
    rows: list[dict], units: str, total: bool = False
) -> list[list[tuple[str, float | None]]]:
    """Per row, its matmul figure and the other scope's total, when any model of the
    comparison has matmul MACs (attention, non-local blocks): with `total` the GMACs figure
    includes them, and the conv+linear figure stands beside it; else the reverse."""
    if not any(m for m, _ in (r["_matmul"] for r in rows)):
        return [[] for _ in rows]
    unit, scale = ("GMACs", 1e-9) if units == "macs" else ("GFLOPs", 2e-9)
    if total:
        return [
            [
                (f"matmul {unit} per clip (in {unit})", None if m is None else m * scale),
                (
                    f"conv+linear {unit} per clip (the papers' convention)",
                    None if t is None or m is None else (t - m) * scale,
                ),
            ]
            for m, t in (r["_matmul"] for r in rows)
        ]
    return [
        [
            (f"matmul {unit} per clip (not in {unit})", None if m is None else m * scale),
            (f"total {unit} per clip (conv+linear+matmul)", None if t is None else t * scale),
        ]
        for m, t in (r["_matmul"] for r in rows)
    ]


def _accuracy_cells(
    row: dict, records: pd.DataFrame, per: str, units: str
) -> list[tuple[str, float, tuple[str, float | None] | None, str]]:
    """(column, accuracy, (per-video cost column, value) or None, source) of each top-1/5
    record of the row's model, frames and size, one per run (`one_per_run`)."""
    from stbench.plots.runs import one_per_run, views_factor

    rec = records[
        (records["model"] == row["model"])
        & (pd.to_numeric(records["frames"]) == row["frames"])
        & (pd.to_numeric(records["input_size"]) == row["size (px)"])
        & (records["metric"].isin(("top1", "top5")))
    ]
    rec = one_per_run(rec.rename(columns={"input_size": "size"}))
    cells = []
    unit, scale = ("GMACs", 1e-9) if units == "macs" else ("GFLOPs", 2e-9)
    for r in rec.to_dict("records"):
        extra = " ".join(str(r.get(k) or "") for k in ("views", "protocol") if r.get(k))
        col = f"{r['metric']} (%) {r['dataset']} {r['level']}" + (f" {extra}" if extra else "")
        mine = _origin(r)
        col += " (your record)" if mine else ""
        if col in row:
            continue
        source = str(r.get("source", "")) + (f" (your record: {mine})" if mine else "")
        if r.get("also_sources"):
            source += f" (same run also in: {r['also_sources']})"
        cost = None
        if per == "video":
            factor, how = views_factor(r)
            value = None if factor != factor else row["_macs"] * factor * scale
            cost = (f"{unit} per video ({how}) for {col}", value)
        cells.append((col, float(r["value"]), cost, source))
    return cells


def frontier_rows(points: pd.DataFrame, axis: CostAxis) -> list[dict]:
    """Rows of a frontier table (one per frontier point), under stable keys whatever the axis:
    ``cost_axis`` (the axis' label, with its unit) and ``cost`` (in that unit)."""
    from stbench.plots.runs import views_text

    out = []
    for _, r in points.iterrows():
        out.append(
            {
                "dataset": str(r["dataset"]),
                "metric": str(r["metric"]),
                "model": str(r["model"]),
                "frames": int(r["frames"]) if _num(r.get("frames")) is not None else None,
                "size (px)": int(r["size"]) if _num(r.get("size")) is not None else None,
                "accuracy (%)": float(r["value"]),
                "split": str(r.get("split", "")),
                "level": str(r.get("level", "")),
                "views": views_text(r),
                "views factor": _num(r.get("views_factor")),
                "source": str(r.get("source", "")),
                "also sources": str(r.get("also_sources", "")),
                "your record": _origin(r),
                "cost_axis": axis.label,
                "cost": float(r[axis.column]) * axis.scale,
            }
        )
    return out


def _origin(r: Any) -> str:
    """The --records file a record comes from, '' for a shipped one."""
    v = r.get(ORIGIN)
    return "" if v is None or str(v) in ("", "nan", "None", "<NA>") else str(v)


def _model_cell(row: dict) -> str:
    """The model name, marked when the figure is your record."""
    return row["model"] + (" (yours)" if row.get("your record") else "")


def _with_delta(col: str, first: Any) -> Callable[[dict], str]:
    """Cell text of `col`, with its delta when the row is not the first model's:
    e.g. '60.00 (+27.00)'."""

    def text(row: dict) -> str:
        v, d = _num(row.get(col)), row.get(f"delta {col}")
        if v is None:
            return "-"
        delta = isinstance(d, float) and row.get("model") != first
        return f"{v:.2f}" + (f" ({d:+.2f})" if delta else "")

    return text


def compare_table(rows: list[dict], notes: Sequence[str] = (), title: str = "") -> Table:
    """The compare rows side by side (one column per model), deltas inline; CSV/JSON carry
    every field, `delta <col>` included."""
    first = rows[0].get("model") if rows else None
    cols = []
    for key in dict.fromkeys(k for r in rows for k in r):
        if key.startswith("delta "):
            continue
        numeric = any(isinstance(r.get(key), float) for r in rows)
        cols.append(Column(key, get=_with_delta(key, first)) if numeric else Column(key))
    return Table(rows, cols, title=title, notes=[f"note: {n}" for n in notes], transpose=True)


COMPARE_INPUT = ("model", "family", "backbone", "frames", "size (px)", "classes")


def compare_records(rows: list[dict], notes: Sequence[str] = (), title: str = "") -> Table:
    """The compare rows for CSV/JSON under keys that do not depend on the models, the
    store or the records: one row per (model, figure) with the model's input, ``figure``
    (the table's row label, with its unit and setting), ``value`` and ``delta`` (vs the
    first model), as `frontier` gives ``cost_axis`` and ``cost``."""
    out = [
        {
            **{k: row.get(k) for k in COMPARE_INPUT},
            "figure": key,
            "value": value,
            "delta": row.get(f"delta {key}"),
        }
        for row in rows
        for key, value in row.items()
        if key not in COMPARE_INPUT and not key.startswith("delta ")
    ]
    return Table(out, title=title, notes=[f"note: {n}" for n in notes])


def frontier_tables(front: pd.DataFrame, axis: CostAxis) -> list[Table]:
    """One frontier table per (dataset, metric): brief columns for people, every field for
    CSV/JSON."""
    header = {"cost": axis.label}
    cols = [
        Column(c, get=_model_cell)
        if c == "model"
        else Column(c, header.get(c, ""), digits=2 if c in ("cost", "accuracy (%)") else None)
        for c in brief_columns(axis)
    ]
    keys = ["dataset", "split", "metric", "level"]
    front = front.assign(split=front.get("split", "")).fillna({"split": ""})
    tables = []
    for (ds, sp, m, lev), grp in front.groupby(keys, sort=True):
        rows = frontier_rows(grp, axis)
        mine = sorted({r["your record"] for r in rows if r["your record"]})
        notes = [f"(yours): your record, from {', '.join(mine)}"] if mine else []
        if axis.column in ("macs", "macs_video"):
            notes.extend(n for n in (matmul_note(grp),) if n)
        tables.append(Table(rows, cols, title=dataset_title(ds, m, axis, sp, lev), notes=notes))
    return tables


def brief_columns(axis: CostAxis) -> list[str]:
    """The frontier columns rich shows (JSON/CSV carry every field, dataset and source too);
    ``cost`` is headed by the axis' label."""
    return ["model", "frames", "size (px)", "cost", "accuracy (%)", "views", "source"]


def dataset_title(
    dataset: str, metric: str, axis: CostAxis, split: str = "", level: str = ""
) -> str:
    """Title of one frontier table: dataset, split, accuracy level, metric and cost axis."""
    where = ", ".join(x for x in (split and f"{split} split", level and f"{level}-level") if x)
    return (
        f"Pareto frontier: {dataset_label(dataset)} ({dataset}{', ' + where if where else ''}), "
        f"{metric} (%) vs {axis.label}"
    )
