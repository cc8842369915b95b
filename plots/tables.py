"""Comparison and frontier tables: rich for people, JSON/CSV for programs. Units on every column."""

from __future__ import annotations

import csv
import json
import math
import sys
from collections.abc import Callable, Sequence
from typing import IO, Any

import pandas as pd
from stbench.plots.data import CostAxis, dataset_label

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
    units: str = "macs",
    store: pd.DataFrame | None = None,
    records: pd.DataFrame | None = None,
    profiler: Profiler | None = None,
) -> tuple[list[dict], list[str]]:
    """One row per model (params, GMACs/GFLOPs, latency, memory, accuracy) and the numeric
    columns, each named with its unit; `delta <col>` fields hold the difference to the first."""
    from stbench.zoo.registry import get_spec

    if not names:
        raise ValueError("compare: give at least one model name")
    if units not in ("macs", "flops"):
        raise ValueError(f"--units: got {units!r}; allowed: macs, flops")
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
        prof = profiler(name, t, s, spec.default_classes)
        row: dict[str, Any] = {
            "model": name,
            "family": spec.family,
            "backbone": spec.backbone,
            "frames": t,
            "size (px)": s,
            "classes": spec.default_classes,
        }
        put(row, "params (M)", prof["params"] / 1e6)
        if units == "macs":
            put(row, "GMACs", prof["macs"] / 1e9)
        else:
            put(row, "GFLOPs (2 x MACs)", 2 * prof["macs"] / 1e9)
        rows.append(row)
    for row in rows:
        if store is not None and len(store):
            sub = store[
                (store["model"] == row["model"])
                & (pd.to_numeric(store["frames"]) == row["frames"])
                & (pd.to_numeric(store["size"]) == row["size (px)"])
            ]
            for col, label in (
                ("latency_ms_median", "latency (ms)"),
                ("peak_mem_mib", "peak mem (MiB)"),
            ):
                if col not in sub.columns:
                    continue
                for _, r in sub[sub[col].notna()].iterrows():
                    put(row, f"{label} {_combo_label(r)}", float(r[col]))
        if records is not None and len(records):
            rec = records[
                (records["model"] == row["model"])
                & (pd.to_numeric(records["frames"]) == row["frames"])
                & (pd.to_numeric(records["input_size"]) == row["size (px)"])
                & (records["metric"].isin(("top1", "top5")))
            ]
            for _, r in rec.iterrows():
                col = f"{r['metric']} (%) {r['dataset']} {r['level']}"
                if col not in row:  # first record of a (metric, dataset, level) wins
                    put(row, col, float(r["value"]))
    for col in numeric:
        for row in rows:
            row.setdefault(col, None)
    first = rows[0]
    for row in rows:
        for col in numeric:
            a, b = _num(row[col]), _num(first[col])
            # rounded so that float noise (30.199999999999996) never reaches JSON/CSV
            row[f"delta {col}"] = None if a is None or b is None else round(a - b, 9)
    notes = []
    if not any(c.startswith("latency") for c in numeric):
        notes.append("latency/memory: no measurement in the results store at these inputs")
    if not any("(%)" in c for c in numeric):
        notes.append("accuracy: no published record at these frames and input size")
    return rows, notes


def frontier_rows(points: pd.DataFrame, axis: CostAxis) -> list[dict]:
    """Rows of a frontier table (one per frontier point), cost in the axis' unit."""
    out = []
    for _, r in points.iterrows():
        out.append(
            {
                "dataset": str(r["dataset"]),
                "metric": str(r["metric"]),
                "model": str(r["model"]),
                "frames": int(r["frames"]) if _num(r.get("frames")) is not None else None,
                "size (px)": int(r["size"]) if _num(r.get("size")) is not None else None,
                axis.label: float(r[axis.column]) * axis.scale,
                "accuracy (%)": float(r["value"]),
                "level": str(r.get("level", "")),
                "views": str(r.get("views", "")),
                "source": str(r.get("source", "")),
            }
        )
    return out


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return "-" if math.isnan(v) else f"{v:.2f}"
    return str(v)


def _cell(rows: list[dict], i: int, col: str, deltas: bool) -> str:
    text = _fmt(rows[i].get(col))
    d = rows[i].get(f"delta {col}")
    if deltas and i and isinstance(d, float):
        text += f" ({d:+.2f})"
    return text


def _table(rows: list[dict], cols: Sequence[str], deltas: bool) -> Any:
    from rich.table import Table

    table = Table()
    for c in cols:
        numeric = rows and isinstance(rows[0].get(c), float)
        table.add_column(c, justify="right" if numeric else "left")
    for i in range(len(rows)):
        table.add_row(*(_cell(rows, i, c, deltas) for c in cols))
    return table


def _transposed(rows: list[dict], cols: Sequence[str], deltas: bool) -> Any:
    from rich.table import Table

    table = Table()
    table.add_column(cols[0])
    for r in rows:
        table.add_column(str(r[cols[0]]), justify="right")
    for c in cols[1:]:
        table.add_row(c, *(_cell(rows, i, c, deltas) for i in range(len(rows))))
    return table


def emit(
    rows: list[dict],
    *,
    fmt: str = "table",
    title: str = "",
    columns: Sequence[str] | None = None,
    deltas: bool = False,
    transpose: bool = False,
    notes: Sequence[str] = (),
    stream: IO[str] | None = None,
) -> None:
    """Print rows as a rich table (deltas inline; `transpose`: one column per row), JSON or CSV."""
    stream = stream or sys.stdout
    cols = list(columns or (rows[0].keys() if rows else []))
    if fmt == "json":
        json.dump(rows, stream, indent=1, default=str)
        stream.write("\n")
        return
    if fmt == "csv":
        keys = list(dict.fromkeys(k for r in rows for k in r))
        w = csv.DictWriter(stream, fieldnames=keys, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
        return
    from rich.console import Console

    shown = [c for c in cols if not c.startswith("delta ")]
    table = _transposed(rows, shown, deltas) if transpose else _table(rows, shown, deltas)
    table.title, table.title_justify = title, "left"
    console = Console(file=stream, width=max(120, Console().width))
    console.print(table)
    for n in notes:
        console.print(f"[dim]note: {n}[/dim]")


def brief_columns(axis: CostAxis) -> list[str]:
    """The frontier columns rich shows (JSON/CSV carry every field, dataset and source too)."""
    return ["model", "frames", "size (px)", axis.label, "accuracy (%)", "level", "views"]


def dataset_title(dataset: str, metric: str, axis: CostAxis) -> str:
    """Title of one frontier table."""
    return f"Pareto frontier: {dataset_label(dataset)} ({dataset}), {metric} (%) vs {axis.label}"
