"""Pareto frontier on hand-made points: ties, duplicates, single point, missing costs."""

import numpy as np
import pandas as pd
import pytest
from stbench.plots.frontier import pareto_frontier, pareto_mask, step_line


def _df(points):
    return pd.DataFrame(points, columns=["model", "macs", "top1"])


def _front(df, **kw):
    return list(pareto_frontier(df, "macs", "top1", **kw).frontier["model"])


def test_simple_staircase():
    df = _df([("a", 1, 50), ("b", 2, 60), ("c", 3, 55), ("d", 4, 70), ("e", 0.5, 40)])
    assert _front(df) == ["e", "a", "b", "d"]


def test_single_point_is_the_frontier():
    assert _front(_df([("only", 3.0, 10.0)])) == ["only"]


def test_equal_cost_keeps_only_the_more_accurate():
    # b is as cheap as a and strictly more accurate: a is dominated.
    assert _front(_df([("a", 2, 50), ("b", 2, 60)])) == ["b"]


def test_equal_accuracy_keeps_only_the_cheaper():
    # a is strictly cheaper and as accurate: b is dominated.
    assert _front(_df([("a", 1, 60), ("b", 2, 60)])) == ["a"]


def test_exact_duplicates_both_stay_in_label_order_whatever_the_input_order():
    pts = [("z", 1, 60), ("y", 1, 60), ("x", 2, 50)]
    assert _front(_df(pts)) == ["y", "z"]
    assert _front(_df(pts[::-1])) == ["y", "z"]


def test_dominated_by_a_duplicate_pair():
    assert _front(_df([("a", 1, 60), ("b", 1, 60), ("c", 1.5, 60), ("d", 1, 59)])) == ["a", "b"]


def test_nan_costs_are_excluded_and_reported():
    df = _df([("a", 1, 50), ("b", np.nan, 90), ("c", 2, np.nan), ("d", 3, 70)])
    f = pareto_frontier(df, "macs", "top1")
    assert list(f.frontier["model"]) == ["a", "d"]
    assert list(f.excluded["model"]) == ["b", "c"]
    assert list(f.excluded["excluded_reason"]) == ["no macs", "no top1"]
    # the NaN-cost point is the most accurate, yet it must not appear on the frontier
    assert "b" not in set(f.points["model"])


def test_per_group_frontiers():
    df = pd.DataFrame(
        {
            "model": ["a", "b", "a", "b"],
            "dataset": ["k400", "k400", "ssv2", "ssv2"],
            "macs": [1, 2, 1, 2],
            "top1": [70, 60, 40, 50],
        }
    )
    f = pareto_frontier(df, "macs", "top1", by=["dataset"])
    got = f.frontier.groupby("dataset")["model"].apply(list).to_dict()
    assert got == {"k400": ["a"], "ssv2": ["a", "b"]}


def test_missing_column_is_a_clear_error():
    with pytest.raises(ValueError, match="column 'latency' not in the data"):
        pareto_frontier(_df([("a", 1, 1)]), "latency", "top1")


def test_mask_matches_brute_force_on_random_points():
    rng = np.random.default_rng(0)
    c = rng.integers(0, 6, 200).astype(float)
    a = rng.integers(0, 6, 200).astype(float)
    m = pareto_mask(c, a)
    for i in range(len(c)):
        dominated = np.any(((c <= c[i]) & (a > a[i])) | ((c < c[i]) & (a >= a[i])))
        assert m[i] == (not dominated)


def test_step_line_is_a_staircase():
    xs, ys = step_line([3, 1, 2], [70, 50, 60])
    assert xs == [1, 2, 2, 3, 3]
    assert ys == [50, 50, 60, 60, 70]


def test_costs_within_rounding_are_one_cost():
    # xie_s3d and xie_s3d_g: 68.18 GMACs each, 0.0012 GMACs apart; S3D-G is more accurate
    assert list(pareto_mask([68.1800e9, 68.1812e9], [74.0, 75.0])) == [False, True]
    assert list(pareto_mask([68.18e9, 68.25e9], [74.0, 75.0])) == [True, True]  # 0.1% apart
    assert list(pareto_mask([1.0, 1.00005, 1.0001], [1.0, 1.0, 1.0])) == [True, True, True]
