"""A large records file: points picked in near-linear time, the page built without a pandas
row per point, and a warning before a dashboard too large for a browser is written."""

import csv

import pandas as pd
import pytest
from stbench.plots import dashboard, runs
from stbench.plots.data import PlotData
from stbench.zoo.records import load_records
from test_browser import _joined

N = 3000


@pytest.fixture
def many_runs(tmp_path) -> pd.DataFrame:
    """A generated records file: N runs of one configuration, values 0.03 apart, plus
    copies of some at fewer decimals (the same runs, as another paper would print them)."""
    path = tmp_path / "many.csv"
    base = dict(paper="mylab", model="tsn_resnet50", dataset="kinetics400", split="val")
    base.update(metric="top1", level="clip", views="1x1", frames=8, input_size=224)
    base.update(pretraining="imagenet", modality="rgb")
    rows = [
        dict(base, value=f"{10 + 0.03 * i:.2f}", source=f"run {i}", variant=f"run {i}")
        for i in range(N)
    ]
    rows += [
        dict(base, value=f"{10 + 0.03 * i:.1f}", source=f"copy {i}", variant=f"copy {i}")
        for i in range(0, N, 100)
    ]
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return load_records([path], check_zoo_names=False)


def test_one_per_run_compares_each_record_with_near_values_only(many_runs, monkeypatch):
    calls = []
    same = runs._same_value
    monkeypatch.setattr(runs, "_same_value", lambda *a: calls.append(1) or same(*a))
    df = many_runs  # variant is not part of a run: the copies are the same runs
    kept = runs.one_per_run(df)
    assert len(df) == N + N // 100
    assert len(kept) < len(df) and len(calls) <= 200 * len(df)  # a plain scan: ~N^2 / 2
    assert kept["also_sources"].str.contains("copy").sum() >= N // 100 - 1


def test_payload_has_no_pandas_row_per_point(monkeypatch):
    def refuse(self):
        raise AssertionError("iterrows: one pandas Series per point")

    data = PlotData.from_joined(_joined())
    monkeypatch.setattr(pd.DataFrame, "iterrows", refuse)
    assert len(dashboard.build_payload(data)["points"]) == len(data.points)


def test_a_page_too_large_is_warned_about_before_writing(tmp_path, capsys, monkeypatch):
    data = PlotData.from_joined(_joined())
    out = tmp_path / "d.html"
    dashboard.write_dashboard(data, out)
    assert "warning" not in capsys.readouterr().err  # a few MB: no word
    monkeypatch.setattr(dashboard, "PAGE_WARN_MB", 1)
    order = []
    write = dashboard.write_atomic
    monkeypatch.setattr(dashboard, "write_atomic", lambda *a: order.append("write") or write(*a))
    dashboard.write_dashboard(data, out)
    err = capsys.readouterr().err
    assert "stbench: warning:" in err and "points); browsers open pages over 1 MB" in err
    assert out.stat().st_size > 1e6 and order == ["write"]


def _plain_scan(values: list[float]) -> list[list[int]]:
    """Runs as a scan over every earlier run finds them (the rule, without an index)."""
    digits = [runs._decimals(v) for v in values]
    found: list[list[int]] = []
    for i, v in enumerate(values):
        for run in found:
            j = run[0]
            if runs._same_value(v, values[j], min(digits[i], digits[j])):
                run.insert(0, i) if digits[i] > digits[j] else run.append(i)
                break
        else:
            found.append([i])
    return found


def test_indexed_runs_are_the_plain_scans_runs():
    import random

    rng = random.Random(7)
    centres = [40, 41.2, 65.4, 65.4378, 70, 99.99]
    steps = [0, 0.01, 0.04, 0.05, 0.049, 0.5, 0.96, 1.0, -0.05]
    values = [
        round(rng.choice(centres) + rng.choice(steps), rng.choice([0, 1, 1, 2, 3, 4, 6]))
        for _ in range(1500)
    ]
    df = pd.DataFrame(
        dict(model="m", value=values, source=[f"s{i}" for i in range(len(values))], paper="p")
    )
    kept = runs.one_per_run(df)
    want = _plain_scan(values)
    assert list(kept.index) == sorted(run[0] for run in want)
    for run in want:
        assert kept.at[run[0], "also_sources"] == "; ".join(f"s{i} [p]" for i in run[1:])
