"""A self-contained, offline Plotly dashboard of accuracy against cost, with Pareto frontiers.

The page embeds plotly.js and the data as JSON; a small script redraws with
`Plotly.react` when a selector changes (dataset, metric, cost axis, view, log scale).
Frontiers are computed here in Python (`plots.frontier`) per dataset x metric x cost x
view, so the page and the CLI tables always agree. Opening the page with `#selftest`
runs a self-check used by the browser test (see `plots/dashboard_js.py`).
"""

from __future__ import annotations

import html
import json
import math
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from stbench.bench.store.history import NOISY_REL_IQR
from stbench.plots.curves import curves_note, transition_points
from stbench.plots.dashboard_js import PAGE_TEMPLATE
from stbench.plots.data import (
    CostAxis,
    PlotData,
    dataset_label,
    dataset_order,
    macs_note,
    matmul_line,
    matmul_note,
    measured_sources,
    missing_dimensions,
    uncounted_line,
)
from stbench.plots.runs import views_text
from stbench.plots.style import OUTLINES, backbone_symbol, distinct_colors, family_group
from stbench.plots.views import VIEWS, View
from stbench.zoo.records import ORIGIN

from stbench.output import write_atomic

PAGE_WARN_MB = 50  # a dashboard larger than this is slow to open: warn before writing it


