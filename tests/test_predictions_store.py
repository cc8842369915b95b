"""Predictions in the store: their own table, schema 2 -> 3, merges, the prediction sweep
and `predict --validate` against measured CUDA rows."""

import json
import sqlite3

import pytest
from stbench.bench.predict.devices import device_for_cuda_name
from stbench.bench.predict.predictions import family_errors, validation_rows
from stbench.bench.predict.predictor import predict
from stbench.bench.store.results import SCHEMA_VERSION, ResultsStore
from stbench.cli import main
from stbench.zoo import get_spec

MODEL = "r2plus1d_resnet18"
SMALL = {"frames": 8, "size": 32}


@pytest.fixture(scope="module")
def predicted():
    return predict(MODEL, gpu="h100_sxm", **SMALL)


def measured(**extra):
    row = {
        "model": MODEL,
        "frames": 8,
        "size": 32,
        "batch": 1,
        "num_classes": 400,
        "device": "cuda",
        "device_name": "NVIDIA H100 80GB HBM3",
        "latency_ms_median": 2.0,
        "latency_ms_iqr": 0.01,
        "peak_mem_mib": 150.0,
    }
    return {**row, **extra}


def test_predictions_are_their_own_rows(tmp_path, predicted):
    with ResultsStore(tmp_path / "s.sqlite") as s:
        assert s.add_predictions([predicted]) == 1
        assert s.rows() == [] and s.history() == []  # never mixed with measurements
        (got,) = s.predictions()
        assert got["device"] == "predicted:h100_sxm" and got["kind"] == "predicted"
        assert got["peak_memory_bytes"] == predicted["peak_memory_bytes"]
        assert s.add_predictions([predicted]) == 1  # newer replaces: still one row
        assert len(s.predictions(MODEL, gpu="h100_sxm", train=False)) == 1
        assert s.predictions("i3d*") == [] and s.predictions(gpu="t4") == []
        with pytest.raises(ValueError, match="cannot filter on"):
            s.predictions(latency=1)
        with pytest.raises(ValueError, match="allowed: rows of bench.predict.predictor"):
            s.add_predictions([measured()])


def _as_schema2(path):
    ResultsStore(path).close()
    with sqlite3.connect(path) as c:
        c.execute("DROP TABLE predictions")
        c.execute("UPDATE stbench_meta SET value='2' WHERE key='schema_version'")


def _version(path):
    with sqlite3.connect(path) as c:
        return c.execute("SELECT value FROM stbench_meta WHERE key='schema_version'").fetchone()[0]


def test_schema2_file_reads_then_upgrades_on_writable_open(tmp_path, predicted):
    path = tmp_path / "v2.sqlite"
    _as_schema2(path)
    with ResultsStore(path, readonly=True) as s:
        assert s.predictions() == [] and s.rows() == []
    assert _version(path) == "2"
    with ResultsStore(path) as s:
        s.add_row(measured())
        s.add_predictions([predicted])
        assert len(s.predictions()) == 1 and len(s.rows()) == 1
    assert _version(path) == str(SCHEMA_VERSION) == "3"


def test_merge_copies_predictions_once(tmp_path, predicted):
    with ResultsStore(tmp_path / "a.sqlite") as a:
        a.add_predictions([predicted])
    with ResultsStore(tmp_path / "b.sqlite") as b:
        b.merge_from(tmp_path / "a.sqlite")
        first = b.predictions()
        b.merge_from(tmp_path / "a.sqlite")
        assert b.predictions() == first and len(first) == 1


@pytest.mark.parametrize(
    "name, gpu",
    [
        ("NVIDIA H100 80GB HBM3", "h100_sxm"),
        ("NVIDIA H100 PCIe", "h100_pcie"),
        ("NVIDIA H200", "h200"),
        ("NVIDIA A100-SXM4-80GB", "a100_80gb"),
        ("NVIDIA A100-SXM4-40GB", "a100_40gb"),
        ("NVIDIA A100-PCIE-40GB", None),
        ("NVIDIA GeForce RTX 3090", "rtx_3090"),
        ("NVIDIA GeForce RTX 3090 Ti", None),
        ("NVIDIA A10", "a10"),
        ("NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition", "rtx_pro_6000_maxq"),
        ("NVIDIA RTX PRO 6000 Blackwell Workstation Edition", "rtx_pro_6000"),
        ("Tesla T4", "t4"),
        ("NVIDIA L4", "l4"),
        ("Tesla V100-SXM2-32GB", "v100_sxm2"),
        ("", None),
    ],
)
def test_cuda_names_map_to_device_rows(name, gpu):
    found = device_for_cuda_name(name)
    assert (found.name if found else None) == gpu


