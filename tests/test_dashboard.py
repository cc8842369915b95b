"""The dashboard payload and page, the views, and the `frontier` CLI on hand-made joins."""

import json
from pathlib import Path

import pandas as pd
import pytest
from stbench.cli import main
from stbench.plots.dashboard import build_payload, render_html, write_dashboard
from stbench.plots.data import PlotData, build_points
from stbench.plots.views import assign_views
from test_cli_grammar import one_error


def _row(model, family, backbone, dataset, frames, macs, params, top1, **extra):
    return {
        "model": model,
        "published_name": model.upper(),
        "dataset": dataset,
        "split": "val",
        "metric": "top1",
        "value": top1,
        "level": "clip",
        "views": "1x1",
        "frames": frames,
        "input_size": 224,
        "num_classes": 400,
        "modality": "rgb",
        "source": "paper.txt Table 1",
        "family": family,
        "backbone": backbone,
        "batch": 1,
        "device": "meta",
        "dtype": "float32",
        "macs": macs,
        "params": params,
        **extra,
    }


# One record per row: model, family, backbone, dataset, frames, MACs, params, top1.
SAMPLE = Path(__file__).with_name("data") / "dashboard_sample.csv"


def sample_joined(latency: bool = True) -> pd.DataFrame:
    rows = [_row(*r) for r in pd.read_csv(SAMPLE).itertuples(index=False)]
    if latency:
        timed = dict(device="cuda", macs=None, params=None, peak_mem_mib=900.0)
        for model, family, top1, ms in (
            ("i3d_resnet50", "I3D", 70.0, 12.0),
            ("tsn_resnet50", "TSN", 68.0, 8.0),
        ):
            row = _row(model, family, "resnet50", "kinetics400", 8, **timed, top1=top1)
            rows.append({**row, "latency_ms_median": ms})
    return pd.DataFrame(rows)


def _models(payload, key):
    by_id = {p["id"]: p for p in payload["points"]}
    return [(by_id[i]["model"], by_id[i]["frames"]) for i in payload["frontiers"][key]]


def test_payload_frontiers_per_dataset_metric_cost_and_view():
    p = build_payload(sample_joined())
    assert sorted(_models(p, "kinetics400|val|top1|macs|all|clip")) == [
        ("tam_resnet50", 8),
        ("tsn_resnet18", 8),
        ("tsn_resnet18", 16),
        ("tsn_resnet18_tp", 8),
    ]
    assert _models(p, "kinetics400|val|top1|latency|cuda|1|float32|||all|clip") == [
        ("tsn_resnet50", 8),
        ("i3d_resnet50", 8),
    ]
    assert [m for m, _ in _models(p, "ssv1|val|top1|macs|gst|clip")] == [
        "gst_a1_8_resnet50",
        "gst_a1_4_resnet50",
    ]
    assert [d["key"] for d in p["datasets"]] == ["kinetics400", "ssv1", "mini_ssv2"]
    keys = [a["key"] for a in p["axes"]]
    assert keys[:5] == ["macs", "macs_video", "flops", "flops_video", "params"]
    assert "latency|cuda|1|float32||" in keys
    assert p["missing_kinds"] == []


def test_axis_titles_carry_units_and_the_macs_convention():
    axes = {a["key"]: a for a in build_payload(sample_joined())["axes"]}
    assert "multiply-add" in axes["macs"]["title"] and "FLOPs = 2 x MACs" in axes["macs"]["title"]
    assert axes["flops"]["scale"] == 2 * axes["macs"]["scale"]
    assert "(ms)" in axes["latency|cuda|1|float32||"]["title"]
    assert axes["latency|cuda|1|float32||"]["label"] == "Latency (ms), cuda, float32, batch 1"


def test_missing_latency_is_said_not_hidden():
    p = build_payload(sample_joined(latency=False))
    assert p["missing_kinds"] == ["latency", "memory"]
    assert any(n.startswith("No latency or peak memory measurements") for n in p["notes"])
    assert any("stbench sweep ... --time --memory" in n for n in p["notes"])


def test_unmatched_records_are_reported():
    unmatched = pd.DataFrame({"model": ["", "trn_x"], "dataset": ["ssv1", "ssv1"]})
    p = build_payload(sample_joined(), unmatched=unmatched)
    assert any("2 accuracy records matched no profile" in n and "trn_x" in n for n in p["notes"])
    unmatched["unmatched_reason"] = ["no zoo model", "modality flow"]
    p = build_payload(sample_joined(), unmatched=unmatched)
    assert any("1 x no zoo model; 1 x modality flow" in n for n in p["notes"])


