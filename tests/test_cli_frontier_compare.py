"""`compare`, `frontier` and `demo` end to end: the input asked for is the input shown, the
dashboard opens on what was asked, and machine-readable output keeps stable keys."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from stbench.bench.store.results import KEY_FIELDS, ResultsStore
from stbench.cli import main
from stbench.plots.dashboard import build_payload, render_html
from stbench.plots.data import PlotData
from stbench.zoo import records
from test_browser import CHROMIUM, _joined, _selftest
from test_records import _row, _write


def _key(model: str, frames: int, size: int, classes: int) -> dict:
    values = (model, frames, size, 1, classes, "cpu", "float32", "contiguous", 0)
    return dict(zip(KEY_FIELDS, values, strict=True))


def test_compare_runs_at_the_classes_asked_for(tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    with ResultsStore(store) as s:  # a latency at the model's own 400 classes, not at 10
        s.add_row({**_key("r3d_resnet18", 8, 64, 400), "latency_ms_median": 12.5})
    argv = ["compare", "r3d_resnet18", "mc2_resnet18", "--size", "64", "--classes", "10"]
    assert main([*argv, "--store", str(store), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {(r["classes"], r["size (px)"]) for r in rows} == {(10, 64)}
    r3d = {r["figure"]: r["value"] for r in rows if r["model"] == "r3d_resnet18"}
    assert 33.0 < r3d["params (M)"] < 33.2  # R3D-18 with a 10-class head (33.37 M at 400)
    assert not any(f.startswith("latency") and v is not None for f, v in r3d.items())
    assert main(["compare", "r3d_resnet18", "--size", "64", "--store", str(store), "--json"]) == 0
    row = {r["figure"]: r["value"] for r in json.loads(capsys.readouterr().out)}
    assert 33.3 < row["params (M)"] < 33.5
    assert any(f.startswith("latency") and v == 12.5 for f, v in row.items())


def _frontier_argv(tmp_path: Path) -> list[str]:
    """`frontier` on the test's store, its dashboard written beside it."""
    return [
        "frontier",
        "--store",
        str(tmp_path / "s.sqlite"),
        "--dashboard",
        str(tmp_path / "f.html"),
    ]


def _payload(html: str) -> dict:
    m = re.search(r'id="stbench-data">(.*?)</script>', html, re.S)
    return json.loads(m.group(1).replace("<\\/", "</"))


@pytest.fixture
def two_datasets(tmp_path, monkeypatch):
    """Shipped records: tsn_resnet18 and tam_resnet18 at 4 x 32² on Kinetics-400 (listed
    first on the page) and on Mini-SSV2, clip and video level (fast to count)."""
    cells = dict(frames="4", input_size="32", split="val", paper="chen2021", source="a test")
    rows = [
        _row(model=m, dataset=d, level=lev, views=v, value=str(a + (lev == "video")), **cells)
        for m, a in (("tsn_resnet18", 30.5), ("tam_resnet18", 35.0))
        for d in ("kinetics400", "mini_ssv2")
        for lev, v in (("clip", "1x1"), ("video", "2x1"))
    ]
    path = _write(tmp_path, "shipped.csv", *rows)
    monkeypatch.setattr(records, "shipped_files", lambda: [path])
    return path


