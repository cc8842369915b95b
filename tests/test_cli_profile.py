"""`stbench profile`: JSON lines, the table's units, bad input, and the Python API."""

import json

import pytest
import torch
from stbench.bench.measure.profiler import profile
from stbench.cli import main
from stbench.zoo import list_models
from torch import nn

MODEL = "tsn_resnet18"
SMALL = ["--frames", "2", "--size", "32"]


@pytest.fixture(scope="module")
def have_model():
    if MODEL not in list_models():
        pytest.skip(f"zoo model {MODEL} not registered yet")


def run_json(capsys, *argv):
    assert main(["profile", *argv, "--json"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    return [json.loads(line) for line in out]


def test_json_one_object_per_configuration(capsys, have_model):
    argv = ["--frames", "4", "--size", "32", "--classes", "7", "--batch", "3"]
    rows = run_json(capsys, MODEL, "tsn_resnet18_tavg", *argv)
    assert [r["model"] for r in rows] == [MODEL, "tsn_resnet18_tavg"]
    r = rows[0]
    key = ("frames", "size", "batch", "num_classes", "device", "dtype", "memory_format", "compile")
    assert tuple(r[k] for k in key) == (4, 32, 3, 7, "cpu", "float32", "contiguous", False)
    assert r["input_shape"] == [3, 3, 4, 32, 32]
    assert r["count_input_shape"] == [1, 3, 4, 32, 32] and r["macs_per"] == "clip"
    assert r["flops"] == 2 * r["macs"]
    assert r["macs"] == r["conv_macs"] + r["linear_macs"]
    assert r["linear_macs"] == 512 * 7  # one FC on the pooled ResNet-18 features
    assert r["params"] > 11_000_000
    assert r["counters"]["meta"]["macs"] == r["macs"]
    assert r["counters"]["meta"]["scope"] == "conv+linear"
    assert "per_module" not in r and r["flags"] == []


def test_json_counters_all_and_per_module(capsys, have_model):
    (r,) = run_json(capsys, MODEL, *SMALL, "--counters", "all", "--per-module")
    assert set(r["counters"]) == {
        "meta",
        "torch-flop-counter",
        "fvcore",
        "ptflops-pytorch",
        "ptflops-aten",
    }
    for name, c in r["counters"].items():
        assert c["macs"] == r["macs"], name
        assert c["scope"] == "conv+linear" and c["version"]
    assert any(f.startswith("fvcore blind spot") for f in r["flags"])
    assert sum(r["per_module"].values()) == r["macs"]


def test_table_has_units_and_switches_to_flops(capsys, have_model):
    assert main(["profile", MODEL, *SMALL]) == 0
    out = capsys.readouterr().out
    assert "params (M)" in out and "GMACs conv+linear" in out and "size (px)" in out
    assert main(["profile", MODEL, *SMALL, "--units", "flops"]) == 0
    assert "GFLOPs conv+linear" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["tsn_resnet5"],
            "unknown model name 'tsn_resnet5'; closest registered names: tsn_resnet50",
        ),
        (["zz*"], "no zoo model matches 'zz*'"),
        ([MODEL, "--dtype", "float64"], "dtype: got 'float64'"),
        ([MODEL, "--device", "tpu"], "device: got 'tpu'"),
        ([MODEL, "--size", "0"], "size: got 0"),
        ([MODEL, "--frames", "two"], "frames: got 'two'"),
        ([MODEL, "--units", "ops"], "units: got 'ops'"),
        ([MODEL, "--counters", "ptflops"], "counters: unknown counter 'ptflops'"),
        ([MODEL, "tsn_resnet18_tp", *SMALL], "frames: got 2"),  # checked before any row
    ],
)
def test_bad_input_is_one_line_exit_2(capsys, have_model, argv, message):
    assert main(["profile", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("stbench profile: error: ")
    assert message in lines[0]


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_cuda_is_refused(capsys, have_model):
    assert main(["profile", MODEL, "--device", "cuda"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


def test_store_receives_the_rows(tmp_path, capsys, have_model):
    store = pytest.importorskip("stbench.bench.store.results")
    path = tmp_path / "s.sqlite"
    rows = run_json(capsys, MODEL, *SMALL, "--store", str(path))
    with store.ResultsStore(path) as st:
        stored = st.rows()
    assert len(stored) == 1 and stored[0]["macs"] == rows[0]["macs"]


def test_api_on_a_module_with_timing_and_memory():
    pytest.importorskip("stbench.bench.measure.timing")
    pytest.importorskip("stbench.bench.measure.memory")
    m = nn.Sequential(
        nn.Conv3d(3, 4, 3, padding=1), nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(4, 6)
    )
    r = profile(m, (2, 3, 2, 8, 8), timing=True, memory=True)
    assert r["model"] == "Sequential" and r["num_classes"] == 6 and r["batch"] == 2
    assert r["macs"] == 4 * 2 * 8 * 8 * 3 * 27 + 4 * 6  # per clip
    assert r["latency_ms_median"] > 0 and "latency_ms_iqr" in r and "latency_ms_p90" in r
    assert r["peak_mem_mib"] > 0 and r["peak_mem_method"]
    json.dumps(r)


def test_api_rejects_impossible_shapes():
    with pytest.raises(ValueError, match="input_shape: Conv3d cannot run"):
        profile(nn.Conv3d(3, 4, 5), (1, 3, 2, 8, 8))
    with pytest.raises(ValueError, match="input_shape: give input_shape"):
        profile(nn.Conv3d(3, 4, 1))
    with pytest.raises(ValueError, match="batch: got 0"):
        profile(nn.Conv3d(3, 4, 1), frames=2, size=4, batch=0)


def test_time_reports_gmacs_and_the_gemm_fraction_and_per_module_time(capsys, have_model):
    argv = [*SMALL, "--time", "--per-module", "--min-iters", "3", "--max-iters", "3"]
    (r,) = run_json(capsys, MODEL, *argv)
    rate = r["latency_gemm_gmacs_per_s"]
    assert rate > 0 and "torch.mm 256x256x256" in r["latency_gemm_probe"]
    achieved = r["macs"] / (r["latency_ms_median"] / 1e3) / 1e9
    assert r["latency_gmacs_per_s"] == pytest.approx(achieved, rel=1e-2)
    assert r["latency_gemm_fraction"] == pytest.approx(achieved / rate, rel=1e-2)
    shares = r["latency_module_share"]
    assert sum(shares.values()) == pytest.approx(1.0, abs=1e-3)
    assert list(shares.values()) == sorted(shares.values(), reverse=True)
    assert any(name.startswith("layer") or "conv" in name for name in shares)
    assert main(["profile", MODEL, *argv]) == 0
    table = capsys.readouterr().out
    assert "achieved GMAC/s" in table and "of GEMM rate (%)" in table
    assert "GEMM rate" in table and "by forward time" in table and "self time (%)" in table


def test_the_gemm_rate_is_probed_once_per_machine(monkeypatch, tmp_path):
    from stbench.bench.measure import efficiency

    monkeypatch.setenv("STBENCH_CACHE_DIR", str(tmp_path))
    calls = []
    monkeypatch.setattr(efficiency, "probe_gemm", lambda *a: calls.append(a) or 12.5)
    first = efficiency.gemm_rate("cpu", "float32", threads=1)
    assert efficiency.gemm_rate("cpu", "float32", threads=1) == first and len(calls) == 1
    assert first["gmacs_per_s"] == 12.5 and "1 thread(s)" in first["method"]
    efficiency.gemm_rate("cpu", "bfloat16", threads=1)
    assert len(calls) == 2 and (tmp_path / "gemm_rates.json").exists()