def test_hover_has_configuration_costs_and_source():
    p = build_payload(sample_joined())
    hover = next(x["hover"] for x in p["points"] if x["model"] == "i3d_resnet50")
    for text in (
        "i3d_resnet50",
        "8 frames x 224² px",
        "400 classes",
        "GMACs per clip: 33",
        "GMACs per video: 33",
        "per video: 1 clips x 1 crops",
        "Latency",
        "source: paper.txt Table 1",
    ):
        assert text in hover


def test_republished_figures_collapse_into_one_point():
    df = sample_joined(latency=False)
    dup = df.iloc[[0]].assign(published_name="I3D-R50-again", source="other table")
    points, _ = build_points(pd.concat([df, dup], ignore_index=True))
    i3d = points[(points["model"] == "i3d_resnet50") & (points["dataset"] == "kinetics400")]
    assert len(i3d) == 1 and i3d["also_published_as"].iloc[0] == "I3D-R50-again"
    assert "other table" in i3d["also_sources"].iloc[0]


def test_a_rounded_copy_of_a_run_is_one_point_keeping_the_precise_figure():
    df = sample_joined(latency=False)
    first = df.iloc[[0]]
    rounded = first.assign(value=round(float(first["value"].iloc[0]) + 0.04, 1), source="Chen")
    precise = first.assign(value=float(first["value"].iloc[0]) + 0.0378, source="IBM")
    other = first.assign(value=float(first["value"].iloc[0]) + 1.0, source="another run")
    points, _ = build_points(pd.concat([rounded, precise, other], ignore_index=True))
    assert sorted(points["source"]) == ["IBM", "another run"]
    kept = points[points["source"] == "IBM"]
    assert "Chen" in kept["also_sources"].iloc[0]


def test_per_video_cost_is_clip_cost_times_views_and_unknown_views_are_marked():
    df = sample_joined(latency=False).iloc[:3].copy()
    df["views"] = ["10x3", "", "1x1"]
    df["level"] = ["video", "video", "clip"]
    points, axes = build_points(df)
    assert {a.key: a.per for a in axes}["macs_video"] == "video"
    by = points.set_index("views")
    assert by.loc["10x3", "macs_video"] == 30 * by.loc["10x3", "macs"]
    assert pd.isna(by.loc["", "macs_video"]) and "not stated" in by.loc["", "views_how"]
    assert by.loc["1x1", "macs_video"] == by.loc["1x1", "macs"]


def test_xie_all_frames_scale_by_the_stated_video_length_only():
    from stbench.plots.runs import views_factor

    row = {"views": "1x1", "protocol": "all_frames_center_crop", "frames": 64}
    assert views_factor({**row, "dataset": "mini_kinetics_200"})[0] == 250 / 64
    assert pd.isna(views_factor({**row, "dataset": "kinetics400"})[0])


def test_views_series():
    points, _ = build_points(sample_joined(latency=False))
    members = dict(
        zip(
            points["model"] + "@" + points["frames"].astype(str), assign_views(points), strict=False
        )
    )
    assert members["gst_a1_4_resnet50@8"]["gst"] == [
        "GST beta=1/2, alpha sweep (resnet50, 8 frames)",
        0.25,
    ]
    assert "gst" in members["c3d_resnet50@8"] and "gst" not in members["i3d_resnet50@8"]
    assert members["tsn_resnet18@16"]["frames"] == ["tsn_resnet18", 16.0]
    assert "frames" not in members["i3d_resnet50@8"]  # only one clip length
    assert (
        members["tsn_resnet18_tp@8"]["tp"][1] == 1.0 and members["tsn_resnet18@8"]["tp"][1] == 0.0
    )
    assert "tp" not in members["i3d_resnet50@8"]


