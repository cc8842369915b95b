"""Turn joined profile x record rows into plot points: one row per record, costs as columns.

The joined frame (from `bench.join.join_profiles_records`) has one row per (record,
profile); static profiles carry `macs`/`params`, timed ones `latency_ms_median` and
`peak_mem_mib` at a (device, batch, dtype). Here every record becomes one point with a
column per cost axis, e.g. `macs`, `params`, `latency|cuda|1|float32||<GPU name>`,
`latency|cpu|1|bfloat16||AMD EPYC, 1 thread`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from stbench.bench.count.macs_scope import (
    PAPERS_SCOPE,
    TOTAL_SCOPE,
    includes_matmul,
    matmul_models_note,
    matmul_share,
    uncounted_text,
)
from stbench.plots.frontier import frontier_ids
from stbench.plots.runs import one_per_run, views_factor
from stbench.plots.views import VIEWS, assign_views
from stbench.zoo.records import COLUMNS as RECORD_COLUMNS
from stbench.zoo.records import DETAIL_COLUMNS, ORIGIN

# A record's columns in the joined frame (input_size is renamed size there), the dataset's
# class count and where the record comes from (file:line; your --records file or '').
RECORD_KEYS = (
    *("size" if c == "input_size" else c for c in RECORD_COLUMNS if c not in DETAIL_COLUMNS),
    "num_classes",
    "file",
    "line",
    ORIGIN,
)
DATASET_LABELS = {
    "kinetics400": "Kinetics-400",
    "kinetics-400": "Kinetics-400",
    "k400": "Kinetics-400",
    "mini_kinetics": "Mini-Kinetics",
    "mini-kinetics": "Mini-Kinetics",
    "mini_kinetics_200": "Mini-Kinetics-200 (Xie et al.)",
    "ssv1": "Something-Something V1",
    "something_something_v1": "Something-Something V1",
    "ssv2": "Something-Something V2",
    "something_something_v2": "Something-Something V2",
    "mini_ssv2": "Mini-SSV2",
    "mini_mit": "Mini-Moments",
    "mit": "Moments in Time",
    "ucf101": "UCF-101",
    "hmdb51": "HMDB-51",
    "sports1m": "Sports-1M",
}
# Shown first in selectors and in the demo, in this order.
MAIN_DATASETS = ("kinetics400", "mini_kinetics", "ssv1", "ssv2", "mini_ssv2")
# Counts beside `macs` that say what it leaves out (`bench.count.macs_scope`).
MATMUL_COLUMNS = ("matmul_macs", "total_macs")
MACS_NOTE = "1 MAC = 1 multiply-add, conv + linear layers; FLOPs = 2 x MACs"
MACS_TOTAL_NOTE = (
    "1 MAC = 1 multiply-add, conv + linear layers + attention matmuls (total_macs, as fvcore "
    "counts transformers); FLOPs = 2 x MACs"
)
# Set on points whose MACs count total_macs: their conv+linear MACs, kept beside.
CONV_LINEAR_COLUMN = "macs_conv_linear"


def counts_matmul(points: pd.DataFrame) -> bool:
    """True when the points' MACs count total_macs (a model with attention is among them)."""
    return CONV_LINEAR_COLUMN in points.columns


def macs_note(points: pd.DataFrame) -> str:
    """What one MAC of the points' MACs axes counts."""
    return MACS_TOTAL_NOTE if counts_matmul(points) else MACS_NOTE


VIEWS_NOTE = "x views = clips x crops of the record's test protocol"


@dataclass(frozen=True)
class CostAxis:
    """One selectable x axis: the point column, its label and its axis title (with units);
    ``per`` says what one unit of cost covers (clip, video, batch, model) and ``video`` names
    the per-video twin of a per-clip axis."""

    key: str
    column: str
    label: str
    title: str
    scale: float = 1.0
    kind: str = "static"
    per: str = "clip"
    video: str = ""


