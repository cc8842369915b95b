"""Comparison and frontier tables: units on every column, deltas, JSON/CSV, bad input."""

import csv
import io
import json

import pandas as pd
import pytest
from stbench.cli import main
from stbench.plots.data import CostAxis
from stbench.plots.tables import (
    brief_columns,
    compare_rows,
    compare_table,
    frontier_rows,
    frontier_tables,
)

from stbench.output import render

COSTS = {"tsn_resnet50": (24_000_000, 33_000_000_000), "i3d_resnet50": (28_000_000, 60_000_000_000)}


def fake_profiler(name, frames, size, classes):
    params, macs = COSTS[name]
    return {"params": params, "macs": macs * frames // 8}


STORE = pd.DataFrame(
    {
        "model": ["tsn_resnet50", "i3d_resnet50", "i3d_resnet50"],
        "frames": [8, 8, 16],
        "size": [224, 224, 224],
        "device": ["cuda"] * 3,
        "batch": [1] * 3,
        "num_classes": [200] * 3,
        "dtype": ["float32"] * 3,
        "latency_ms_median": [5.0, 9.5, 20.0],
        "peak_mem_mib": [300.0, 500.0, 800.0],
    }
)
RECORDS = pd.DataFrame(
    {
        "model": ["tsn_resnet50", "i3d_resnet50", "i3d_resnet50"],
        "frames": [8, 8, 8],
        "input_size": [224, 224, 224],
        "metric": ["top1", "top1", "top5"],
        "dataset": ["mini_ssv2"] * 3,
        "level": ["clip"] * 3,
        "value": [30.0, 52.5, 80.0],
    }
)


def _rows(**kw):
    args = dict(frames=8, size=224, store=STORE, records=RECORDS, profiler=fake_profiler)
    return compare_rows(["tsn_resnet50", "i3d_resnet50"], **{**args, **kw})


def test_compare_rows_units_and_deltas():
    rows, notes = _rows()
    tsn, i3d = rows
    assert tsn["params (M)"] == 24.0 and i3d["GMACs per clip"] == 60.0
    assert i3d["delta GMACs per clip"] == pytest.approx(27.0) and tsn["delta GMACs per clip"] == 0.0
    assert i3d["latency (ms) cuda b1 float32"] == 9.5  # the 16-frame row is not mixed in
    assert i3d["delta latency (ms) cuda b1 float32"] == pytest.approx(4.5)
    assert i3d["top1 (%) mini_ssv2 clip"] == 52.5 and i3d["delta top1 (%) mini_ssv2 clip"] == 22.5
    assert tsn["top5 (%) mini_ssv2 clip"] is None and i3d["delta top5 (%) mini_ssv2 clip"] is None
    assert [n for n in notes if not n.startswith("source of ")] == []


def test_compare_rows_flops_and_missing_data_notes():
    rows, notes = _rows(units="flops", store=None, records=None, frames=16)
    assert rows[1]["GFLOPs per clip (2 x MACs)"] == 240.0 and "GMACs per clip" not in rows[1]
    assert any("latency/memory: no measurement" in n for n in notes)
    assert any("accuracy: no published record" in n for n in notes)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        (dict(units="gflops"), "^units: got 'gflops'"),
        (dict(names=[]), "at least one model"),
        (dict(names=["nope_model"]), "unknown model name 'nope_model'"),
    ],
)
def test_compare_rows_bad_input(kw, match):
    names = kw.pop("names", ["tsn_resnet50"])
    with pytest.raises(ValueError, match=match):
        compare_rows(names, profiler=fake_profiler, **kw)


def test_compare_table_formats():
    rows, _ = _rows()
    table = compare_table(rows, ["n1"], title="t")
    assert json.loads(render(table, "json"))[1]["delta GMACs per clip"] == pytest.approx(27.0)
    got = list(csv.DictReader(io.StringIO(render(table, "csv"))))
    assert got[1]["model"] == "i3d_resnet50" and float(got[1]["GMACs per clip"]) == 60.0
    assert "delta GMACs per clip" in got[1]  # machine formats carry the deltas as fields
    text = render(table, "table")
    for needle in ("params (M)", "GMACs", "60.00 (+27.00)", "note: n1", "latency (ms)"):
        assert needle in text
    assert "33.00 (" not in text  # the first model carries no delta
    assert "delta GMACs" not in text  # deltas are shown inline, not as rows
    header = next(line for line in text.splitlines() if "tsn_resnet50" in line)
    assert "i3d_resnet50" in header  # one column per model, side by side
    md = render(table, "markdown").splitlines()
    assert md[2].startswith("| model | tsn_resnet50 | i3d_resnet50 |")