def test_page_is_self_contained(tmp_path):
    out = write_dashboard(sample_joined(), tmp_path / "sub" / "d.html")
    page = out.read_text()
    from plotly.offline import get_plotlyjs

    assert get_plotlyjs() in page  # plotly.js inlined, so the page works offline
    own = page.replace(get_plotlyjs(), "")
    assert "src=" not in own and "http" not in own.split('id="stbench-data"')[0]
    assert "Plotly.react" in page and 'id="stbench-data"' in page
    assert len(page) > 3_000_000  # plotly.js is inlined
    data = page.split('id="stbench-data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(data)["title"].startswith("stbench")


def test_json_cannot_close_the_script_tag():
    df = sample_joined(latency=False).assign(source="</script><script>alert(1)</script>")
    page = render_html(build_payload(df))
    data = page.split('id="stbench-data">', 1)[1].split("</script>", 1)[0]
    assert "&lt;/script&gt;" in json.loads(data)["points"][0]["hover"]  # escaped, and whole


@pytest.mark.parametrize(
    ("joined", "match"),
    [
        (pd.DataFrame(), "nothing to plot"),
        (sample_joined().assign(value=float("nan")), "accuracy value"),
    ],
)
def test_nothing_to_plot_is_an_error(tmp_path, joined, match):
    with pytest.raises(ValueError, match=match):
        write_dashboard(joined, tmp_path / "d.html")


def test_unwritable_or_wrong_output(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="cannot write"):
        write_dashboard(sample_joined(), blocker / "d.html")
    with pytest.raises(ValueError, match="^dashboard: got .*; allowed: an .html file"):
        write_dashboard(sample_joined(), tmp_path / "d.png")


@pytest.fixture
def fake_collect(monkeypatch):
    import stbench.plots.pipeline as pipeline

    def collect(**_):
        joined = sample_joined()
        points, axes = build_points(joined)
        return pipeline.PlotData(joined, pd.DataFrame(), points, axes, ["a note"])

    monkeypatch.setattr(pipeline, "collect", collect)
    # the fake data has latency: the check of the real sources before counting passes
    import stbench.cli.plots as cli_plots

    monkeypatch.setattr(cli_plots, "_check_cost", lambda args, rows: None)


def test_frontier_cli_json_and_dashboard(tmp_path, capsys, fake_collect):
    out = tmp_path / "f.html"
    assert main(["frontier", "--out", str(out), "--dataset", "Kinetics-400", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["model"], r["frames"]) for r in rows] == [
        ("tsn_resnet18_tp", 8),
        ("tsn_resnet18", 8),
        ("tsn_resnet18", 16),
        ("tam_resnet50", 8),
    ]
    assert rows[0]["cost"] == pytest.approx(7.0) and rows[0]["accuracy (%)"] == 59.0
    assert out.exists()


def test_frontier_cli_table_and_latency(tmp_path, capsys, fake_collect):
    out = str(tmp_path / "f.html")
    assert main(["frontier", "--out", out, "--cost", "latency", "--csv"]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].startswith("dataset,metric,model")
    assert text.splitlines()[0].endswith(",cost_axis,cost")  # stable keys, whatever the axis
    assert '"Latency (ms), cuda, float32, batch 1"' in text.splitlines()[1]
    assert main(["frontier", "--out", out, "--dataset", "ssv1"]) == 0
    assert "Pareto frontier: Something-Something V1" in capsys.readouterr().out


def test_frontier_cli_bad_input(tmp_path, capsys, fake_collect):
    argv = ["frontier", "--out", str(tmp_path / "f.html")]
    line = one_error(capsys, [*argv, "--dataset", "ucf101"])
    assert "--dataset: got 'ucf101', but no top1 record" in line
    assert "--dataset: got 'nope'" in one_error(capsys, [*argv, "--dataset", "nope"])
    assert "--out: cannot write" in one_error(capsys, [*argv, "--out", "/proc/nope/d.html"])


def test_frontier_cli_no_latency_measurements(tmp_path, capsys, monkeypatch):
    import stbench.plots.pipeline as pipeline

    def collect(**_):
        joined = sample_joined(latency=False)
        points, axes = build_points(joined)
        return pipeline.PlotData(joined, pd.DataFrame(), points, axes, [])

    monkeypatch.setattr(pipeline, "collect", collect)
    assert main(["frontier", "--out", str(tmp_path / "f.html"), "--cost", "memory"]) == 2
    assert "--cost memory: no memory measurements" in capsys.readouterr().err


def test_demo_cli_writes_dashboard_and_frontier_csv(tmp_path, capsys, fake_collect):
    assert main(["demo", "--out-dir", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert (
        "Pareto frontier: Kinetics-400 (kinetics400, val split, clip-level), top1 (%) vs GMACs per video"
        in out
    )
    assert "no joined records for mini_kinetics, ssv2" in out
    assert (tmp_path / "out" / "dashboard.html").stat().st_size > 3_000_000
    rows = (tmp_path / "out" / "frontiers.csv").read_text().splitlines()
    assert rows[0].endswith("cost_axis,cost") and any("tam_resnet50" in r for r in rows)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["demo", "--out-dir", str(blocker)]) == 2
    assert "--out-dir: cannot write" in capsys.readouterr().err


def test_store_latency_rows_reach_the_dashboard_axes(tmp_path):
    from stbench.bench.store.results import ResultsStore
    from stbench.plots.sources import join, load_store, timed_rows

    path = tmp_path / "s.sqlite"
    key = dict(model="tsn_resnet50", frames=8, size=224, batch=1, num_classes=87, dtype="float32")
    store = ResultsStore(path)
    store.add_rows(
        [{**key, "device": "cuda", "latency_ms_median": 7.5, "peak_mem_mib": 512.0}],
        env={"gpu_name": "NVIDIA H100"},
    )
    store.close()
    static = pd.DataFrame([{**key, "device": "meta", "params": 24_000_000, "macs": 33_000_000_000}])
    records = pd.DataFrame(
        [
            {
                "model": "tsn_resnet50",
                "frames": 8,
                "input_size": 224,
                "num_classes": 87,
                "dataset": "mini_ssv2",
                "metric": "top1",
                "value": 33.9,
                "level": "clip",
                "views": "1x1",
                "modality": "rgb",
                "source": "IBM table",
            }
        ]
    )
    timed = timed_rows(load_store(path))
    joined, unmatched = join(pd.concat([static, timed], ignore_index=True), records)
    points, axes = build_points(joined)
    assert len(points) == 1 and len(unmatched) == 0
    lat = next(a for a in axes if a.kind == "latency")
    assert "NVIDIA H100" in lat.label and "batch 1" in lat.label
    assert points[lat.column].iloc[0] == 7.5 and points["macs"].iloc[0] == 33e9
    with pytest.raises(ValueError, match="^store: no results store"):
        load_store(tmp_path / "missing.sqlite")


def test_hover_marks_a_noisy_latency():
    joined = sample_joined()
    joined["noisy"] = joined["model"].map({"i3d_resnet50": True}).fillna(False)
    p = build_payload(joined)
    hovers = {x["model"]: x["hover"] for x in p["points"] if "Latency" in x["hover"]}
    assert "noisy (open marker): IQR/median &gt; 0.1 or time cap" in hovers["i3d_resnet50"]
    assert "noisy" not in hovers["tsn_resnet50"]


def test_time_reversed_records_are_diagnostics_not_drawn():
    from stbench.plots.pipeline import split_diagnostic

    records = pd.DataFrame(
        {"model": ["xie_i2d", "xie_i2d"], "protocol": ["all_frames", "all_frames_reversed_at_test"]}
    )
    drawn, diagnostic = split_diagnostic(records)
    assert list(drawn["protocol"]) == ["all_frames"]
    assert list(diagnostic["protocol"]) == ["all_frames_reversed_at_test"]


def test_transition_points_come_from_the_specs_plans():
    from stbench.models.inception import TRANSITIONS
    from stbench.plots.curves import transition_points

    assert transition_points() == TRANSITIONS  # one list, read from the heavy specs' plans
    curves = [{"model": "xie_top_heavy_i3d_mixed_4b", "family": "Top-Heavy-I3D"}]
    curves[0].update(backbone="inception_v1", transition=2, mark="", costs={"macs": 1.0})
    payload = build_payload(PlotData.from_joined(sample_joined(), curves=curves))
    assert payload["curve_ticks"] == list(TRANSITIONS)


def test_the_curves_draw_what_the_spec_rows_tag():
    from stbench.plots.curves import curve_models, curves_note, shows_curves
    from stbench.zoo import get_spec
    from stbench.zoo.spec import ModelSpec

    tags = {m: get_spec(m).curve for m in curve_models()}
    assert sorted(m for m, t in tags.items() if t == "mark") == [
        "xie_fast_s3d",
        "xie_i2d",
        "xie_i3d",
        "xie_s3d",
    ]
    on_curve = {get_spec(m).family for m, t in tags.items() if t == "curve"}
    assert on_curve == {"Top-Heavy-I3D", "Top-Heavy-S3D", "Bottom-Heavy-I3D", "Bottom-Heavy-S3D"}
    assert len(tags) == 4 * 9 + 4 and get_spec("xie_s3d_g").curve == ""
    # a record of a model in the curves' view brings the curves in, others do not
    assert shows_curves(["tsn_resnet50", "xie_s3d_g"])
    assert not shows_curves(["tsn_resnet50", "r3d_resnet18", "not_in_zoo"])
    note = curves_note()
    assert "Xie et al. 2018" in note and "(per clip, 64 frames x 224²), with Fast-S3D, I2D" in note
    with pytest.raises(ValueError, match="curve: got 'heavy'; allowed: '', 'curve', 'mark'"):
        ModelSpec("m", "F", "p", "b", plan=lambda: None, curve="heavy")


def test_paper_views_come_from_the_spec_rows():
    from stbench.plots.views import VIEWS
    from stbench.zoo import get_spec

    member = {v.key: v.member for v in VIEWS}
    assert get_spec("xie_s3d").views == ("xie",) and get_spec("r2plus1d_resnet18").views == (
        "tran",
    )
    assert member["xie"]({"model": "xie_s3d"}) == ("", 0.0)
    assert member["tran"]({"model": "r2plus1d_resnet18"}) == ("", 0.0)
    assert member["gst"]({"model": "tsn_resnet50"}) is None  # chen2021 names no view
    assert member["gst"]({"model": "not_in_zoo", "zoo_paper": "luo2019"}) == ("", 0.0)
