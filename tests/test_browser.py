"""The dashboard in a real headless Chromium: it renders, switching selectors redraws, no JS errors.

The page carries a self-test that runs when its URL ends in `#selftest`: it snapshots the
plot (SVG, points, traces, axis type), switches the dataset, cost and view selectors and the
log toggle, snapshots after each, and writes the JSON result into `#selftest-result`,
together with every JavaScript error collected since <head>.
"""

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import quote

import pandas as pd
import pytest
from stbench.plots.dashboard import build_payload, render_html
from stbench.plots.data import PlotData

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


TRAN = "r2d f_r2d mc2 mc3 mc4 mc5 rmc2 rmc3 rmc4 rmc5 r3d r2plus1d".split()


def _joined() -> pd.DataFrame:
    base = dict(split="val", level="clip", views="1x1", input_size=224, num_classes=400)
    base.update(modality="rgb", source="test Table 1", metric="top1", batch=1, device="meta")
    pts = [
        ("tsn_resnet50", "TSN", "kinetics400", 8, 33e9, 24e6, 68.0),
        ("i3d_resnet50", "I3D", "kinetics400", 8, 60e9, 28e6, 71.0),
        ("tam_resnet50", "TAM", "kinetics400", 8, 33e9, 25e6, 72.0),
        ("tsn_resnet18", "TSN", "kinetics400", 8, 14e9, 11e6, 60.0),
        ("gst_a1_4_resnet50", "GST", "ssv1", 8, 29e9, 21e6, 47.6),
        ("gst_a1_8_resnet50", "GST", "ssv1", 8, 27e9, 21e6, 46.7),
    ]
    pts += [
        (f"{m}_resnet18", "", "kinetics400", 8, (10 + i) * 1e9, 11e6, 50.0 + i)
        for i, m in enumerate(TRAN)
    ]
    rows = [
        dict(
            base, model=m, backbone=m.split("_")[-1], dataset=d, frames=t, macs=c, params=p, value=v
        )
        | ({"family": f} if f else {})
        for m, f, d, t, c, p, v in pts
    ]
    # video level: 10 clips x 3 crops (the per-video cost is 30 x the clip's), and one
    # record whose views are not stated (marked, no per-video cost)
    rows.append(dict(rows[1], level="video", views="10x3", value=74.0))
    rows.append(dict(rows[0], level="video", views="", value=70.0, source="no views"))
    rows.append(dict(rows[-4], level="video", views="2x1", value=48.3))
    for r in rows[6:18]:
        rows.append(dict(r, level="video", views="10x1", value=r["value"] + 8))
    for i, r in enumerate(rows):  # the device model's forward prediction of each input
        limiter = ("compute", "memory", "launch")[i % 3]
        r.update(predicted_gpu="H100 SXM5 80GB", predicted_limiter=limiter)
        lat = 0.1 + r["macs"] / 1e11
        r.update(predicted_latency_ms=lat, predicted_peak_mib=r["params"] / 2e5)
        r.update(predicted_latency_low_ms=lat / 1.3, predicted_latency_high_ms=lat * 1.8)
        r.update(predicted_intensity=50.0)
    return pd.DataFrame(rows).drop(columns=[]).assign(family=lambda d: d.get("family"))


CURVES = [
    {
        "model": f"xie_{h}_heavy_{k}_mixed_{b}",
        "family": f"{h.title()}-Heavy-{k.upper()}",
        "backbone": "inception_v1",
        "transition": t,
        "mark": "",
        "costs": {"macs": (10 + t) * 1e9},
    }
    for h in ("top", "bottom")
    for k in ("i3d", "s3d")
    for t, b in enumerate(("3b", "3c", "4b"))
] + [
    {
        "model": "xie_i3d",
        "family": "I3D",
        "backbone": "inception_v1",
        "transition": None,
        "mark": "I3D",
        "costs": {"macs": 108e9},
    },
    {
        "model": "xie_fast_s3d",
        "family": "Fast-S3D",
        "backbone": "inception_v1",
        "transition": 7,
        "mark": "Fast-S3D",
        "costs": {"macs": 43e9},
    },
]


