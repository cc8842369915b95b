"""Measured latency on the dashboard: shipped reference rows of any device become latency axes
labelled with the device, with IQR error bars and noisy rows marked (the page's drawing is
checked in a real browser by tests/test_browser.py)."""

import html
import importlib.util

import pandas as pd
import pytest
from reference_fixture import FIXTURE_DIR, ROOT, reference_joined
from stbench.plots.dashboard import build_payload
from stbench.plots.data import PlotData
from stbench.plots.sources import load_reference

FP32 = "latency|cpu|1|float32||AMD EPYC, 1 thread"
BF16 = "latency|cpu|1|bfloat16||AMD EPYC, 1 thread"


@pytest.fixture(scope="module")
def payload() -> dict:
    return build_payload(PlotData.from_joined(reference_joined()))


def test_fixture_has_the_shipped_columns():
    spec = importlib.util.spec_from_file_location("cpu_ref", ROOT / "scripts" / "cpu_reference.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ref, notes = load_reference(FIXTURE_DIR)
    assert notes == [] and len(ref) == 32
    assert list(ref.columns) == [*mod.COLUMNS, "origin"]
    assert set(ref["origin"]) == {"reference:cpu-sample.csv"}


def test_no_reference_files_is_said(tmp_path):
    ref, notes = load_reference(tmp_path)
    assert ref.empty and "No reference results are shipped" in notes[0]


def test_one_latency_axis_per_dtype_labelled_with_the_device(payload):
    axes = {a["key"]: a for a in payload["axes"]}
    assert axes[FP32]["label"] == "Latency (ms), AMD EPYC, 1 thread, float32, batch 1"
    assert axes[BF16]["label"] == "Latency (ms), AMD EPYC, 1 thread, bfloat16, batch 1"
    assert axes[FP32]["title"].startswith("Median latency per batch (ms), AMD EPYC, 1 thread")
    assert payload["missing_kinds"] == ["memory"]
    with_latency = {p["dataset"] for p in payload["points"] if FP32 in p["costs"]}
    assert with_latency == {"mini_kinetics", "mini_ssv2", "mini_mit"}  # Mini-MiT: 200 classes


def test_points_carry_the_iqr_and_the_noisy_flag_of_their_row(payload):
    ref = pd.read_csv(FIXTURE_DIR / "cpu-sample.csv")
    ref = ref[ref["dtype"] == "float32"].set_index(["model", "frames", "num_classes"])
    classes = {"mini_kinetics": 200, "mini_mit": 200, "mini_ssv2": 87}
    seen = {True: 0, False: 0}
    for p in payload["points"]:
        if FP32 not in p["costs"]:
            continue
        row = ref.loc[(p["model"], p["frames"], classes[p["dataset"]])]
        assert p["costs"][FP32] == pytest.approx(row["latency_ms_median"])
        assert p["spread"][FP32] == pytest.approx(row["latency_ms_iqr"])
        noisy = bool(row["noisy"])
        assert (FP32 in p["noisy"]) is noisy
        seen[noisy] += 1
        line = next(s for s in p["hover"].split("<br>") if "AMD EPYC, 1 thread, float32" in s)
        assert line.endswith(f": {row['latency_ms_median']:.4g}")
        assert f"error bar ± IQR/2 = ± {row['latency_ms_iqr'] / 2:.3g} ms" in p["hover"]
        reason = html.escape(f"noisy (open marker): {row['noisy_reason']}")
        assert (reason in p["hover"]) is noisy
        assert (
            "measured: reference:cpu-sample.csv, torch 2.13.0+cpu, commit 8bcfdcac9b" in p["hover"]
        )
    assert seen[True] and seen[False]


@pytest.mark.skipif(not list(ROOT.glob("bench/reference/cpu-*.csv")), reason="no CPU reference")
def test_shipped_cpu_reference_covers_the_main_datasets():
    from reference_fixture import shipped_cpu_files

    for path in shipped_cpu_files():
        payload = build_payload(PlotData.from_joined(reference_joined(path.parent)))
        for kind in ("float32", "bfloat16"):
            axes = [a["column"] for a in payload["axes"] if a["column"].startswith("latency|cpu")]
            cols = [c for c in axes if f"|{kind}|" in c]
            assert cols, (path.name, kind)
            have = {p["dataset"] for p in payload["points"] if cols[0] in p["costs"]}
            assert {"kinetics400", "mini_kinetics", "mini_ssv2"} <= have, (path.name, kind)
