"""Pareto frontiers of accuracy against a cost (MACs, latency, memory, params).

A point is on the frontier when no other point is at least as cheap and strictly more
accurate, nor strictly cheaper and as accurate. Costs within rounding of each other
(`COST_RTOL`, below the 4 significant digits the tables print: xie_s3d and xie_s3d_g, 68.18
GMACs each, 0.0012 apart) are one cost. Exact duplicates (same cost, same
accuracy) do not dominate each other, so all of them stay on the frontier; the output
order is fixed by (cost, -accuracy, label) so that ties never depend on input order.
Rows whose cost or accuracy is missing are excluded and reported, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

COST_RTOL = 1e-4  # costs closer than this, relative to the larger, are one cost


def pareto_mask(cost: Sequence[float], acc: Sequence[float], rtol: float = COST_RTOL) -> np.ndarray:
    """Boolean mask of the non-dominated points (lower cost, higher accuracy is better);
    costs within ``rtol`` of the cheapest of a run of close costs count as that one cost."""
    c = np.asarray(cost, dtype=float)
    a = np.asarray(acc, dtype=float)
    if c.shape != a.shape:
        raise ValueError(f"cost and accuracy lengths differ: {c.shape} vs {a.shape}")
    if np.isnan(c).any() or np.isnan(a).any():
        raise ValueError("pareto_mask: cost and accuracy must not contain NaN")
    mask = np.zeros(len(c), dtype=bool)
    order = np.lexsort((-a, c))  # by cost ascending, then accuracy descending
    best_cheaper = -np.inf  # best accuracy among strictly cheaper points
    i = 0
    while i < len(order):
        j = i
        while j < len(order) and c[order[j]] - c[order[i]] <= rtol * abs(c[order[j]]):
            j += 1
        group = order[i:j]
        top = a[group].max()
        if top > best_cheaper:
            mask[group[a[group] == top]] = True
        best_cheaper = max(best_cheaper, top)
        i = j
    return mask


@dataclass
class Frontier:
    """Frontier of one group: all valid points (with `on_frontier`) and excluded rows."""

    points: pd.DataFrame
    excluded: pd.DataFrame

    @property
    def frontier(self) -> pd.DataFrame:
        """Only the frontier rows, cheapest first."""
        return self.points[self.points["on_frontier"]]


def pareto_frontier(
    df: pd.DataFrame,
    cost: str,
    acc: str,
    *,
    by: Sequence[str] = (),
    label: str | None = "model",
) -> Frontier:
    """Frontier of `acc` (higher is better) against `cost` (lower is better), per `by` group.

    Returns every row with a finite cost and accuracy, sorted by (group, cost, -acc, label),
    with a boolean `on_frontier` column, plus the excluded rows with an `excluded_reason`.
    """
    for col in (cost, acc, *by):
        if col not in df.columns:
            raise ValueError(f"column {col!r} not in the data; columns: {list(df.columns)}")
    work = df.copy()
    c = pd.to_numeric(work[cost], errors="coerce")
    a = pd.to_numeric(work[acc], errors="coerce")
    bad_cost = ~np.isfinite(c.to_numpy(dtype=float))
    bad_acc = ~np.isfinite(a.to_numpy(dtype=float))
    bad = bad_cost | bad_acc
    excluded = work[bad].copy()
    reasons = np.where(
        bad_cost[bad] & bad_acc[bad],
        f"no {cost} and no {acc}",
        np.where(bad_cost[bad], f"no {cost}", f"no {acc}"),
    )
    excluded["excluded_reason"] = reasons
    valid = work[~bad].copy()
    valid[cost] = c[~bad].astype(float)
    valid[acc] = a[~bad].astype(float)
    sort_cols = [*by, cost, acc] + ([label] if label and label in valid.columns else [])
    ascending = [True] * len(by) + [True, False] + ([True] if len(sort_cols) > len(by) + 2 else [])
    valid = valid.sort_values(sort_cols, ascending=ascending, kind="mergesort")
    valid["on_frontier"] = False
    if len(valid):
        if by:
            for _, idx in valid.groupby(list(by), sort=True, dropna=False).indices.items():
                sub = valid.iloc[idx]
                m = pareto_mask(sub[cost].to_numpy(), sub[acc].to_numpy())
                valid.iloc[idx, valid.columns.get_loc("on_frontier")] = m
        else:
            valid["on_frontier"] = pareto_mask(valid[cost].to_numpy(), valid[acc].to_numpy())
    return Frontier(points=valid.reset_index(drop=True), excluded=excluded.reset_index(drop=True))


def step_line(cost: Sequence[float], acc: Sequence[float]) -> tuple[list[float], list[float]]:
    """x/y of the frontier as a staircase: accuracy holds until the next frontier point."""
    pts = sorted(zip(cost, acc, strict=True), key=lambda p: (p[0], -p[1]))
    xs: list[float] = []
    ys: list[float] = []
    for k, (x, y) in enumerate(pts):
        if k:
            xs.append(x)
            ys.append(ys[-1])
        xs.append(x)
        ys.append(y)
    return xs, ys


def frontier_ids(
    points: pd.DataFrame,
    columns: Sequence[str],
    subsets: Mapping[str, Sequence[int]],
    *,
    protocol: Sequence[str] = ("split", "level"),
) -> dict[str, list[int]]:
    """Every frontier, once: the ``_id``s on the frontier of each
    ``'dataset|split|metric|cost column|subset|level'`` (see `frontier_key`), in
    `pareto_frontier`'s order (cost, then accuracy descending, then ``label``), where a
    subset is a list of point positions. A frontier never mixes splits or accuracy levels.
    Rows without the cost or the accuracy are left out, as `pareto_frontier` leaves them out."""
    dataset = points["dataset"].astype(str).to_numpy()
    metric = points["metric"].astype(str).to_numpy()
    split, levels = (
        points[c].fillna("").astype(str).to_numpy() if c in points.columns else [""] * len(points)
        for c in protocol
    )
    labels = points["label"].astype(str).to_numpy()
    ids = points["_id"].to_numpy()
    acc = pd.to_numeric(points["value"], errors="coerce").to_numpy(dtype=float)
    out: dict[str, list[int]] = {}
    for col in columns:
        cost = pd.to_numeric(points[col], errors="coerce").to_numpy(dtype=float)
        valid = np.isfinite(cost) & np.isfinite(acc)
        for name, positions in subsets.items():
            groups: dict[tuple[str, str, str, str], list[int]] = {}
            for i in positions:
                if valid[i]:
                    groups.setdefault((dataset[i], split[i], metric[i], levels[i]), []).append(i)
            for (ds, sp, met, lev), members in sorted(groups.items()):
                idx = np.asarray(members)
                on = idx[pareto_mask(cost[idx], acc[idx])]
                on = sorted(on, key=lambda i: (cost[i], -acc[i], labels[i]))
                out[frontier_key(ds, sp, met, col, name, lev)] = [int(ids[i]) for i in on]
    return out


def frontier_key(dataset: str, split: str, metric: str, column: str, view: str, level: str) -> str:
    """The key of one frontier in `frontier_ids`' result."""
    return "|".join((dataset, split, metric, column, view, level))
