"""The dashboard's views: which points each paper's comparison shows and how they connect.

Each view selects points by model name and puts some of them on named series (a line
through the series' points, ordered by a key), e.g. Xie et al. Fig. 4's top-heavy and
bottom-heavy curves, or one model's 8 -> 64 frames scaling.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

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


_XIE = re.compile(r"^xie_(top|bottom)_heavy_(i3d|s3d)_(.+)$")


def _xie(row: Row) -> tuple[str, float] | None:
    name = str(row["model"])
    m = _XIE.match(name)
    if m:
        return (f"{m.group(1).capitalize()}-heavy {m.group(2).upper()}", float("nan"))
    if name.startswith("xie_"):
        return ("", 0.0)
    return None


_TRAN = re.compile(r"^(r2d|f_r2d|r3d|mc[2-5]|rmc[2-5]|r2plus1d)_(resnet\d+)$")


def _tran(row: Row) -> tuple[str, float] | None:
    if _TRAN.match(str(row["model"])) or row.get("zoo_paper") == "tran2018":
        return ("", 0.0)
    return None


_GST = {"gst_a1_8": 1 / 8, "gst_a1_4": 1 / 4, "gst_a1_2": 1 / 2}


def _gst(row: Row) -> tuple[str, float] | None:
    name = str(row["model"])
    for prefix, alpha in _GST.items():
        if name.startswith(prefix + "_"):
            bb = name[len(prefix) + 1 :]
            return (f"GST beta=1/2, alpha sweep ({bb}, {row.get('frames')} frames)", alpha)
    if name.startswith("gst_large_"):
        return ("", 0.0)
    if row.get("zoo_paper") == "luo2019" or re.match(r"^(c2d|c3d|c3d_g2|p3d)_resnet", name):
        return ("", 0.0)
    return None


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
    base = name[: -len("_tp")] if name.endswith("_tp") else name
    if not (name.endswith("_tp") or row.get("_has_tp_twin", False)):
        return None
    return (f"{base} @ {row.get('frames')} frames", 1.0 if name.endswith("_tp") else 0.0)


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
    names = set(points["model"].astype(str))
    twin = points["model"].astype(str).map(lambda n: f"{n}_tp" in names)
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
