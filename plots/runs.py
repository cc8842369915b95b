"""Which records are one run, and how many views a record's accuracy cost.

One run, one point: records that agree on every field of `RUN_KEY` and whose values agree
to the printed precision of the less precise one (Chen et al.'s 65.4 and the IBM table's
65.4378; the IBM table's two copies) are one configuration. `one_per_run` keeps the most
precise figure (most decimals; on a tie, the first in load order, so the IBM table's first
copy) and lists the others' sources in ``also_sources``. `frontier`, the dashboard and
`compare` all pick records through it.

Per-video cost: a record's test protocol says how many clips x crops its accuracy
averages (`views`), so per-video cost = per-clip cost x views. "All frames" protocols (one
pass over the whole video, Xie et al.) scale by video frames / clip frames where the paper
states the video length. Records whose views are not stated get no per-video cost: they
are marked (``views_how``), never guessed.
"""

from __future__ import annotations

import bisect
import math
import re

import pandas as pd

RUN_KEY = (
    "model",
    "frames",
    "size",
    "dataset",
    "split",
    "metric",
    "level",
    "views",
    "pretraining",
    "modality",
    "protocol",
    "tp_pool",
    "record_origin",  # your own record is never folded into a published one
)
# Frames each video is padded to under Xie et al.'s all-frames evaluation (Sec. 3.2-3.3,
# papers/001_108aa75c7b5a30b7.txt): 250 on Mini-Kinetics-200, 64 on Something-something.
ALL_FRAMES_VIDEO = {"mini_kinetics_200": 250, "ssv1": 64, "ssv2": 64}
_VIEWS = re.compile(r"^\s*(\d+)\s*x\s*(\d+)\s*$")


def _text(v: object) -> str:
    return "" if v is None or str(v) in ("nan", "None", "<NA>") else str(v)


def views_factor(row: dict) -> tuple[float, str]:
    """(per-video / per-clip cost, how it was found); NaN with the reason when unknown."""
    views, protocol = _text(row.get("views")), _text(row.get("protocol"))
    if "all_frames" in protocol:
        video = ALL_FRAMES_VIDEO.get(_text(row.get("dataset")))
        try:
            frames = float(row.get("frames"))
        except (TypeError, ValueError):
            frames = math.nan
        if video is None or not frames > 0:
            return math.nan, "all frames of each video; video length not stated: no per-video cost"
        return video / frames, f"all frames: video {video} frames / clip {frames:g} frames"
    m = _VIEWS.match(views)
    if not m:
        return math.nan, "views not stated: no per-video cost"
    clips, crops = int(m.group(1)), int(m.group(2))
    return float(clips * crops), f"{clips} clips x {crops} crops"


def views_text(row: dict) -> str:
    """A record's test views in words, the one answer the tables and the dashboard give:
    'CxK' (clips x crops), 'all frames' (one pass over each whole video, Xie et al.; its
    ``views`` cell is no clip count) or 'not stated'."""
    if "all_frames" in _text(row.get("protocol")):
        return "all frames"
    m = _VIEWS.match(_text(row.get("views")))
    return f"{m.group(1)}x{m.group(2)}" if m else "not stated"


def _decimals(v: object) -> int:
    text = f"{float(v):.6f}".rstrip("0")
    return len(text.split(".")[1]) if "." in text else 0


def _same_value(a: float, b: float, digits: int) -> bool:
    return abs(round(a, digits) - round(b, digits)) < 10 ** (-digits) / 2 + 1e-9


_FOLDED = ("source", "paper", "published_name")  # what a folded record contributes


def _source(row: dict | pd.Series) -> str:
    src = _text(row.get("source"))
    paper = _text(row.get("paper"))
    return f"{src} [{paper}]" if paper and paper not in src else src


class _Runs:
    """The runs of one configuration, in the order they began. A run's first (most precise)
    value is filed by its decimals in a list sorted by value, so a record is compared only
    with the runs whose first value could round to its own, in the order a plain scan over
    every run would compare them (the same runs, in near-linear time)."""

    def __init__(self, vals: dict, digits: dict) -> None:
        self.vals, self.digits = vals, digits
        self.runs: list[list] = []  # each: [index labels], first = the kept one
        self.filed: dict[int, list[tuple[float, int]]] = {}  # decimals -> (value, run number)

    def add(self, i: object) -> None:
        """File record `i` under the first run whose value it matches, else a new run."""
        v, d = self.vals[i], self.digits[i]
        if not math.isfinite(v):  # NaN and infinities round equal to nothing
            self.runs.append([i])
            return
        found = []
        for dj, filed in self.filed.items():
            # equal at m decimals means at most 1.5 * 10^-m apart: a wider window misses none
            width = 2 * 10.0 ** -min(d, dj) + 1e-6
            lo = bisect.bisect_left(filed, (v - width, -1))
            hi = bisect.bisect_right(filed, (v + width, math.inf))
            found.extend(n for _, n in filed[lo:hi])
        for n in sorted(found):
            run = self.runs[n]
            j = run[0]
            if _same_value(v, self.vals[j], min(d, self.digits[j])):
                if d > self.digits[j]:  # the more precise figure becomes the run's first
                    filed = self.filed[self.digits[j]]
                    del filed[bisect.bisect_left(filed, (self.vals[j], n))]
                    bisect.insort(self.filed.setdefault(d, []), (v, n))
                    run.insert(0, i)
                else:
                    run.append(i)
                return
        bisect.insort(self.filed.setdefault(d, []), (v, len(self.runs)))
        self.runs.append([i])


def one_per_run(df: pd.DataFrame, value: str = "value") -> pd.DataFrame:
    """One row per run (see the module docstring), in input order, with ``also_sources``
    (the other records' sources, "; "-joined) and ``also_published_as``."""
    if df.empty:
        return df.assign(also_sources="", also_published_as="")
    key = [c for c in RUN_KEY if c in df.columns]
    cells = (df[c].astype(str).tolist() for c in key)
    joined = ["|".join(t) for t in zip(*cells, strict=True)] if key else [""] * len(df)
    keys = pd.Series(joined, index=df.index, dtype=object)
    keep: list = []
    also: dict = {}
    names: dict = {}
    vals = dict(zip(df.index, df[value].astype(float), strict=True))
    digits = {i: _decimals(v) for i, v in vals.items()}
    text = {c: dict(zip(df.index, df[c], strict=True)) for c in _FOLDED if c in df.columns}
    for _, idx in df.groupby(keys, sort=False).groups.items():
        config = _Runs(vals, digits)
        for i in idx:
            config.add(i)
        for run in config.runs:
            keep.append(run[0])
            others = [{c: t[i] for c, t in text.items()} for i in run[1:]]
            also[run[0]] = "; ".join(dict.fromkeys(_source(r) for r in others))
            pub = [_text(r.get("published_name")) for r in others]
            own = _text(df.at[run[0], "published_name"]) if "published_name" in df else ""
            names[run[0]] = "; ".join(dict.fromkeys(p for p in pub if p and p != own))
    out = df.loc[sorted(keep, key=df.index.get_loc)].copy()
    out["also_sources"] = [also[i] for i in out.index]
    out["also_published_as"] = [names[i] for i in out.index]
    return out