def _selftest(page: str, tmp: Path, extra: list | None = None, window: str = "") -> dict:
    path = tmp / "dashboard.html"
    path.write_text(page, encoding="utf-8")
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=10000",
            *([f"--window-size={window}"] if window else []),
            "--dump-dom",
            f"{path.as_uri()}#selftest={quote(json.dumps(extra or []))}",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    m = re.search(r'<pre id="selftest-result">(.*?)</pre>', proc.stdout, re.S)
    assert m, f"no self-test output; chromium rc={proc.returncode}: {proc.stderr[-2000:]}"
    assert m.group(1).strip(), "the self-test did not finish within the virtual time budget"
    return json.loads(m.group(1).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))


@pytest.fixture(scope="module")
def page() -> str:
    return render_html(build_payload(PlotData.from_joined(_joined(), curves=CURVES)))


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (make browser installs Debian's)")
def test_dashboard_renders_and_selectors_redraw(page, tmp_path):
    extra = [
        {"label": "view-tran", "set": {"view": "tran", "level": "clip"}},
        {"label": "view-xie", "set": {"view": "xie"}},
        {
            "label": "predicted-latency",
            "set": {"view": "all", "level": "clip", "cost": "predicted_latency_ms"},
        },
        {"label": "view-flops-latency", "set": {"view": "flops_latency"}},
        {"label": "view-all", "set": {"view": "all"}},
    ]
    res = _selftest(page, tmp_path, extra)
    assert res["errors"] == []
    steps = {s["step"]: s for s in res["steps"]}
    first = steps["initial"]  # one level, per-video cost, a note naming the other levels
    assert first["svg"] and first["dataset"] == "kinetics400" and first["cost"] == "macs"
    assert (
        first["level"] == "video"
        and first["per"] == "video"
        and first["levels"] == ["video", "clip"]
    )
    assert "GMACs per video" in first["xtitle"] and "video level" in first["title"]
    assert "Also on this dataset and metric: clip" in first["levelnote"]
    assert "1 record(s): views not stated: no per-video cost — not drawn" in first["levelnote"]
    assert "tsn_resnet50" not in first["x"]  # views not stated: no per-video cost, not guessed
    clip, video = steps["per-clip"], steps["per-video"]
    assert "GMACs per clip" in clip["xtitle"] and "tsn_resnet50" in clip["x"]
    assert video["x"]["i3d_resnet50"] == pytest.approx(30 * clip["x"]["i3d_resnet50"])  # 10x3
    assert video["x"]["r2d_resnet18"] == pytest.approx(10 * clip["x"]["r2d_resnet18"])  # 10x1
    for name in ("initial", "per-clip", "view-tran"):
        owners: dict = {}
        for fam, colour, symbol in steps[name]["pairs"]:
            owners.setdefault((colour, symbol), set()).add(fam)
        assert all(len(f) == 1 for f in owners.values()), (name, owners)
    tran = steps["view-tran"]
    assert {f for f, _, _ in tran["pairs"]} >= {"MC2", "rMC4", "MC3", "rMC5", "R2D", "R3D"}
    assert tran["legend_entries"] == tran["traces"]  # legends never hide entries
    level = steps["sel-level"]
    assert level["level"] == "clip" and "clip level" in level["title"]
    assert "Also on this dataset and metric: video" in level["levelnote"]
    assert steps["sel-cost"]["cost"] == "flops" and "GFLOPs" in steps["sel-cost"]["title"]
    assert steps["chk-log"]["xaxis_type"] == "linear" and steps["chk-log"]["svg"]
    xie = steps["view-xie"]  # four cost curves over the transition point, references marked
    assert xie["curves_visible"] and len(xie["curve_traces"]) == 4
    assert set(xie["curve_traces"]) == {
        "Top-Heavy-I3D",
        "Top-Heavy-S3D",
        "Bottom-Heavy-I3D",
        "Bottom-Heavy-S3D",
    }
    assert any(m.startswith("I3D") for m in xie["curve_marks"])
    assert any(m.startswith("Fast-S3D") for m in xie["curve_marks"])
    pred = steps["predicted-latency"]  # the device model's axis: labelled as a prediction
    assert pred["cost"] == "predicted_latency_ms" and pred["svg"] and pred["points"] >= 4
    assert "predicted, H100 SXM5 80GB, median error" in pred["title"]
    assert "published measurements" in pred["title"] and "lower bound" not in pred["title"]
    assert "not a measurement" in pred["xtitle"]
    assert pred["errorbars"] >= pred["points"]  # every estimate drawn with its interval
    assert "error bars: its interval" in pred["levelnote"]
    flops = steps["view-flops-latency"]  # GMACs against the bound, per model input
    assert flops["view"] == "flops_latency" and flops["svg"] and flops["message"] is None
    assert flops["title"].startswith("GMACs per clip vs Latency (ms), predicted")
    assert flops["errorbars"] >= flops["points"]
    inputs = {(r["model"], r["frames"]) for r in _joined().to_dict("records")}
    assert flops["points"] == len(inputs) and flops["frontier_rows"] == 0
    assert {s for _, _, s in flops["pairs"]} <= {"circle", "square", "diamond"}
    ds = steps["sel-dataset"]
    assert ds["dataset"] == "ssv1" and "Something-Something V1" in (ds["title"] or ds["message"])


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (make browser installs Debian's)")
def test_javascript_errors_are_caught(page, tmp_path):
    res = _selftest(page.replace("Plotly.react($('plot')", "Plotly.nope($('plot')"), tmp_path)
    assert any("nope" in e for e in res["errors"])


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (make browser installs Debian's)")
def test_your_records_are_drawn_with_their_own_outline(tmp_path):
    joined = _joined()
    mine = (joined["model"] == "i3d_resnet50") & (joined["level"] == "video")
    joined["record_origin"] = mine.map({True: "mine.csv", False: ""})
    res = _selftest(render_html(build_payload(PlotData.from_joined(joined))), tmp_path)
    assert res["errors"] == []
    first = res["steps"][0]  # Kinetics-400, video level: the one user record is drawn
    assert first["step"] == "initial" and first["level"] == "video"
    assert first["user_outlined"] == 1


def _latency_steps(payload: dict, dtype: str) -> list[dict]:
    """Self-test steps that switch to the CPU latency axis of `dtype` on every dataset with
    such points, at a level that has them, per clip, all models."""
    column = next(
        a["key"]
        for a in payload["axes"]
        if a["kind"] == "latency" and a["key"].startswith(f"latency|cpu|1|{dtype}|")
    )
    steps = []
    for d in payload["datasets"]:
        pts = [
            p
            for p in payload["points"]
            if p["dataset"] == d["key"] and p["metric"] == "top1" and column in p["costs"]
        ]
        if pts:
            level = max({p["level"] for p in pts}, key=[p["level"] for p in pts].count)
            split = max({p["split"] for p in pts}, key=[p["split"] for p in pts].count)
            want = [p for p in pts if p["level"] == level and p["split"] == split]
            steps.append(
                {
                    "label": f"latency-{dtype}-{d['key']}",
                    "set": {"dataset": d["key"], "split": split, "metric": "top1"}
                    | {"level": level, "view": "all", "per": "clip", "cost": column},
                    "_want": want,
                    "_column": column,
                }
            )
    return steps


def _check_latency_steps(res: dict, steps: list[dict], device: str) -> set[str]:
    """Every latency step drew its points with error bars, open markers where noisy."""
    assert res["errors"] == []
    got = {s["step"]: s for s in res["steps"]}
    drawn = set()
    for step in steps:
        snap, want, column = got[step["label"]], step["_want"], step["_column"]
        assert snap["cost"] == column and snap["message"] is None, snap
        assert snap["svg"] and snap["points"] >= len(want) > 0, snap
        assert snap["errorbars"] >= len(want), snap
        assert snap["open_markers"] == sum(column in p["noisy"] for p in want), snap
        assert device in snap["xtitle"] and "Median latency per batch (ms)" in snap["xtitle"]
        assert "error bars" in snap["levelnote"] and "open markers: noisy" in snap["levelnote"]
        drawn.add(step["set"]["dataset"])
    return drawn


def _run_latency(payload: dict, tmp: Path, device: str) -> set[str]:
    steps = _latency_steps(payload, "float32") + _latency_steps(payload, "bfloat16")
    extra = [{"label": s["label"], "set": s["set"]} for s in steps]
    res = _selftest(render_html(payload), tmp, extra)
    return _check_latency_steps(res, steps, device)


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (make browser installs Debian's)")
def test_cpu_reference_latency_axis_draws_points_with_error_bars(tmp_path):
    from reference_fixture import reference_joined

    payload = build_payload(PlotData.from_joined(reference_joined()))
    drawn = _run_latency(payload, tmp_path, "AMD EPYC, 1 thread")
    assert drawn == {"mini_kinetics", "mini_ssv2", "mini_mit"}


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (make browser installs Debian's)")
def test_shipped_cpu_reference_is_drawn_on_the_main_datasets(tmp_path):
    from reference_fixture import reference_joined, shipped_cpu_files

    files = shipped_cpu_files()
    if not files:
        pytest.skip("no bench/reference/cpu-*.csv shipped yet")
    payload = build_payload(PlotData.from_joined(reference_joined(files[0].parent)))
    device = next(a for a in payload["axes"] if a["key"].startswith("latency|cpu|"))["key"]
    drawn = _run_latency(payload, tmp_path, device.split("|")[-1])
    assert {"kinetics400", "mini_kinetics", "mini_ssv2"} <= drawn


def _frontier_today() -> pd.DataFrame:
    """Kinetics-400 video-level records of the new families beside two CNNs of the papers."""
    base = dict(split="val", level="video", input_size=224, num_classes=400, dataset="kinetics400")
    base.update(modality="rgb", source="test", metric="top1", batch=1, device="meta")
    pts = [  # model, family, backbone, frames, views, macs, matmul, params, top-1
        ("i3d_resnet50", "I3D", "resnet50", 32, "10x3", 335e9, 0, 28e6, 76.6),
        ("nln_resnet50", "NLN", "resnet50", 32, "10x3", 49e9, 16e9, 31e6, 74.0),
        ("x3d_m", "X3D", "x3d", 16, "10x3", 6.18e9, 0, 3.8e6, 76.2),
        ("video_swin_t", "Video Swin", "swin", 32, "4x3", 69.8e9, 17.9e9, 28e6, 78.3),
        ("videomae_vit_b", "VideoMAE", "vit_tubelet", 16, "5x3", 135e9, 45.3e9, 87e6, 81.5),
        ("timesformer", "TimeSformer", "vit_frame_patches", 8, "1x3", 190e9, 6e9, 122e6, 77.9),
    ]
    rows = [
        dict(base, model=m, family=f, backbone=b, frames=t, views=v, macs=c, params=p, value=a)
        | {"matmul_macs": mm, "total_macs": c + mm}
        for m, f, b, t, v, c, mm, p, a in pts
    ]
    return pd.DataFrame(rows)


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (make browser installs Debian's)")
def test_new_families_have_their_own_style_and_the_axis_names_its_convention(tmp_path):
    page = render_html(build_payload(PlotData.from_joined(_frontier_today())))
    res = _selftest(page, tmp_path)
    assert res["errors"] == []
    first = {s["step"]: s for s in res["steps"]}["initial"]
    assert first["dataset"] == "kinetics400" and first["per"] == "video"
    pairs = {fam: (colour, symbol) for fam, colour, symbol in first["pairs"]}
    new = ("X3D", "Video Swin", "VideoMAE", "TimeSformer")
    assert set(new) <= set(pairs), pairs
    assert len({pairs[f] for f in pairs}) == len(pairs)  # one colour-symbol pair per family
    assert len({pairs[f][0] for f in new}) == len(new)  # and a colour of its own each
    # attention among the models: the axis counts conv+linear+matmul and says so
    assert "conv+linear+matmul" in first["xtitle"] and "attention" in first["xtitle"]
    assert first["x"]["videomae_vit_b"] == pytest.approx(15 * 180.3, rel=1e-3)  # total x 5x3


def _tran_crowd() -> dict[str, tuple[float, float]]:
    """Tran et al.'s crowded spot: each of their ResNet-18 models at the zoo's GMACs per
    clip (the fingerprint's count at 8x112x112) and their shipped Video@1 on Kinetics-400
    (Table 2): mc4/mc5 on top of each other, rmc4/mc2/rmc5/r3d within a few GMACs and
    0.5 points."""
    from stbench.zoo.records import RECORDS_DIR, load_records

    counts = json.loads((Path(__file__).parent / "data" / "zoo_fingerprint.json").read_text())
    rows = load_records([RECORDS_DIR / "tran2018.csv"], check_zoo_names=False)
    video = rows[(rows["dataset"] == "kinetics400") & (rows["views"] == "10x1")]
    top1 = dict(zip(video["model"], video["value"], strict=True))
    return {m: (counts[f"{m}_resnet18"]["macs"] / 1e9, top1[f"{m}_resnet18"]) for m in TRAN}


def _crowded() -> pd.DataFrame:
    """One record per zoo family (all on one view), the Tran models crowded as published,
    two models at 8, 16 and 32 frames, and a dataset whose records span 0.9 points."""
    from stbench.zoo.registry import list_specs

    base = dict(split="val", level="video", views="10x1", input_size=112, num_classes=400)
    base.update(modality="rgb", source="test", metric="top1", batch=1, device="meta")
    first: dict = {}
    for spec in list_specs():
        first.setdefault(spec.family, spec)
    rows = []
    for i, spec in enumerate(sorted(first.values(), key=lambda s: s.family)):
        rows.append(dict(base, model=spec.name, dataset="hmdb51", frames=8, value=40.0 + i))
        rows[-1].update(macs=(5 + 3 * i) * 1e9, params=(10 + i) * 1e6)
    for m, (g, v) in _tran_crowd().items():
        rows.append(dict(base, model=f"{m}_resnet18", dataset="kinetics400", frames=8, value=v))
        rows[-1].update(macs=g * 1e9, params=33e6)
    for m in ("i3d_resnet50", "tsn_resnet50"):
        for t in (8, 16, 32):
            rows.append(dict(base, model=m, dataset="ucf101", frames=t, value=60.0 + t / 4))
            rows[-1].update(macs=t * 4e9, params=25e6)
    for m, v in (("gst_a1_4_resnet50", 47.6), ("gst_a1_8_resnet50", 46.7)):
        rows.append(dict(base, model=m, dataset="ssv1", frames=8, value=v, macs=29e9, params=21e6))
    for i, r in enumerate(rows):
        spec = next(s for s in list_specs() if s.name == r["model"])
        r.update(family=spec.family, backbone=spec.backbone, predicted_gpu="H100 SXM5 80GB")
        r.update(predicted_limiter=("compute", "memory", "launch")[i % 3], predicted_intensity=50.0)
        r.update(predicted_latency_ms=0.1 + r["macs"] / 1e11, predicted_peak_mib=100.0)
    return pd.DataFrame(rows)


def _overlap(a: list, b: list) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (make browser installs Debian's)")
def test_crowded_views_stay_readable_in_a_1000px_window(tmp_path):
    joined = _crowded()
    page = render_html(build_payload(PlotData.from_joined(joined)))
    extra = [
        {"label": "view-tran", "set": {"dataset": "kinetics400", "view": "tran"}},
        {"label": "flops", "set": {"view": "flops_latency"}},
        {"label": "frames", "set": {"dataset": "ucf101", "view": "frames"}},
        {"label": "narrow-range", "set": {"dataset": "ssv1", "view": "all"}},
    ]
    hash_ = quote(json.dumps(extra))
    res = _selftest(page, tmp_path, extra, window="1280,1000")
    assert res["errors"] == [], hash_
    steps = {s["step"]: s for s in res["steps"]}
    for name in ("initial", "view-tran", "flops", "frames"):
        s = steps[name]  # titles clear of the toolbar; the x-axis title above the fold
        assert 700 <= s["window_height"] <= 1000 and s["title_box"] and s["toolbar_box"]
        assert not _overlap(s["title_box"], s["toolbar_box"]), (name, s["title"])
        assert s["xtitle_bottom"] <= s["window_height"], (name, s["xtitle_bottom"])
    tran = steps["view-tran"]  # labels never print on top of each other
    labels = tran["labels"]
    assert len(labels) >= 8, labels
    clash = [
        (a[0], b[0])
        for i, a in enumerate(labels)
        for b in labels[i + 1 :]
        if _overlap(a[1:], b[1:])
    ]
    assert not clash, clash
    flops = steps["flops"]  # every family's legend entry shown, none scrolled away
    families = set(joined["family"])
    assert len(flops["legend_boxes"]) == len(families) == flops["traces"] >= 28
    box = flops["legend_box"]
    hidden = [b for b in flops["legend_boxes"] if b[1] < box[1] - 1 or b[3] > box[3] + 1]
    assert not hidden and box[3] <= box[1] + 20 * 30, (box, hidden)
    frames = steps["frames"]  # series lines in their family's colour, not Plotly's cycle
    assert len(frames["series"]) == 2
    assert all(colour == family for _, colour, family in frames["series"]), frames["series"]
    low, high = steps["narrow-range"]["yrange"]  # 0.9 points do not fill the whole axis
    assert high - low >= 5 and low <= 46.7 and high >= 47.6