def test_frontier_rows_are_in_the_axis_unit():
    axis = CostAxis("flops", "macs", "GFLOPs", "GFLOPs per clip", 2e-9)
    pts = pd.DataFrame(
        {
            "dataset": ["ssv1"],
            "metric": ["top1"],
            "model": ["gst_a1_4_resnet50"],
            "frames": [8],
            "size": [224],
            "macs": [29e9],
            "value": [47.6],
            "level": ["clip"],
            "views": ["1x1"],
            "source": ["003 Table 2"],
        }
    )
    (row,) = frontier_rows(pts, axis)
    assert row["cost"] == pytest.approx(58.0) and row["accuracy (%)"] == 47.6
    assert row["cost_axis"] == "GFLOPs" and all(c in row for c in brief_columns(axis))
    (table,) = frontier_tables(pts, axis)
    text = render(table, "markdown")
    assert (
        "| GFLOPs |" in text and "| 58.00 | 47.60 |" in text and "003 Table 2" in text
    )  # the source is named
    assert json.loads(render(table, "json"))[0]["source"] == "003 Table 2"


def test_compare_cli_json_with_real_counts(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STBENCH_STORE", raising=False)
    argv = ["compare", "tsn_resnet50", "tsm_resnet50", "--frames", "8", "--size", "224", "--json"]
    assert main(argv) == 0
    got = {(r["model"], r["figure"]): r for r in json.loads(capsys.readouterr().out)}
    tsn = got["tsn_resnet50", "GMACs per clip"]
    assert tsn["frames"] == 8 and tsn["size (px)"] == 224
    assert 30 < tsn["value"] < 35  # ResNet-50 TSN, 8 x 224²: about 33 GMACs
    tsm = got["tsm_resnet50", "GMACs per clip"]
    assert tsm["delta"] == pytest.approx(0.0, abs=0.01)  # a shift costs no MACs
    assert any(f.startswith("top1 (%)") for m, f in got if m == "tsn_resnet50")  # accuracy


def test_compare_cli_bad_input(tmp_path, capsys):
    assert main(["compare", "tsn_resnet50", "--frames", "0"]) == 2
    assert "--frames: got 0" in capsys.readouterr().err
    argv = ["compare", "tsn_resnet18_tp", "--frames", "2", "--store", str(tmp_path / "s.sqlite")]
    assert main(argv) == 2  # a model that cannot run at the input: one line, nothing stored
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "frames: got 2" in err[0]


def test_compare_deltas_carry_no_float_noise():
    records = RECORDS.assign(value=[30.0, 60.2, 80.0])  # 60.2 - 30.0 == 30.200000000000003
    rows, _ = _rows(records=records)
    assert rows[1]["delta top1 (%) mini_ssv2 clip"] == 30.2


def test_compare_names_noisy_latencies(tmp_path, capsys):
    from stbench.bench.store.results import KEY_FIELDS, ResultsStore

    store = tmp_path / "s.sqlite"
    values = ("r3d_resnet18", 8, 112, 1, 400, "cpu", "float32", "contiguous", 0)
    key = dict(zip(KEY_FIELDS, values, strict=True))
    with ResultsStore(store) as s:
        s.add_row({**key, "latency_ms_median": 1269.96, "latency_ms_iqr": 330.0})
    assert main(["compare", "r3d_resnet18", "--store", str(store), "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert "noisy: r3d_resnet18 latency" in out and "IQR/median > 0.1" in out


def test_compare_per_video_and_one_record_per_run_with_its_source():
    records = pd.DataFrame(
        {
            "model": ["i3d_resnet50"] * 3,
            "frames": [8] * 3,
            "input_size": [224] * 3,
            "metric": ["top1"] * 3,
            "dataset": ["kinetics400"] * 3,
            "level": ["video", "video", "video"],
            "views": ["10x3", "10x3", "10x3"],
            "paper": ["chen2021", "ibm", "ibm"],
            "value": [65.4, 65.4378, 65.4378],
            "source": ["Chen Table 5", "IBM copy 1", "IBM copy 2"],
        }
    )
    rows, notes = _rows(records=records, per="video")
    col = "top1 (%) kinetics400 video 10x3"
    assert rows[1][col] == 65.4378  # the most precise figure of one run
    assert rows[1][f"GMACs per video (10 clips x 3 crops) for {col}"] == 60.0 * 30
    src = [n for n in notes if n.startswith("source of i3d_resnet50")]
    assert len(src) == 1 and "IBM copy 1" in src[0] and "Chen Table 5" in src[0]
    assert "IBM copy 2" in src[0]