def static_axes(base: pd.DataFrame) -> list[CostAxis]:
    """MACs and FLOPs per clip and per video, params: the static cost axes with data; the
    MACs axes count total_macs, and say so, when the points have attention among them."""
    axes: list[CostAxis] = []
    total = counts_matmul(base)
    scope = " (conv+linear+matmul)" if total else ""
    if "macs" in base.columns and base["macs"].notna().any():
        for key, unit, scale, how in (
            ("macs", "GMACs", 1e-9, macs_note(base)),
            ("flops", "GFLOPs", 2e-9, "= 2 x GMACs" + (f"; {TOTAL_SCOPE}" if total else "")),
        ):
            axes.append(
                CostAxis(
                    key,
                    "macs",
                    f"{unit} per clip{scope}",
                    f"{unit} per clip{scope} ({how})",
                    scale,
                    video=f"{key}_video",
                )
            )
            axes.append(
                CostAxis(
                    f"{key}_video",
                    "macs_video",
                    f"{unit} per video{scope}",
                    f"{unit} per video{scope} (per clip {VIEWS_NOTE}; {how})",
                    scale,
                    per="video",
                )
            )
    if "params" in base.columns and base["params"].notna().any():
        axes.append(
            CostAxis("params", "params", "Params (M)", "Parameters (millions)", 1e-6, per="model")
        )
    return axes


def dataset_label(name: str) -> str:
    """Human-readable dataset name (falls back to the records' first alias, then the id)."""
    key = str(name).lower()
    if key in DATASET_LABELS:
        return DATASET_LABELS[key]
    try:
        from stbench.zoo.records import DATASETS

        if key in DATASETS and DATASETS[key].aliases:
            return DATASETS[key].aliases[0]
    except ImportError:
        pass
    return str(name)


def dataset_order(names: Iterable[str]) -> list[str]:
    """The main datasets first (in MAIN_DATASETS order), then the rest by label."""
    names = list(dict.fromkeys(str(n) for n in names))
    main = [d for d in MAIN_DATASETS if d in names]
    return main + sorted((d for d in names if d not in main), key=dataset_label)


