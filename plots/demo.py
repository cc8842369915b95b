"""`stbench demo`'s own work on the shared pipeline (`plots.pipeline`): every frontier of
every cost axis and metric as rows (its `frontiers.csv`), and the datasets it prints."""

from __future__ import annotations

from stbench.plots.data import MAIN_DATASETS, PlotData
from stbench.plots.pipeline import frontier_points


def all_frontiers(data: PlotData) -> list[dict]:
    """Every frontier of every cost axis and metric, one row per point, cost in its unit."""
    from stbench.plots.tables import frontier_rows

    rows = []
    for ax in data.axes:
        for metric in ("top1", "top5"):
            try:
                front = frontier_points(data, ax, dataset=None, metric=metric)
            except ValueError:
                continue
            rows.extend(frontier_rows(front, ax))
    return rows


def demo_datasets(data: PlotData) -> tuple[list[str], list[str]]:
    """(datasets with top-1 points, the main ones first; main datasets without any)."""
    have = set(data.points.loc[data.points["metric"] == "top1", "dataset"])
    shown = [d for d in MAIN_DATASETS if d in have] + sorted(have - set(MAIN_DATASETS))
    return shown, [d for d in MAIN_DATASETS if d not in have]
