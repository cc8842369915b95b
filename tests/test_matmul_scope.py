"""GMACs count conv+linear (the papers' convention) until a model with a sizeable matmul share
(attention) is compared: then every model's GMACs count total_macs and the axes, tables and
compare say so; models with matmul MACs are named, with their share, everywhere."""

import pandas as pd
import pytest
from stbench.bench.count.macs_scope import matmul_flag, matmul_models_note, matmul_share
from stbench.plots.dashboard import build_payload
from stbench.plots.data import PlotData, build_points, matmul_note, static_axes
from stbench.plots.tables import compare_rows, frontier_tables
from test_dashboard import _row

from stbench.output import render


def test_share_is_flagged_above_the_profile_threshold_only():
    assert matmul_share(3, 100) == pytest.approx(0.03)
    assert matmul_share(2, 100) is None  # 2% is not above 2%
    assert matmul_share(0, 0) is None and matmul_share(None, 10) is None
    assert matmul_share(float("nan"), 10) is None


def test_profile_wording_is_unchanged():
    flag = matmul_flag(252, 265, ["bmm"])
    assert flag == (
        "matmul/bmm (aten.bmm outside nn.Linear, e.g. attention or non-local blocks) is 95.1% "
        "of total_macs (252 of 265); macs (conv+linear, the papers' convention) leaves it out"
    )


def test_models_note_names_each_model_with_its_share_range():
    note = matmul_models_note({"b_attn": [0.951], "a_nln": [0.25, 0.2412], "plain": []})
    assert "a_nln 24.1-25.0%, b_attn 95.1%" in note and "plain" not in note
    assert "the papers' convention" in note and matmul_models_note({}) is None


def _joined():
    attn = _row("tiny_attention", "mine", "", "mini_kinetics", 8, 0.13e9, 1e5, 41.0)
    attn.update(matmul_macs=2.52e9, total_macs=2.65e9)
    plain = _row("tsn_resnet18", "TSN", "resnet18", "mini_kinetics", 8, 14.6e9, 11e6, 40.0)
    plain.update(matmul_macs=0, total_macs=14.6e9)
    return pd.DataFrame([attn, plain])


def test_points_carry_matmul_and_the_attention_model_tops_the_macs_frontier():
    points, _ = build_points(_joined())
    got = points.set_index("model")
    assert got.loc["tiny_attention", "matmul_macs"] == 2.52e9
    assert got.loc["tiny_attention", "total_macs"] == 2.65e9
    note = matmul_note(points)
    assert "tiny_attention 95.1%" in note and "tsn_resnet18" not in note


def test_dashboard_notes_and_hover_name_the_matmul_macs():
    payload = build_payload(PlotData.from_joined(_joined()))
    notes = [n for n in payload["notes"] if "matmul" in n]
    assert len(notes) == 1 and "tiny_attention 95.1%" in notes[0]
    hover = {p["model"]: p["hover"] for p in payload["points"]}
    assert (
        "matmul GMACs per clip: 2.52 (95.1% of conv+linear+matmul 2.65" in hover["tiny_attention"]
    )
    assert "matmul GMACs" not in hover["tsn_resnet18"]


def test_frontier_table_notes_on_the_macs_axes_only():
    data = PlotData.from_joined(_joined())
    by_key = {a.key: a for a in data.axes}
    for key in ("macs", "flops", "macs_video"):
        tables = frontier_tables(data.points, by_key[key])
        assert any("tiny_attention 95.1%" in n for t in tables for n in t.notes), key
        assert "tiny_attention 95.1%" in render(tables[0], "table")
    tables = frontier_tables(data.points, by_key["params"])
    assert not any("matmul" in n for t in tables for n in t.notes)


def test_no_matmul_columns_no_note():
    points, _ = build_points(_joined().drop(columns=["matmul_macs", "total_macs"]))
    assert matmul_note(points) is None
    assert [a.key for a in static_axes(points)][:2] == ["macs", "macs_video"]


def _profiler(name, frames, size, classes):
    if name == "tsn_resnet18":
        return {"params": 11_000_000, "macs": 14_600_000_000, "matmul_macs": 0}
    return {
        "params": 24_000_000,
        "macs": 33_000_000_000,
        "matmul_macs": 11_000_000_000,
        "total_macs": 44_000_000_000,
    }


def test_compare_has_matmul_and_total_figures_and_the_note():
    rows, notes = compare_rows(["tsn_resnet18", "tsn_resnet50"], profiler=_profiler)
    tsn18, tsn50 = rows
    assert tsn50["GMACs per clip (conv+linear+matmul)"] == 44.0
    assert tsn50["matmul GMACs per clip (in GMACs)"] == 11.0
    assert tsn50["conv+linear GMACs per clip (the papers' convention)"] == 33.0
    assert tsn18["GMACs per clip (conv+linear+matmul)"] == 14.6  # total not counted: macs
    assert tsn18["matmul GMACs per clip (in GMACs)"] == 0.0
    assert any("tsn_resnet50 25.0%" in n and "total_macs" in n for n in notes)
    rows, _ = compare_rows(["tsn_resnet50"], profiler=_profiler, units="flops")
    assert rows[0]["matmul GFLOPs per clip (in GFLOPs)"] == 22.0
    assert rows[0]["GFLOPs per clip (2 x MACs) (conv+linear+matmul)"] == 88.0


def test_macs_axes_count_total_macs_and_say_so_once_attention_is_compared():
    data = PlotData.from_joined(_joined())
    got = data.points.set_index("model")
    assert got.loc["tiny_attention", "macs"] == 2.65e9  # total_macs
    assert got.loc["tiny_attention", "macs_conv_linear"] == 0.13e9
    assert got.loc["tsn_resnet18", "macs"] == 14.6e9  # no matmul: unchanged
    by_key = {a.key: a for a in data.axes}
    for key in ("macs", "macs_video", "flops", "flops_video"):
        assert "conv+linear+matmul" in by_key[key].label, key
    assert "attention matmuls" in by_key["macs"].title
    table = frontier_tables(data.points, by_key["macs"])[0]
    assert "conv+linear+matmul" in table.title
    plain = PlotData.from_joined(_joined().iloc[[1]])
    axis = {a.key: a for a in plain.axes}["macs"]
    assert axis.label == "GMACs per clip" and "matmul" not in axis.title


def test_compare_without_matmul_has_no_extra_rows():
    plain = lambda *a: {"params": 1, "macs": 2}  # noqa: E731
    rows, notes = compare_rows(["tsn_resnet18"], profiler=plain)
    assert not any("matmul" in k for k in rows[0]) and not any("matmul" in n for n in notes)