def _fmt(v: object, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _present(v: object) -> bool:
    return (
        v is not None
        and not (isinstance(v, float) and math.isnan(v))
        and str(v) not in ("", "<NA>")
    )


def _hover(row: Mapping[str, Any], axes: Sequence[CostAxis]) -> str:
    """The point's full configuration, its costs and the record's source, as hover HTML."""
    e = html.escape

    def g(col: str) -> object:
        v = row.get(col)
        return v if _present(v) else None

    lines = [f"<b>{e(str(row['model']))}</b>"]
    if g(ORIGIN):
        lines.append(f"<b>your record: {e(str(g(ORIGIN)))}</b>")
    if g("published_name"):
        lines.append(f"published as: {e(str(g('published_name')))}")
    if g("also_published_as"):
        lines.append(f"also published as: {e(str(g('also_published_as')))}")
    if g("also_sources"):
        lines.append(f"same run also in: {e(str(g('also_sources')))}")
    spec = [
        f"{k} {e(str(g(c)))}"
        for k, c in (("family", "family"), ("backbone", "backbone"), ("zoo paper", "zoo_paper"))
        if g(c) and not (c == "zoo_paper" and g("your_model"))
    ]
    if g("your_model"):
        spec.append(f"<b>your model</b> ({e(str(g('your_model')))})")
    if spec:
        lines.append(" · ".join(spec))
    if g("operators"):
        lines.append(f"operators per stage: {e(str(g('operators')))}")
    if g("temporal_pool") or g("tp_pool"):
        lines.append(f"temporal pooling: {e(str(g('temporal_pool') or g('tp_pool')))}")
    lines.append(
        f"input: {_fmt(g('frames'))} frames x {_fmt(g('size'))}² px · "
        f"{_fmt(g('num_classes'))} classes"
    )
    for a in axes:
        v = g(a.column)
        if v is not None:
            lines.append(f"{e(a.label)}: {float(v) * a.scale:.4g}")
            if a.kind == "latency":
                lines.extend(e(t) for t in latency_lines(row, a))
    if matmul_line(row):
        lines.append(f"<b>{e(matmul_line(row))}</b>")
    if uncounted_line(row):
        lines.append(f"<b>{e(uncounted_line(row))}</b>")
    lines.extend(e(t) for t in predicted_vs_measured(row, axes))
    if g("views_how"):
        lines.append(f"per video: {e(str(g('views_how')))}")
    acc = f"{g('metric')} = {float(row['value']):.2f}% on {e(dataset_label(str(g('dataset'))))}"
    if g("split"):
        acc += f" ({e(str(g('split')))})"
    lines.append(acc)
    proto = [
        f"{k} {e(views_text(row) if k == 'views' else str(g(k)))}"
        for k in ("level", "views", "pretraining", "modality", "protocol", "variant")
        if g(k) or k == "views"
    ]
    if proto:
        lines.append(" · ".join(proto))
    src = f"source: {e(str(g('source')))}"
    if g("paper"):
        src += f" [{e(str(g('paper')))}]"
    lines.append(src)
    return "<br>".join(lines)


def latency_lines(row: pd.Series, axis: CostAxis) -> list[str]:
    """Under a measured latency: what the error bar shows, whether the row is noisy (and
    why) and where the measurement comes from."""
    combo = axis.column.partition("|")[2]

    def g(col: str) -> object:
        v = row.get(f"{col}|{combo}")
        return v if _present(v) else None

    out = []
    if g("iqr") is not None:
        out.append(f"median per batch; error bar ± IQR/2 = ± {float(g('iqr')) / 2:.3g} ms")
    if str(g("noisy")) == "True":
        why = g("noisy_reason") or f"IQR/median > {NOISY_REL_IQR:g} or time cap"
        out.append(f"noisy (open marker): {why}")
    if g("source"):
        out.append(f"measured: {g('source')}")
    return out


def latency_marks(row: pd.Series, axes: Sequence[CostAxis]) -> tuple[dict, list[str]]:
    """A point's latency IQR per latency column (a predicted latency: its [low, high]
    interval) and the latency columns where it is noisy."""
    spread, noisy = {}, []
    for a in axes:
        low, high = row.get("predicted_latency_low_ms"), row.get("predicted_latency_high_ms")
        if a.kind == "predicted_latency" and _present(low) and _present(high):
            spread[a.column] = [float(low), float(high)]  # the estimate's interval
        if a.kind != "latency":
            continue
        combo = a.column.partition("|")[2]
        iqr = row.get(f"iqr|{combo}")
        if _present(iqr):
            spread[a.column] = float(iqr)
        if str(row.get(f"noisy|{combo}")) == "True":
            noisy.append(a.column)
    return spread, noisy


def predicted_vs_measured(row: pd.Series, axes: Sequence[CostAxis]) -> list[str]:
    """'measured / predicted' lines where a point has a prediction and a measurement of the
    same configuration: CUDA, batch 1, float32, on the predicted GPU."""
    from stbench.bench.predict.devices import device_for_cuda_name

    gpu = row.get("predicted_gpu")
    if not _present(gpu):
        return []
    out = []
    for a in axes:
        dev, batch, dtype, opts, name = (a.column.split("|", 1)[-1].split("|") + [""] * 5)[:5]
        batch = batch.removesuffix(".0")
        found = device_for_cuda_name(name) if a.kind in ("latency", "memory") else None
        if found is None or (dev, dtype, opts) != ("cuda", "float32", "") or batch != "1":
            continue
        if found.label.replace("NVIDIA ", "") != gpu:
            continue
        predicted = row.get(f"predicted_{'latency_ms' if a.kind == 'latency' else 'peak_mib'}")
        measured = row.get(a.column)
        if _present(predicted) and _present(measured) and float(predicted) > 0:
            what = "latency / its estimate" if a.kind == "latency" else "peak memory"
            ratio = float(measured) / float(predicted)
            out.append(f"measured / predicted {what} on {gpu}: {ratio:.2f}")
    return out


def _unmatched_note(unmatched: pd.DataFrame) -> str:
    """One sentence: how many records are not plotted, and why (counts per reason)."""
    text = f"{len(unmatched)} accuracy records matched no profile and are not plotted"
    if "unmatched_reason" in unmatched.columns:
        counts = unmatched["unmatched_reason"].fillna("unknown").value_counts()
        return text + ": " + "; ".join(f"{n} x {reason}" for reason, n in counts.items()) + "."
    models = sorted({str(m) for m in unmatched.get("model", pd.Series()).dropna() if m})
    more = " ..." if len(models) > 12 else ""
    return text + (f" (models: {', '.join(models[:12])}{more})." if models else ".")


def _jsonable(v: object) -> object:
    if v is None or (isinstance(v, float) and (math.isnan(v) or math.isinf(v))):
        return None
    if hasattr(v, "item"):
        return _jsonable(v.item())
    return v


FLOPS_LATENCY = View(
    "flops_latency",
    "FLOPs vs latency (predicted)",
    "Per model and input: GMACs per clip against the predicted latency (the device model's "
    "estimate, error bars its interval), coloured by family; the marker says what limits its "
    "roofline bound (circle: compute, square: memory traffic, diamond: kernel launches). Points above the others at equal GMACs are the designs "
    "(channel shifts, grouped or separable convolutions) whose FLOPs understate their time. "
    "Accuracy is not shown here.",
    lambda row: None,
)


def cost_views(axes: Sequence[CostAxis]) -> list[View]:
    """Views of cost against cost, where their axes exist (FLOPs vs predicted latency)."""
    kinds = {a.kind for a in axes} | {a.key for a in axes}
    return [FLOPS_LATENCY] if {"macs", "predicted_latency"} <= kinds else []


def build_payload(
    data: PlotData | pd.DataFrame,
    *,
    unmatched: pd.DataFrame | None = None,
    notes: Iterable[str] = (),
    title: str = "stbench: speed-accuracy frontiers",
    metrics: Sequence[str] = ("top1", "top5"),
    initial: Mapping[str, str] | None = None,
) -> dict:
    """Everything the page needs, as JSON-ready data, from a run's `PlotData` (or from
    joined rows, with ``unmatched``, ``notes`` and ``metrics``); ``initial`` is the
    selection the page opens on (`initial_selection`; a link's ``#...`` still wins)."""
    if not isinstance(data, PlotData):
        data = PlotData.from_joined(data, unmatched, notes, metrics)
    points, axes, members = data.points, data.axes, data.members
    curves = list(data.curves)
    families = sorted({*points["family"].unique(), *(c["family"] for c in curves)})
    backbones = sorted({*points["backbone"].unique(), *(c["backbone"] for c in curves)})
    cost_cols = sorted({a.column for a in axes})
    rows = []
    for r, m in zip(points.to_dict("records"), members, strict=True):  # plain dicts: fast
        spread, noisy = latency_marks(r, axes)
        rows.append(
            {
                "id": int(r["_id"]),
                "model": str(r["model"]),
                "family": str(r["family"]),
                "backbone": str(r["backbone"]),
                "dataset": str(r["dataset"]),
                "metric": str(r["metric"]),
                "level": str(r["level"]),
                "split": str(r["split"]),
                "pretraining": str(r.get("pretraining") or "not stated").replace(
                    "nan", "not stated"
                ),
                "modality": str(r.get("modality") or "not stated").replace("nan", "not stated"),
                "views_known": bool(pd.notna(r.get("views_factor"))),
                "views_how": str(r.get("views_how") or ""),
                "params": _jsonable(r.get("params")),
                "value": float(r["value"]),
                "frames": _jsonable(r.get("frames")),
                "size": _jsonable(r.get("size")),
                "limiter": _jsonable(r.get("predicted_limiter")),
                "intensity": _jsonable(r.get("predicted_intensity")),
                "costs": {c: _jsonable(r[c]) for c in cost_cols if not pd.isna(r[c])},
                "spread": spread,
                "noisy": noisy,
                "views": m,
                "hover": _hover(r, axes),
                "user": _jsonable(r.get(ORIGIN)) or "",
            }
        )
    datasets = dataset_order(points["dataset"].astype(str))
    metrics = {
        d: sorted(points.loc[points["dataset"] == d, "metric"].astype(str).unique())
        for d in datasets
    }
    all_notes = list(missing_dimensions(axes, measured_sources(data.joined)))
    if len(data.unmatched):
        all_notes.append(_unmatched_note(data.unmatched))
    all_notes.extend(data.notes)
    all_notes.extend(n for n in (matmul_note(points),) if n)
    all_notes.extend(user_records_note(rows))
    return {
        "title": title,
        "macs_note": macs_note(points),
        "points": rows,
        "axes": [
            {
                "key": a.key,
                "column": a.column,
                "label": a.label,
                "title": a.title,
                "scale": a.scale,
                "kind": a.kind,
                "per": a.per,
                "video": a.video,
            }
            for a in axes
        ],
        "missing_kinds": [k for k in ("latency", "memory") if k not in {a.kind for a in axes}],
        "views": [
            {"key": v.key, "label": v.label, "description": v.description}
            for v in (*VIEWS, *cost_views(axes))
        ],
        "datasets": [{"key": d, "label": dataset_label(d)} for d in datasets],
        "levels": sorted(points["level"].unique()),
        "metrics": metrics,
        "colors": distinct_colors(families),
        "groups": {f: _group(f, points) for f in families},
        "symbols": {b: backbone_symbol(b) for b in backbones},
        "outlines": OUTLINES,
        "curves": curves,
        "curve_ticks": list(transition_points()) if curves else [],
        "curves_note": curves_note(),
        "frontiers": data.frontiers,
        "notes": all_notes,
        "initial": {k: str(v) for k, v in (initial or {}).items() if v is not None},
    }


def initial_selection(
    axes: Sequence[CostAxis],
    axis: CostAxis,
    *,
    dataset: str | None = None,
    metric: str | None = None,
    level: str | None = None,
) -> dict[str, str]:
    """The page's selectors (as its ``#dataset=...&cost=...&per=...`` reads them) that show
    what a command printed: its dataset, metric, accuracy level and cost axis."""
    cost = next((a.key for a in axes if a.video == axis.key), axis.key)
    got = {"dataset": dataset, "metric": metric, "level": level, "cost": cost}
    got["per"] = "video" if axis.per == "video" else "clip"
    return {k: v for k, v in got.items() if v is not None}


def _group(family: str, points: pd.DataFrame) -> str:
    """The legend's design group of a family: 'your model' for a family only your own
    models (`register_model`) have, outside the zoo's groups."""
    group = family_group(family)
    if group == "unlisted" and "your_model" in points.columns:
        mine = points.loc[points["family"] == family, "your_model"]
        if len(mine) and (mine != "").all():
            return "your model"
    return group


def user_records_note(rows: Sequence[dict]) -> list[str]:
    """A sentence naming your --records files and how their points are drawn (none: [])."""
    files = list(dict.fromkeys(r["user"] for r in rows if r["user"]))
    if not files:
        return []
    n = sum(1 for r in rows if r["user"])
    return [
        f"Your records ({', '.join(files)}): {n} point(s), drawn with a thick black outline "
        "and named 'your record' in the hover."
    ]


def render_html(payload: dict) -> str:
    """The page: plotly.js inline, the payload as JSON, the drawing script."""
    from plotly.offline import get_plotlyjs

    data = json.dumps(payload, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    head, _, rest = PAGE_TEMPLATE.replace("__TITLE__", html.escape(payload["title"])).partition(
        "__PLOTLYJS__"
    )
    middle, _, tail = rest.partition("__DATA__")
    return "".join((head, get_plotlyjs(), middle, data, tail))  # one copy of the data


def write_dashboard(
    data: PlotData | pd.DataFrame,
    out_path: str | Path,
    *,
    unmatched: pd.DataFrame | None = None,
    notes: Iterable[str] = (),
    title: str = "stbench: speed-accuracy frontiers",
    initial: Mapping[str, str] | None = None,
) -> Path:
    """Write the self-contained HTML dashboard of a run's `PlotData` (or of joined rows),
    opening on the ``initial`` selection (`initial_selection`)."""
    out = check_dashboard_path(out_path)
    page = dashboard_page(data, unmatched=unmatched, notes=notes, title=title, initial=initial)
    return write_atomic(out, page)


def check_dashboard_path(out_path: str | Path) -> Path:
    """The dashboard's path, refused unless it names an .html file."""
    out = Path(out_path)
    if out.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"dashboard: got {str(out)!r}; allowed: an .html file")
    return out


def dashboard_page(
    data: PlotData | pd.DataFrame,
    *,
    unmatched: pd.DataFrame | None = None,
    notes: Iterable[str] = (),
    title: str = "stbench: speed-accuracy frontiers",
    initial: Mapping[str, str] | None = None,
) -> str:
    """The self-contained HTML dashboard as text (written with the output it belongs to),
    with a warning on stderr when it is too large for a browser to open comfortably."""
    payload = build_payload(data, unmatched=unmatched, notes=notes, title=title, initial=initial)
    page = render_html(payload)
    mb = len(page) / 1e6
    if mb > PAGE_WARN_MB:  # said before the write, which takes a while at this size
        print(
            f"stbench: warning: the dashboard is {mb:.0f} MB ({len(payload['points'])} "
            f"points); browsers open pages over {PAGE_WARN_MB} MB slowly or not at all: draw "
            "fewer records (e.g. one dataset or fewer runs in your --records file)",
            file=sys.stderr,
            flush=True,
        )
    return page
