"""The dashboard's views: which points each paper's comparison shows and how they connect.

Each view selects points by their zoo spec's fields (the views its spec row names, family,
GST alpha/beta, the transition point, temporal pooling) and puts some of them on named series (a line through
the series' points, ordered by a key), e.g. Xie et al. Fig. 4's top-heavy and bottom-heavy
curves, or one model's 8 -> 64 frames scaling. Points of models outside the zoo fall back to
their `zoo_paper` column (the views that paper's specs name).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from stbench.zoo.registry import ModelSpec

# One point: its columns by name.
Row = Mapping[str, Any]
# (series name, order key) for a point of a view, or None when the point is not in the view.
Member = Callable[[Row], "tuple[str, float] | None"]


@dataclass(frozen=True)
class View:
    """One comparison view: a key, a label for the selector, a one-line description."""

    key: str
    label: str
    description: str
    member: Member


def _all(row: Row) -> tuple[str, float] | None:
    return ("", 0.0)


@functools.cache
def _spec(name: str) -> ModelSpec | None:
    from stbench.zoo.registry import get_spec

    try:
        return get_spec(name)
    except ValueError:
        return None


@functools.cache
def _paper_views() -> dict[str, tuple[str, ...]]:
    """Each zoo paper's views, as its specs tag them (for points of models outside the zoo)."""
    from stbench.zoo.registry import list_specs

    return {s.paper: s.views for s in list_specs() if s.views}


def _views(row: Row) -> tuple[str, ...]:
    spec = _spec(str(row["model"]))
    if spec is not None:
        return spec.views
    return _paper_views().get(str(row.get("zoo_paper") or ""), ())


def _xie(row: Row) -> tuple[str, float] | None:
    if "xie" not in _views(row):
        return None
    spec = _spec(str(row["model"]))
    if spec is not None and spec.transition:  # top-/bottom-heavy: one curve per family
        return (spec.family, float("nan"))
    return ("", 0.0)


def _tran(row: Row) -> tuple[str, float] | None:
    return ("", 0.0) if "tran" in _views(row) else None


def _gst(row: Row) -> tuple[str, float] | None:
    if "gst" not in _views(row):
        return None
    spec = _spec(str(row["model"]))
    if spec is not None and spec.gst_alpha is not None and spec.gst_beta == 0.5:
        series = f"GST beta=1/2, alpha sweep ({spec.backbone}, {row.get('frames')} frames)"
        return (series, float(spec.gst_alpha))
    return ("", 0.0)


def _design(spec: ModelSpec) -> tuple:
    """What a model is apart from its temporal pooling."""
    return (spec.paper, spec.family, spec.backbone, spec.stem, spec.operators)


@functools.cache
def _unpooled_twins() -> dict[tuple, str]:
    from stbench.zoo.registry import list_specs

    return {_design(s): s.name for s in list_specs() if s.temporal_pool is None}


def _pooled_twin_of(name: str) -> str | None:
    """The model that `name` is with temporal pooling added, if `name` is one."""
    spec = _spec(name)
    if spec is None or spec.temporal_pool is None:
        return None
    return _unpooled_twins().get(_design(spec))


def _frames(row: Row) -> tuple[str, float] | None:
    try:
        frames = float(row.get("frames"))
    except (TypeError, ValueError):
        return None
    if math.isnan(frames) or not row.get("_multi_frames", False):
        return None
    return (str(row["model"]), frames)


def _tp(row: Row) -> tuple[str, float] | None:
    name = str(row["model"])
    base = _pooled_twin_of(name)
    if base is not None:
        return (f"{base} @ {row.get('frames')} frames", 1.0)
    if row.get("_has_tp_twin", False):
        return (f"{name} @ {row.get('frames')} frames", 0.0)
    return None


VIEWS: tuple[View, ...] = (
    View("all", "All models", "Every record of the dataset and metric; frontier in black.", _all),
    View(
        "xie",
        "Xie et al.: top-/bottom-heavy (Fig. 4)",
        "Top-heavy and bottom-heavy I3D/S3D at each transition point, with I3D, I2D, S3D.",
        _xie,
    ),
    View(
        "tran",
        "Tran et al.: R2D, MCx, rMCx, R3D, R(2+1)D",
        "The Tran et al. variants: 2D, mixed, reversed-mixed, full 3D and (2+1)D.",
        _tran,
    ),
    View(
        "gst",
        "Luo & Yuille: GST alpha sweep",
        "GST with alpha = 1/8, 1/4, 1/2 (beta = 1/2) joined by a line, with C2D, C3D, P3D, GST-Large.",
        _gst,
    ),
    View(
        "frames",
        "Frames scaling 8 -> 64",
        "Each model's records at different clip lengths, joined in frame order.",
        _frames,
    ),
    View(
        "tp",
        "Temporal pooling on/off",
        "Each model with and without temporal pooling (`_tp`) at the same frames, joined.",
        _tp,
    ),
)


def assign_views(points: pd.DataFrame) -> list[dict[str, list]]:
    """Per point: {view key: [series name, order]} for every view that contains it."""
    pooled = {_pooled_twin_of(n) for n in set(points["model"].astype(str))}
    twin = points["model"].astype(str).map(lambda n: n in pooled)
    if "frames" in points.columns:
        multi = points.groupby(points["model"].astype(str))["frames"].nunique()
        multi_names = set(multi[multi > 1].index)
    else:
        multi_names = set()
    out: list[dict[str, list]] = []
    for row, has_twin in zip(points.to_dict("records"), twin, strict=True):
        row["_has_tp_twin"] = bool(has_twin)
        row["_multi_frames"] = str(row["model"]) in multi_names
        member: dict[str, list] = {}
        for view in VIEWS:
            got = view.member(row)
            if got is not None:
                member[view.key] = [got[0], None if pd.isna(got[1]) else got[1]]
        out.append(member)
    return out