def test_frontier_dashboard_opens_on_what_was_asked_with_predicted_axes(tmp_path, two_datasets):
    html, store = tmp_path / "f.html", str(tmp_path / "s.sqlite")
    argv = ["frontier", "--dataset", "Mini-SSV2", "--cost", "params", "--level", "clip"]
    assert main([*argv, "--store", store, "--dashboard", str(html), "--format", "json"]) == 0
    payload = _payload(html.read_text())
    assert payload["initial"] == {
        "dataset": "mini_ssv2",
        "metric": "top1",
        "level": "clip",
        "cost": "params",
        "per": "clip",
    }
    assert {"predicted_latency", "predicted_memory"} <= {a["kind"] for a in payload["axes"]}
    assert main(["frontier", "--per", "video", "--store", store, "--dashboard", str(html)]) == 0
    initial = _payload(html.read_text())["initial"]
    assert initial == {"metric": "top1", "cost": "macs", "per": "video"}


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (make browser installs Debian's)")
def test_the_page_opens_on_its_initial_selection(tmp_path):
    data = PlotData.from_joined(_joined())
    initial = {"dataset": "ssv1", "metric": "top1", "level": "clip", "cost": "params"}
    res = _selftest(render_html(build_payload(data, initial={**initial, "per": "clip"})), tmp_path)
    assert res["errors"] == []
    first = res["steps"][0]
    assert {k: first[k] for k in initial} == initial and "Something-Something V1" in first["title"]


def test_the_missing_memory_note_names_what_the_shipped_reference_holds():
    from reference_fixture import reference_joined

    notes = build_payload(PlotData.from_joined(reference_joined()))["notes"]
    (note,) = [n for n in notes if n.startswith("No ")]
    assert note.startswith("No peak memory measurements for any record's input")
    assert "the shipped reference results (cpu-sample.csv): latency only" in note
    assert "no reference results are shipped" not in note


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (make browser installs Debian's)")
def test_cost_per_shows_what_is_drawn(tmp_path):
    payload = build_payload(PlotData.from_joined(_joined()))
    extra = [
        {"label": "params", "set": {"cost": "params"}},
        {"label": "predicted", "set": {"cost": "predicted_latency_ms"}},
        {"label": "macs", "set": {"cost": "macs"}},
        {"label": "clip", "set": {"per": "clip"}},
        {"label": "flops", "set": {"cost": "flops"}},
    ]
    res = _selftest(render_html(payload), tmp_path, extra)
    assert res["errors"] == []
    steps = {s["step"]: s for s in res["steps"]}
    assert steps["initial"]["per"] == "video" and steps["initial"]["per_options"] == [
        "video",
        "clip",
    ]
    params, predicted = steps["params"], steps["predicted"]
    assert params["per"] == "model" and params["per_options"] == ["model", "-video"]
    assert predicted["per"] == "clip" and predicted["per_options"] == ["clip", "-video"]
    assert "Cost is per model" in params["levelnote"]
    assert steps["macs"]["per"] == "video" and "GMACs per video" in steps["macs"]["xtitle"]
    assert steps["flops"]["per"] == "clip" and "GFLOPs per clip" in steps["flops"]["xtitle"]


def test_frontier_and_demo_default_to_per_video_where_views_are_known(
    tmp_path, monkeypatch, capsys
):
    cells = dict(frames="4", input_size="32", split="val", paper="chen2021", source="a test")
    rows = [
        _row(model=m, dataset=d, level="video", views=v, value=str(a), **cells)
        for m, a in (("tsn_resnet18", 30.5), ("tam_resnet18", 35.0))
        for d, v in (("kinetics400", "10x3"), ("mini_ssv2", ""))
    ]
    path = _write(tmp_path, "shipped.csv", *rows)
    monkeypatch.setattr(records, "shipped_files", lambda: [path])
    base = _frontier_argv(tmp_path)
    costs = {}
    for ds in ("kinetics400", "mini_ssv2"):
        assert main([*base, "--dataset", ds, "--format", "json"]) == 0
        row = {r["model"]: r for r in json.loads(capsys.readouterr().out)}["tam_resnet18"]
        costs[ds] = (row["cost_axis"], row["cost"])
    (axis, video), (clip_axis, clip) = costs["kinetics400"], costs["mini_ssv2"]
    assert axis == "GMACs per video" and video == pytest.approx(30 * clip, rel=0.01)
    assert clip_axis == "GMACs per clip"  # no views stated: per clip
    assert (
        main(["demo", "--out-dir", str(tmp_path / "out"), "--store", str(tmp_path / "s.sqlite")])
        == 0
    )
    out = capsys.readouterr().out
    assert "top1 (%) vs GMACs per video" in out and "top1 (%) vs GMACs per clip" in out


def test_frontier_csv_keys_do_not_depend_on_the_cost_axis(tmp_path, two_datasets, capsys):
    base = _frontier_argv(tmp_path)
    headers = set()
    for cost in ("macs", "params", "flops"):
        assert main([*base, "--cost", cost, "--format", "csv"]) == 0
        headers.add(capsys.readouterr().out.splitlines()[0])
    (header,) = headers
    assert header.split(",")[-2:] == ["cost_axis", "cost"]
    assert main([*base, "--cost", "params"]) == 0
    assert "Params (M)" in capsys.readouterr().out  # people see the axis' label


@pytest.fixture(scope="module")
def xie() -> dict:
    """The shipped S3D record of Xie et al. on Kinetics-400 (top-1): all frames evaluated."""
    path = records.RECORDS_DIR / "xie2018.csv"
    rows = records.load_records([path], check_zoo_names=False)
    picked = rows[(rows["model"] == "xie_s3d") & (rows["dataset"] == "kinetics400")]
    (row,) = picked[picked["metric"] == "top1"].to_dict("records")
    assert row["protocol"] == "all_frames_center_crop" and row["views"] == "1x1"
    return row


def test_xie_all_frames_records_give_one_views_answer_in_table_hover_and_page(xie):
    from stbench.plots.data import build_points
    from stbench.plots.runs import views_factor
    from stbench.plots.tables import frontier_rows

    joined = pd.DataFrame([{**xie, "macs": 68e9}])
    points, axes = build_points(joined)
    macs = next(a for a in axes if a.key == "macs")
    (row,) = frontier_rows(PlotData(joined, pd.DataFrame(), points, axes).points, macs)
    assert row["views"] == "all frames"  # not 1x1: the cell of an all-frames record
    (point,) = build_payload(PlotData(joined, pd.DataFrame(), points, axes))["points"]
    assert "views all frames" in point["hover"] and "views 1x1" not in point["hover"]
    assert point["views_how"] == views_factor(xie)[1] and not point["views_known"]
    assert "video length not stated" in point["views_how"]


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (make browser installs Debian's)")
def test_the_page_names_why_a_record_has_no_per_video_cost(tmp_path, xie):
    xie = {**xie, "macs": 68e9, "params": 9e6}
    other = {**xie, "model": "xie_i3d", "protocol": "", "views": "10x3", "value": 72.0}
    payload = build_payload(PlotData.from_joined(pd.DataFrame([xie, other])))
    res = _selftest(render_html(payload), tmp_path)
    note = res["steps"][0]["levelnote"]
    assert "1 record(s): all frames of each video; video length not stated" in note
    assert "state no views" not in note


def test_records_validate_names_module_for_a_model_of_your_own(tmp_path, capsys):
    mine = _write(tmp_path, "my_runs.csv", _row(model="tiny_attention", published_name=""))
    assert main(["records", "validate", str(mine)]) != 0
    captured = capsys.readouterr()
    assert "'tiny_attention' is not a registered zoo model" in captured.out + captured.err
    assert "given with --module" in captured.out + captured.err


def test_your_model_is_named_as_yours_in_the_hover_and_the_legend(
    tmp_path, capsys, two_datasets, clean_registry
):
    from test_user_records import MODEL, USER_MODULE

    module = tmp_path / "my_models.py"
    module.write_text(USER_MODULE)
    cells = {**MODEL, "model": "my_pooled_net", "paper": "mylab", "dataset": "mini_ssv2"}
    mine = _write(tmp_path, "mine.csv", _row(**cells, split="val", views="1x1", value="45"))
    html = tmp_path / "f.html"
    argv = ["frontier", "--module", str(module), "--records", str(mine), "--dashboard", str(html)]
    assert main([*argv, "--store", str(tmp_path / "s.sqlite"), "--format", "json"]) == 0
    payload = _payload(html.read_text())
    (point,) = [p for p in payload["points"] if p["model"] == "my_pooled_net"]
    assert "<b>your model</b> (source mylab: My Lab, unpublished)" in point["hover"]
    assert "zoo paper" not in point["hover"]
    assert payload["groups"][point["family"]] == "your model"
    assert "unlisted" not in payload["groups"].values()
    zoo = next(p for p in payload["points"] if p["model"] == "tsn_resnet18")
    assert "zoo paper chen2021" in zoo["hover"] and "your model" not in zoo["hover"]


@pytest.fixture
def two_dtypes(monkeypatch):
    """Collected data with latency measured on the CPU in float32 and in bfloat16."""
    import stbench.plots.pipeline as pipeline
    import stbench.plots.sources as sources
    from stbench.plots.data import build_points
    from test_dashboard import sample_joined

    joined = sample_joined()
    timed = joined[joined["latency_ms_median"].notna()].assign(device="cpu")
    bf16 = timed.assign(dtype="bfloat16", latency_ms_median=timed["latency_ms_median"] / 2)
    joined = pd.concat([joined[joined["latency_ms_median"].isna()], timed, bf16])

    def collect(**_):
        points, axes = build_points(joined)
        return pipeline.PlotData(joined, pd.DataFrame(), points, axes, [])

    monkeypatch.setattr(pipeline, "collect", collect)
    empty_store = sources.Inputs(Path("unused.sqlite"), [], timed, [])
    monkeypatch.setattr(sources, "read_inputs", lambda store, reference=True: empty_store)


def _frontier_json(capsys, tmp_path, *args) -> list[dict]:
    argv = ["frontier", "--dashboard", str(tmp_path / "f.html"), *args, "--format", "json"]
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_frontier_latency_at_the_dtype_and_device_asked(tmp_path, capsys, two_dtypes):
    default = _frontier_json(capsys, tmp_path, "--cost", "latency", "--dataset", "kinetics400")
    assert {r["cost_axis"] for r in default} == {"Latency (ms), cpu, float32, batch 1"}
    got = _frontier_json(capsys, tmp_path, "--cost", "latency", "--dtype", "bfloat16")
    assert {r["cost_axis"] for r in got} == {"Latency (ms), cpu, bfloat16, batch 1"}
    assert sorted(r["cost"] for r in got) == sorted(r["cost"] / 2 for r in default)
    got = _frontier_json(capsys, tmp_path, "--cost", "latency", "--device", "cpu")
    assert {r["cost_axis"] for r in got} == {"Latency (ms), cpu, float32, batch 1"}
    for args, message in (
        (
            ["--cost", "latency", "--dtype", "float16"],
            "--dtype: got 'float16'; allowed: bfloat16, float32",
        ),
        (["--cost", "latency", "--device", "cuda"], "--device: got 'cuda'; allowed: cpu"),
        (["--cost", "macs", "--dtype", "bfloat16"], "--dtype: got 'bfloat16' with --cost macs"),
    ):
        assert main(["frontier", "--dashboard", str(tmp_path / "f.html"), *args]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], err


def test_compare_csv_keys_do_not_depend_on_the_records_or_the_store(tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    headers = set()
    for argv in (
        ["compare", "tsn_resnet18", "tam_resnet18", "--frames", "8", "--size", "224"],  # records
        ["compare", "tsn_resnet18", "--frames", "4", "--size", "32"],  # none at this input
    ):
        assert main([*argv, "--store", str(store), "--format", "csv"]) == 0
        headers.add(capsys.readouterr().out.splitlines()[0])
    assert headers == {"model,family,backbone,frames,size (px),classes,figure,value,delta"}