def _normalise(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    if "size" not in out.columns and "input_size" in out.columns:
        out["size"] = out["input_size"]
    if "value" not in out.columns and "accuracy" in out.columns:
        out["value"] = out["accuracy"]
    for col in ("dataset", "metric", "model"):
        if col not in out.columns:
            raise ValueError(f"joined data lacks the {col!r} column; columns: {list(out.columns)}")
    return out


def _spec_columns(models: pd.Series) -> pd.DataFrame:
    """Family, paper, backbone, operators and temporal pooling of each zoo model; for a
    model of your own (`register_model`), ``your_model`` says so with its source."""
    rows = {}
    for name in models.dropna().unique():
        try:
            from stbench.zoo.registry import PAPERS, citation, get_spec

            s = get_spec(str(name))
            mine = s.paper not in PAPERS
            rows[name] = {
                "your_model": f"source {s.paper}: {citation(s.paper)}" if mine else "",
                "family": s.family,
                "paper": s.paper,
                "backbone": s.backbone,
                "operators": "/".join(s.operators),
                "temporal_pool": s.temporal_pool or "",
            }
        except (ValueError, ImportError):
            rows[name] = {}
    return pd.DataFrame.from_dict(rows, orient="index")


def _text(v: object) -> str:
    return "" if v is None or str(v) in ("nan", "None", "<NA>") else str(v)


def _device_name(row: pd.Series) -> str:
    """The measuring device in words: the GPU's name, or the CPU model and its threads."""
    if _text(row.get("device")).startswith("cuda"):
        return _text(row.get("run_gpu_name")) or _text(row.get("gpu_name"))
    name = _text(row.get("device_name")) or _text(row.get("run_cpu_model"))
    threads = _text(row.get("threads")) or _text(row.get("run_threads"))
    threads = threads.removesuffix(".0")
    if name and threads:
        name += f", {threads} thread{'' if threads == '1' else 's'}"
    return name.replace("|", "/")


def _combo(row: pd.Series) -> str:
    """Measurement setting of a timed row: device|batch|dtype|options|device name."""
    parts = [_text(row.get(k)).removesuffix(".0") or "?" for k in ("device", "batch", "dtype")]
    opts = []
    if _text(row.get("memory_format")) not in ("", "contiguous"):
        opts.append(_text(row.get("memory_format")))
    if _text(row.get("compile")) not in ("", "0", "False", "0.0"):
        opts.append("compiled")
    return "|".join([*parts, "+".join(opts), _device_name(row)])


# The cells `_combo` and `_provenance` read: a timed row's setting, repeated on every record
# it joins, so each is worked out once per distinct setting (`_per_setting`).
_COMBO_CELLS = (
    *("device", "batch", "dtype", "memory_format", "compile", "run_gpu_name", "gpu_name"),
    *("device_name", "run_cpu_model", "threads", "run_threads"),
)
_PROVENANCE_CELLS = ("origin", "run_torch_version", "run_git_commit", "run_started_at", "stored_at")


def _per_setting(df: pd.DataFrame, fn: Callable[[dict], str], cells: Sequence[str]) -> pd.Series:
    """``fn`` of each row of ``df`` (as ``df.apply(fn, axis=1)``), called once per distinct
    combination of the ``cells`` it reads, not once per row."""
    cols = [c for c in cells if c in df.columns]
    rows = zip(*(df[c].tolist() for c in cols), strict=True) if cols else [()] * len(df)
    memo: dict[tuple, str] = {}
    out = []
    for row in rows:
        got = memo.get(row)
        if got is None:
            got = memo[row] = fn(dict(zip(cols, row, strict=True)))
        out.append(got)
    return pd.Series(out, index=df.index)


def _where(combo: str) -> str:
    """'AMD EPYC, 1 thread, float32, batch 1' (the device's name where known)."""
    dev, batch, dtype, opts, name = combo.split("|")
    if name:
        dev = f"{dev} ({name})" if dev.startswith("cuda") else name
    text = f"{dev}, {dtype}, batch {batch}"
    return text + (f", {opts.replace('+', ', ')}" if opts else "")


def _truthy(v: object) -> bool:
    return v is True or str(v).strip().lower() in ("true", "1", "1.0")


def _provenance(row: pd.Series) -> str:
    """Where a timed row comes from: file or store, torch, commit, date."""
    parts = [_text(row.get("origin"))]
    if _text(row.get("run_torch_version")):
        parts.append(f"torch {_text(row.get('run_torch_version'))}")
    if _text(row.get("run_git_commit")):
        parts.append(f"commit {_text(row.get('run_git_commit'))[:10]}")
    when = _text(row.get("run_started_at")) or _text(row.get("stored_at"))
    if when:
        parts.append(when[:10])
    return ", ".join(p for p in parts if p)


def latency_details(sub: pd.DataFrame, combo: str, base: pd.DataFrame) -> None:
    """Point columns beside one latency axis: its IQR (``iqr|combo``), noisy flag and reason
    (``noisy|combo``, ``noisy_reason|combo``) and where the measurement comes from
    (``source|combo``), of the first timed row of each record."""
    first = sub.drop_duplicates("_rid").set_index("_rid")  # the row whose median is drawn
    if "latency_ms_iqr" in first.columns:
        base[f"iqr|{combo}"] = pd.to_numeric(first["latency_ms_iqr"], errors="coerce")
    if "noisy" in first.columns:
        noisy = first["noisy"].map(_truthy)
        reason = first["noisy_reason"].map(_text) if "noisy_reason" in first else ""
        base[f"noisy|{combo}"] = noisy
        base[f"noisy_reason|{combo}"] = pd.Series(reason, index=first.index).where(noisy, "")
    base[f"source|{combo}"] = _per_setting(first, _provenance, _PROVENANCE_CELLS)


def build_points(joined: pd.DataFrame) -> tuple[pd.DataFrame, list[CostAxis]]:
    """One row per record with spec info and one column per available cost axis."""
    df = _normalise(joined)
    keys = [k for k in RECORD_KEYS if k in df.columns]
    df["_rid"] = df.groupby(keys, dropna=False, sort=False).ngroup()
    base = df.drop_duplicates("_rid").set_index("_rid")[keys].copy()
    for col in ("macs", "params", *MATMUL_COLUMNS):
        if col in df.columns:
            sub = df[df[col].notna()]
            if "batch" in sub.columns:  # per-clip figures: prefer batch-1 rows
                sub = sub.assign(_b1=sub["batch"] != 1).sort_values("_b1", kind="stable")
            got = sub.groupby("_rid")[col].first()
            base[col] = got.astype(float)
    if "total_macs" in base.columns and "macs" in base.columns:
        matmul = base["matmul_macs"] if "matmul_macs" in base.columns else base["total_macs"] * 0
        if includes_matmul(zip(matmul, base["total_macs"], strict=True)):
            # a model with sizeable attention is compared: every point's MACs count total_macs
            # (equal to macs for models without matmul), the axes' titles say so
            base[CONV_LINEAR_COLUMN] = base["macs"]
            base["macs"] = base["total_macs"].where(base["total_macs"].notna(), base["macs"])
    if "uncounted_ops" in df.columns:  # ops no handle counts: text, for the hover
        text = df.assign(_u=df["uncounted_ops"].map(uncounted_text)).dropna(subset=["_u"])
        base["uncounted_ops"] = text.groupby("_rid")["_u"].first()
    cells = [c for c in ("views", "protocol", "dataset", "frames") if c in base.columns]
    rows = zip(*(base[c].tolist() for c in cells), strict=True) if cells else [()] * len(base)
    factors = [views_factor(dict(zip(cells, row, strict=True))) for row in rows]
    base["views_factor"] = [f for f, _ in factors]
    base["views_how"] = [h for _, h in factors]
    if "macs" in base.columns:
        base["macs_video"] = base["macs"] * base["views_factor"]
    axes = static_axes(base)
    timed = [
        ("latency", "latency_ms_median", "Latency (ms)", "Median latency per batch (ms)"),
        ("memory", "peak_mem_mib", "Peak memory (MiB)", "Peak memory (MiB)"),
    ]
    for kind, col, label, title in timed:
        if col not in df.columns:
            continue
        sub = df[pd.to_numeric(df[col], errors="coerce").notna()]
        if sub.empty:
            continue
        combos = _per_setting(sub, _combo, _COMBO_CELLS)
        for combo in sorted(combos.unique()):
            got = sub[combos == combo].groupby("_rid")[col].first().astype(float)
            column = f"{kind}|{combo}"
            base[column] = got
            if kind == "latency":
                latency_details(sub[combos == combo], combo, base)
            where = _where(combo)
            axes.append(
                CostAxis(
                    column,
                    column,
                    f"{label}, {where}",
                    f"{title}, {where}",
                    kind=kind,
                    per="batch",
                )
            )
    axes.extend(predicted_axes(df, base))
    spec = _spec_columns(base["model"])
    for col, to in (("paper", "zoo_paper"), ("your_model", "your_model")):
        got = base["model"].map(spec[col]) if col in spec.columns else None
        base[to] = "" if got is None else got.fillna("").astype(str)
    for col in ("family", "backbone", "operators", "temporal_pool"):
        given = df.groupby("_rid")[col].first() if col in df.columns else None
        from_spec = base["model"].map(spec[col]) if col in spec.columns else None
        if given is not None and from_spec is not None:
            base[col] = given.where(given.notna() & (given != ""), from_spec)
        elif given is not None:
            base[col] = given
        elif from_spec is not None:
            base[col] = from_spec
        else:
            base[col] = ""
        base[col] = base[col].fillna("").astype(str)
    base["value"] = pd.to_numeric(base["value"], errors="coerce")
    base = base[np.isfinite(base["value"].to_numpy(dtype=float))]
    return one_per_run(base.reset_index(drop=True)).reset_index(drop=True), axes


PREDICTED_AXES = (
    # (key = column of the points, label, title)
    (
        "predicted_latency_ms",
        "Latency (ms), predicted, {gpu}, {validation}",
        "Latency per clip (ms), predicted for {gpu} at batch 1, float32, eager PyTorch, the "
        "model's own class count: the device model's estimate (stbench predict; {validation}, "
        "leave one GPU out), error bars its interval; not a measurement",
    ),
    (
        "predicted_peak_mib",
        "Peak memory (MiB), predicted peak, {gpu}",
        "Peak memory per clip (MiB), predicted peak for {gpu} at batch 1, float32, the "
        "model's own class count (tensor lifetimes; stbench predict), not a measurement",
    ),
)


def predicted_axes(df: pd.DataFrame, base: pd.DataFrame) -> list[CostAxis]:
    """The device model's cost axes (predicted latency estimate, predicted peak) where the
    joined rows carry them (`plots.sources.with_predictions`); fills their point columns."""
    if "predicted_gpu" not in df.columns or df["predicted_gpu"].isna().all():
        return []
    gpu = str(df["predicted_gpu"].dropna().iloc[0])
    axes = []
    from stbench.bench.predict.estimate import validation_label

    extra = ("predicted_latency_low_ms", "predicted_latency_high_ms", "predicted_latency_bound_ms")
    for col in ("predicted_intensity", "predicted_limiter", "predicted_gpu", *extra):
        if col in df.columns:
            base[col] = df.groupby("_rid")[col].first()
    for col, label, title in PREDICTED_AXES:
        got = pd.to_numeric(df[col], errors="coerce") if col in df.columns else None
        if got is None or got.isna().all():
            continue
        base[col] = got.groupby(df["_rid"]).first().astype(float)
        kind = "predicted_" + ("latency" if "latency" in col else "memory")
        text = {"gpu": gpu, "validation": validation_label()}
        axes.append(CostAxis(col, col, label.format(**text), title.format(**text), kind=kind))
    return axes


MEASURED_KINDS = {"latency": "latency_ms_median", "memory": "peak_mem_mib"}


def _source_name(origin: str) -> str:
    """'the results store (PATH)' or 'the shipped reference results (FILE)' of an origin."""
    kind, _, where = origin.partition(":")
    return {
        "store": f"the results store ({where})",
        "reference": f"the shipped reference results ({where})",
    }.get(kind, origin)


def measured_sources(joined: pd.DataFrame | None) -> dict[str, set[str]]:
    """Each source of the joined rows (``origin``) and the measured kinds (latency, memory)
    its rows bring."""
    if joined is None or "origin" not in joined.columns:
        return {}
    out: dict[str, set[str]] = {}
    for origin, rows in joined.groupby(joined["origin"].fillna("").astype(str)):
        if origin:
            out[origin] = {
                k
                for k, col in MEASURED_KINDS.items()
                if col in rows.columns and pd.to_numeric(rows[col], errors="coerce").notna().any()
            }
    return out


def missing_dimensions(
    axes: list[CostAxis], sources: dict[str, set[str]] | None = None
) -> list[str]:
    """Sentences naming each cost dimension with no measurement at all, and what the sources
    the records joined (`measured_sources`) do hold."""
    kinds = {a.kind for a in axes} | {a.key for a in axes}
    notes = []
    missing = [
        name
        for kind, name in (("latency", "latency"), ("memory", "peak memory"))
        if kind not in kinds
    ]
    if missing:
        held = [
            _source_name(o) + (f": {' and '.join(sorted(k))} only" if k else ": static counts only")
            for o, k in sorted((sources or {}).items())
        ]
        notes.append(
            f"No {' or '.join(missing)} measurements for any record's input"
            + "".join(f"; {h}" for h in held)
            + "; add some with `stbench sweep ... --time --memory` (on a GPU: also "
            "`--device cuda`)."
        )
    if "macs" not in kinds:
        notes.append("MACs: no static profile joined any record (run `stbench profile`).")
    if "params" not in kinds:
        notes.append("Params: no static profile joined any record (run `stbench profile`).")
    return notes


def matmul_note(points: pd.DataFrame) -> str | None:
    """The note naming each model of ``points`` with flagged matmul MACs, which the GMACs
    axis includes or leaves out (`bench.count.macs_scope`), None when there is none."""
    if not set(MATMUL_COLUMNS) <= set(points.columns):
        return None
    shares: dict[str, set[float]] = {}
    for model, m, t in points[["model", *MATMUL_COLUMNS]].itertuples(index=False):
        got = matmul_share(m, t)
        if got is not None:
            shares.setdefault(str(model), set()).add(got)
    return matmul_models_note(shares, included=counts_matmul(points))


def uncounted_line(row: pd.Series | dict) -> str | None:
    """'ops not counted (no handle): ...' of a point whose count missed ops, else None."""
    text = row.get("uncounted_ops")
    if not isinstance(text, str) or not text:
        return None
    return f"ops not counted (no handle): {text}; their arithmetic is in no GMACs figure"


def matmul_line(row: pd.Series | dict) -> str | None:
    """'matmul GMACs per clip: ...' of a point whose matmul MACs are flagged, else None."""
    m, t = row.get("matmul_macs"), row.get("total_macs")
    got = matmul_share(m, t)
    if got is None:
        return None
    where = (
        "included in the GMACs axis, which counts conv+linear+matmul"
        if CONV_LINEAR_COLUMN in row and row.get(CONV_LINEAR_COLUMN) == row.get(CONV_LINEAR_COLUMN)
        else f"not in the GMACs axis, which counts {PAPERS_SCOPE}"
    )
    return (
        f"matmul GMACs per clip: {float(m) / 1e9:.4g} ({100 * got:.1f}% of "
        f"conv+linear+matmul {float(t) / 1e9:.4g}; {where})"
    )


@dataclass
class PlotData:
    """Everything the dashboard and the tables show, computed once per run: the join, the
    points (with ``_id``, ``label`` and ``level``), the cost axes, each point's views and
    every frontier (`plots.frontier.frontier_ids` keys)."""

    joined: pd.DataFrame
    unmatched: pd.DataFrame
    points: pd.DataFrame
    axes: list[CostAxis]
    notes: list[str] = field(default_factory=list)
    curves: list[dict] = field(default_factory=list)
    members: list[dict[str, list]] = field(init=False)
    frontiers: dict[str, list[int]] = field(init=False)

    def __post_init__(self) -> None:
        pts = self.points.reset_index(drop=True)
        pts["_id"] = range(len(pts))
        pts["label"] = pts["model"].astype(str)
        level = pts["level"] if "level" in pts.columns else pd.Series("", index=pts.index)
        pts["level"] = level.fillna("").replace("", "unspecified").astype(str)
        pts["split"] = pts["split"].fillna("").astype(str) if "split" in pts else ""
        self.points = pts
        self.members = assign_views(pts)
        subsets = {v.key: [i for i, m in enumerate(self.members) if v.key in m] for v in VIEWS}
        columns = sorted({a.column for a in self.axes})
        self.frontiers = frontier_ids(pts, columns, subsets)

    @classmethod
    def from_joined(
        cls,
        joined: pd.DataFrame,
        unmatched: pd.DataFrame | None = None,
        notes: Iterable[str] = (),
        metrics: Sequence[str] = ("top1", "top5"),
        curves: Sequence[dict] = (),
    ) -> PlotData:
        """Points and axes of the joined rows (``metrics`` only); ValueError if none."""
        if joined is None or len(joined) == 0:
            raise ValueError(
                "dashboard: nothing to plot: no accuracy record joined a profile "
                "(check the records' models, frames and input sizes against the profiles)"
            )
        points, axes = build_points(joined)
        points = points[points["metric"].isin(metrics)]
        if points.empty:
            raise ValueError("dashboard: nothing to plot: every joined row lacks an accuracy value")
        if not axes:
            raise ValueError("dashboard: nothing to plot: no cost (MACs, params, latency, memory)")
        unmatched = pd.DataFrame() if unmatched is None else unmatched
        return cls(joined, unmatched, points, axes, list(notes), list(curves))
