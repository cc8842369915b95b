"""The device model's predictions as dashboard cost axes: read from the store (predicted
and stored only when missing), merged into the profiles, labelled as predictions."""

import re

import pandas as pd
import pytest
from stbench.bench.config import ProfileConfig
from stbench.bench.predict import predictions
from stbench.bench.predict.predictor import predict
from stbench.bench.store.results import ResultsStore
from stbench.plots.dashboard import build_payload
from stbench.plots.data import PlotData
from stbench.plots.sources import store_predictions, with_predictions

CONFIGS = [ProfileConfig("tsn_resnet18", 4, 32, num_classes=400)]


def test_predictions_are_stored_once_and_reused(tmp_path, monkeypatch):
    store = tmp_path / "s.sqlite"
    got, notes = store_predictions(store, CONFIGS)
    assert notes == [] and len(got) == 1
    (row,) = got.to_dict("records")
    want = predict("tsn_resnet18", gpu="h100_sxm", frames=4, size=32)  # its own classes
    assert row["predicted_peak_mib"] == pytest.approx(want["peak_memory_bytes"] / 2**20)
    assert row["predicted_latency_ms"] == pytest.approx(want["latency_ms"])
    assert row["predicted_latency_bound_ms"] == pytest.approx(want["latency_bound_ms"])
    low, high = row["predicted_latency_low_ms"], row["predicted_latency_high_ms"]
    assert low < row["predicted_latency_ms"] < high
    assert row["predicted_gpu"] == "H100 SXM5 80GB" and row["predicted_limiter"]
    with ResultsStore(store, readonly=True) as db:
        assert len(db.predictions()) == 1 and db.rows() == []
    monkeypatch.setattr(predictions, "_predict_one", lambda item: pytest.fail("predicted again"))
    again, _ = store_predictions(store, CONFIGS)
    assert again.to_dict("records") == got.to_dict("records")


def _joined(predicted: bool) -> pd.DataFrame:
    profiles = pd.DataFrame(
        [
            dict(model="tsn_resnet18", frames=4, size=32, num_classes=400, macs=2e8, params=1e7),
            dict(model="tam_resnet18", frames=4, size=32, num_classes=400, macs=3e8, params=1e7),
        ]
    )
    if predicted:
        pred = profiles[["model", "frames", "size"]].assign(
            predicted_latency_ms=[0.5, 0.9],
            predicted_latency_low_ms=[0.4, 0.7],
            predicted_latency_high_ms=[0.8, 1.5],
            predicted_peak_mib=[100.0, 120.0],
            predicted_intensity=[30.0, 20.0],
            predicted_limiter=["memory", "launch"],
            predicted_gpu="H100 SXM5 80GB",
        )
        profiles = with_predictions(profiles, pred)
    records = dict(dataset="kinetics400", metric="top1", split="val", level="clip")
    return profiles.assign(value=[60.0, 62.0], source="test", **records)


def test_predicted_axes_and_the_flops_latency_view():
    data = PlotData.from_joined(_joined(True))
    labels = {a.key: a.label for a in data.axes}
    lat = labels["predicted_latency_ms"]
    assert lat.startswith("Latency (ms), predicted, H100 SXM5 80GB, median error ")
    assert re.search(r"median error \d+% vs \d+ published measurements$", lat)
    assert "lower bound" not in lat
    assert labels["predicted_peak_mib"] == "Peak memory (MiB), predicted peak, H100 SXM5 80GB"
    payload = build_payload(data)
    assert "flops_latency" in [v["key"] for v in payload["views"]]
    tam = next(p for p in payload["points"] if p["model"] == "tam_resnet18")
    assert tam["costs"]["predicted_latency_ms"] == 0.9 and tam["limiter"] == "launch"
    assert tam["spread"]["predicted_latency_ms"] == [0.7, 1.5]  # the interval, drawn as bars
    assert payload["missing_kinds"] == ["latency", "memory"]  # predictions are not measurements
    plain = build_payload(PlotData.from_joined(_joined(False)))
    assert "flops_latency" not in [v["key"] for v in plain["views"]]
    assert not any(a["key"].startswith("predicted") for a in plain["axes"])


def test_hover_shows_measured_over_predicted_where_both_exist():
    joined = _joined(True)
    measured = joined.iloc[[0]].assign(
        device="cuda",
        batch=1,
        dtype="float32",
        latency_ms_median=1.5,
        peak_mem_mib=110.0,
        run_gpu_name="NVIDIA H100 80GB HBM3",
        macs=None,
        params=None,
    )
    data = PlotData.from_joined(pd.concat([joined, measured], ignore_index=True))
    hover = {p["model"]: p["hover"] for p in build_payload(data)["points"]}
    assert (
        "measured / predicted latency / its estimate on H100 SXM5 80GB: 3.00"
        in hover["tsn_resnet18"]
    )
    assert "measured / predicted peak memory on H100 SXM5 80GB: 1.10" in hover["tsn_resnet18"]
    assert "measured / predicted" not in hover["tam_resnet18"]


# One small instance of each modern family (X3D, UniFormer, VideoMAE, Video Swin, MViTv2,
# TimeSformer, CSN): their predicted axes exist on a GPU other than the default one.
MODERN = [
    ProfileConfig("x3d_xs", 4, 64, num_classes=400),
    ProfileConfig("uniformer_s", 8, 64, num_classes=400),
    ProfileConfig("videomae_vit_s", 4, 64, num_classes=400),
    ProfileConfig("video_swin_t", 4, 64, num_classes=400),
    ProfileConfig("mvitv2_s_16x4", 16, 224, num_classes=400),
    ProfileConfig("timesformer", 2, 64, num_classes=400),
    ProfileConfig("ircsn_resnet50", 8, 64, num_classes=400),
]


def test_modern_families_are_predicted_on_the_gpu_asked_for(tmp_path):
    got, notes = store_predictions(tmp_path / "s.sqlite", MODERN, gpu="a10")
    assert notes == []
    assert sorted(got["model"]) == sorted(c.model for c in MODERN)
    assert set(got["predicted_gpu"]) == {"A10 24GB"}
    assert (got["predicted_latency_ms"] > 0).all() and (got["predicted_peak_mib"] > 0).all()


def test_frontier_and_demo_refuse_an_unknown_gpu_before_any_work(tmp_path, capsys):
    from stbench.cli import main

    for argv in (
        ["frontier", "--gpu", "nope", "--store", str(tmp_path / "f.sqlite")],
        ["demo", "--gpu", "nope", "--out-dir", str(tmp_path / "out")],
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--gpu: got 'nope'; allowed: h100_sxm" in err[0]
    assert list(tmp_path.iterdir()) == []