def test_validation_joins_same_configuration_and_flags_model_errors(tmp_path, predicted):
    with ResultsStore(tmp_path / "s.sqlite") as s:
        s.add_predictions([predicted])
        s.add_row(measured())
        s.add_row(measured(batch=2))  # no prediction at batch 2
        s.add_row(measured(device="cpu", frames=4))  # not a CUDA row
        rows, n_measured, missing = validation_rows(s)
    assert (len(rows), n_measured, missing) == (1, 2, 1)
    (r,) = rows
    assert r["family"] == get_spec(MODEL).family and r["gpu"] == "h100_sxm"
    pred_mib = predicted["peak_memory_bytes"] / 2**20
    assert r["memory_error_pct"] == pytest.approx(100 * (pred_mib / 150.0 - 1))
    assert r["latency_ratio"] == pytest.approx(2.0 / predicted["latency_bound_ms"])
    assert r["bound_above_measured"] is (predicted["latency_bound_ms"] > 2.0)
    fast = dict(r, latency_ratio=0.5, bound_above_measured=True)
    (fam,) = family_errors([r, fast])
    assert fam["configurations"] == 2 and fam["bound_above_measured"] >= 1
    assert fam["latency_ratio_min"] == 0.5


def test_validate_cli(tmp_path, predicted, capsys):
    path = tmp_path / "s.sqlite"
    with ResultsStore(path) as s:
        s.add_row(measured(device="cpu"))
    assert main(["predict", "--validate", "--store", str(path)]) == 0
    out = capsys.readouterr().out
    assert "nothing to validate" in out and len(out.strip().splitlines()) == 1
    with ResultsStore(path) as s:
        s.add_row(measured())
        s.add_predictions([predicted])
    assert main(["predict", "--validate", "--store", str(path), "--format", "json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert any(r.get("family") and r.get("memory_n") == 1 for r in got)


def test_predict_store_and_sweep_predict(tmp_path, capsys):
    path = str(tmp_path / "s.sqlite")
    argv = ["predict", MODEL, "--gpu", "t4", "--frames", "8", "--size", "32", "--store", path]
    assert main(argv) == 0
    sweep = ["sweep", "r3d_resnet18", "--frames", "8", "--sizes", "32", "48", "--store", path]
    assert main([*sweep, "--predict", "t4", "--jobs", "1"]) == 0
    assert "predicted 2 (0 failed), skipped 0" in capsys.readouterr().out
    assert main([*sweep, "--predict", "t4"]) == 0
    assert "predicted 0 (0 failed), skipped 2" in capsys.readouterr().out
    with ResultsStore(path, readonly=True) as s:
        assert len(s.predictions(device="predicted:t4")) == 3 and s.rows() == []
    assert main([*sweep, "--predict", "t4", "--jobs", "0"]) == 2
    assert "--jobs: got 0" in capsys.readouterr().err


def test_predict_sweep_in_processes_stores_each_once(tmp_path, monkeypatch):
    from stbench.bench.predict import predictions
    from stbench.bench.sweep.driver import build_tasks

    monkeypatch.setattr(predictions, "FEW", 2)
    tasks = build_tasks("r3d_resnet18", [8], [32, 48])
    with ResultsStore(tmp_path / "s.sqlite") as s:
        done = predictions.predict_sweep([*tasks, tasks[0]], s, "l4", jobs=2)
        assert (done.ran, done.skipped, done.failures) == (2, 1, [])
        assert sorted(r["size"] for r in s.predictions(gpu="l4")) == [32, 48]


def test_validation_joins_by_memory_format_and_reports_the_estimate(tmp_path, predicted):
    nhwc = predict(MODEL, gpu="h100_sxm", memory_format="channels_last", **SMALL)
    with ResultsStore(tmp_path / "s.sqlite") as s:
        s.add_predictions([predicted, nhwc])
        s.add_row(measured(memory_format="channels_last_3d", latency_ms_median=3.0))
        rows, n_measured, missing = validation_rows(s)
    assert (len(rows), n_measured, missing) == (1, 1, 0)
    (r,) = rows
    assert r["estimate_ms"] == pytest.approx(nhwc["latency_ms"])
    assert r["estimate_error_pct"] == pytest.approx(100 * (nhwc["latency_ms"] / 3.0 - 1))
