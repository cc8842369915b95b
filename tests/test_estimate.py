"""The latency estimate beside the bound, and the published GPU measurements it is fitted on."""

import csv
from importlib import resources

import pytest
import torch
from stbench.bench.predict import published as pub
from stbench.bench.predict.devices import devices, get_device
from stbench.bench.predict.estimate import (
    CONSTANTS,
    FP32_FLOP_PER_SM_CLOCK,
    PROTOCOL_MS,
    estimate_features,
    features,
    gpu_seconds,
    interval,
    sm_clock,
    values,
)
from stbench.bench.predict.predictor import predict
from stbench.zoo.designs import DESIGN_GROUPS, design_group

MODEL = "tsn_resnet18"


def test_every_constant_says_how_it_was_set_and_from_what():
    for c in [*CONSTANTS.values(), *PROTOCOL_MS.values()]:
        assert c.how in ("fitted", "cited", "assumed") and c.unit and c.source
        if c.how == "cited":
            assert "http" in c.source or "roofline" in c.source
        if c.how == "fitted":
            assert "published_gpu.csv" in c.source


def test_prediction_row_has_estimate_interval_and_throughput_beside_the_bound():
    r = predict(MODEL, gpu="h100_sxm", batch=2, frames=2, train=True)
    assert r["latency_bound_ms"] <= r["latency_ms"]
    assert r["latency_ms_low"] < r["latency_ms"] < r["latency_ms_high"]
    assert r["throughput_clips_per_s"] == pytest.approx(2 / r["latency_ms"] * 1e3)
    assert r["train_latency_bound_ms"] <= r["train_latency_ms"]
    assert r["train_latency_ms_low"] < r["train_latency_ms"] < r["train_latency_ms_high"]
    # at batch 2 on an H100, eager PyTorch waits on the host
    assert r["bound_by"] == "host" and r["estimate_regime"] == "host-bound"


def test_host_term_layout_and_graphs_move_the_estimate_the_right_way():
    base = predict(MODEL, gpu="a100_80gb", batch=1, frames=1)
    graphs = predict(MODEL, gpu="a100_80gb", batch=1, frames=1, cuda_graphs=True)
    assert graphs["latency_ms"] < base["latency_ms"] and graphs["host_ms"] == 0
    nchw = predict(MODEL, gpu="a100_80gb", batch=16, frames=1, dtype="bfloat16")
    nhwc = predict(
        MODEL, gpu="a100_80gb", batch=16, frames=1, dtype="bfloat16", memory_format="channels_last"
    )
    assert nhwc["gpu_ms"] < nchw["gpu_ms"] and nhwc["memory_format"] == "channels_last"
    with pytest.raises(ValueError, match="memory_format: got 'nhwc'; allowed: contiguous"):
        predict(MODEL, gpu="a100_80gb", memory_format="nhwc")


def test_compile_fuses_elementwise_kernels():
    from stbench.bench.count.static import build_zoo_model
    from stbench.bench.predict.trace import trace_forward

    ops = trace_forward(
        build_zoo_model(MODEL, frames=1, num_classes=10), (1, 3, 1, 64, 64), dtype="float32"
    ).ops
    dev = get_device("l4")
    eager = estimate_features(features(ops, dev, "float32"))
    compiled = estimate_features(features(ops, dev, "float32", compile=True))
    assert compiled["estimate_kernels"] < eager["estimate_kernels"]
    assert compiled["host_ms"] < eager["host_ms"]
    graphs = estimate_features(features(ops, dev, "float32", cuda_graphs=True))
    assert graphs["host_ms"] == 0 and graphs["gpu_ms"] == eager["gpu_ms"]


def test_sm_issue_term_costs_conv_work_per_sm_clock_not_per_peak():
    """Same peak, half the SMs x clock: the conv kernels take longer; bandwidth ones do not."""
    import dataclasses

    from stbench.bench.count.static import build_zoo_model
    from stbench.bench.predict.trace import trace_forward

    ops = trace_forward(
        build_zoo_model(MODEL, frames=1, num_classes=10), (8, 3, 1, 64, 64), dtype="float16"
    ).ops
    dev = get_device("a100_80gb")
    narrow = dataclasses.replace(dev, sm_count=dev.sm_count // 2)
    v = values()
    wide_s, narrow_s = (gpu_seconds(features(ops, d, "float16"), v) for d in (dev, narrow))
    assert narrow_s > wide_s
    assert gpu_seconds(features(ops, narrow, "float16"), {**v, "sm_issue_flop": 0.0}) == (
        gpu_seconds(features(ops, dev, "float16"), {**v, "sm_issue_flop": 0.0})
    )


class _Attention(torch.nn.Module):
    """A 3x3 conv, then one head of attention of width 4 over the 4x4 positions, then a linear."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv3d(3, 4, (1, 3, 3), padding=(0, 1, 1))
        self.fc = torch.nn.Linear(4, 6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.conv(x).flatten(2).transpose(1, 2)  # (B, 16 positions, 4 channels)
        a = torch.softmax(t @ t.transpose(1, 2), dim=-1)  # (B, 16, 16): K = 4
        return self.fc(a @ t).mean(1)  # (B, 16, 4): K = 16, N = 4


def test_gemm_min_dim_is_the_smaller_of_n_and_k_per_forward_gemm():
    from stbench.bench.predict.trace import trace_forward

    ops = trace_forward(_Attention().to("meta"), (2, 3, 1, 4, 4)).ops
    dims = [(o.category, o.gemm_min_dim) for o in ops if o.gemm_min_dim]
    assert dims == [("conv", 4), ("matmul", 4), ("matmul", 4), ("linear", 4)]
    assert all(o.gemm_min_dim == 0 for o in ops if o.category not in ("conv", "linear", "matmul"))


def test_thin_matmuls_and_linears_have_their_own_rate_on_a_cpu_only():
    """matmul_half_dim slows a product of activations by d / (d + half); 0 (a GPU) leaves it."""
    from stbench.bench.predict.cpu_device import cpu_constants, cpu_device
    from stbench.bench.predict.trace import trace_forward

    ops = trace_forward(_Attention().to("meta"), (2, 3, 1, 4, 4)).ops
    probe = {"cpu": "x", "threads": 1, "n": 8, "fp32_flops": 1e9, "bf16_flops": 1e9}
    dev = cpu_device({**probe, "bandwidth": 1e15})  # every GEMM costed by its FLOPs
    f = features(ops, dev, "float32")
    v = {**cpu_constants(), "kernel_floor_us": 0.0}
    assert values()["matmul_half_dim"] == 0 and values()["rate_linear"] == 1  # the GPU's
    mm = sum(o.flops for o in ops if o.category == "matmul" and o.launches_kernel)
    lin = sum(o.flops for o in ops if o.category == "linear" and o.launches_kernel)
    base = gpu_seconds(f, v)
    thin = gpu_seconds(f, {**v, "matmul_half_dim": 4.0})  # d = 4: half the rate
    assert thin - base == pytest.approx(mm / (v["eff_fp32"] * 1e9))
    fast = gpu_seconds(f, {**v, "rate_linear": 2.0})
    assert base - fast == pytest.approx(lin / (2 * v["eff_fp32"] * 1e9))


def test_a_cpu_rows_cache_serves_each_kernels_first_bytes_and_gpu_rows_have_none():
    from stbench.bench.predict.cpu_device import cpu_constants, cpu_device
    from stbench.bench.predict.trace import trace_forward

    ops = trace_forward(_Attention().to("meta"), (2, 3, 1, 4, 4)).ops
    probe = {"cpu": "x", "threads": 1, "n": 8, "fp32_flops": 1e15, "bf16_flops": 1e15}
    slow = {**probe, "bandwidth": 1e6, "cache_bytes": 0}
    v = {**cpu_constants(), "kernel_floor_us": 0.0, "eff_bw": 1.0, "eff_cache_bw": 1.0}
    nbytes = features(ops, cpu_device(slow), "float32").nbytes
    uncached = gpu_seconds(features(ops, cpu_device(slow), "float32"), v)
    assert uncached == pytest.approx(nbytes.sum() / 1e6, rel=1e-3)  # all bandwidth-bound
    cached = {**slow, "cache_bytes": 64, "cache_bandwidth": 1e9}
    want = sum(min(b, 64) / 1e9 + max(b - 64, 0) / 1e6 for b in nbytes)
    assert gpu_seconds(features(ops, cpu_device(cached), "float32"), v) == pytest.approx(
        want, rel=1e-3
    )
    assert all(d.cache_bytes == 0 for d in devices().values())


def test_sm_clock_falls_back_to_the_fp32_peak_per_sm_clock_of_the_stated_rows():
    """Rows stating SMs and clock (since GA10x/Hopper) have the FP32 rate the fallback assumes."""
    for name in ("rtx_3090", "rtx_4090", "a10", "l4", "h100_sxm"):
        d = get_device(name)
        assert d.peaks["fp32"] / sm_clock(d) == pytest.approx(FP32_FLOP_PER_SM_CLOCK, rel=0.02)
    pcie = get_device("h100_pcie")
    assert pcie.boost_mhz is None and sm_clock(pcie) == pcie.peaks["fp32"] / FP32_FLOP_PER_SM_CLOCK


def test_interval_holds_the_worst_validation_error():
    low, high = interval(10.0, "gpu-bound")
    assert low < 10 < high and high / 10 > 1.2


def test_published_file_rows_are_cited_and_name_a_device_row_and_zoo_model():
    text = resources.files("stbench.bench").joinpath("reference/published_gpu.csv").read_text()
    rows = list(csv.DictReader(text.splitlines()))
    assert len(rows) >= 104
    for r in rows:
        assert r["repository"] and r["file"] and len(r["commit"]) == 40 and r["table"]
        assert r["protocol"] and r["includes"]
        if r["gpu"]:
            get_device(r["gpu"])
    assert {"NVIDIA/DeepLearningExamples", "huggingface/pytorch-image-models"} <= {
        r["repository"] for r in rows
    }


def test_targets_take_the_mean_latency_and_fall_back_to_throughput():
    rows = pub.load_published()
    targets = pub.latency_targets(rows)
    assert all(t["statistic"] == "mean" for t in targets if t["from"] == "latency")
    thr = [t for t in targets if t["from"] == "throughput"]
    assert thr and all(
        t["measured_ms"] == pytest.approx(t["batch"] / t["value"] * 1e3) for t in thr
    )
    assert len(pub.memory_targets(rows)) >= 2


def test_small_batch_published_rows_are_predicted_and_the_bound_stays_below():
    targets = [
        t
        for t in pub.latency_targets(pub.load_published())
        if t["gpu"] in ("t4", "v100_sxm2_16gb") and t["batch"] <= 2
    ]
    assert len(targets) == 8
    res = pub.predict_targets(targets)
    for r in res:
        assert r["bound_ms"] < r["measured_ms"]
        assert abs(r["error"]) < 0.4, r
    assert pub.summary(r["error"] for r in res)["median"] < 0.25


def test_cpu_device_row_from_probes_and_family_groups():
    from stbench.bench.predict import cpu_device as cpu
    from stbench.zoo import get_spec

    probe = {"cpu": "x", "threads": 1, "n": 8, "fp32_flops": 5e10, "bf16_flops": 1e11}
    dev = cpu.cpu_device({**probe, "bandwidth": 1e10})
    assert dev.peak("fp32") == 5e10 and dev.bandwidth == 1e10
    t = {"model": MODEL, "frames": 2, "size": 32, "num_classes": 10, "dtype": "float32"}
    v = cpu.cpu_constants()
    assert v["overlap_sharpness"] == 1.0  # on a CPU, ops and their dispatch add up
    f = cpu.cpu_features({**t, "memory_format": "contiguous"}, dev)
    est = cpu.estimate_features(f, v)
    assert est["latency_ms"] == pytest.approx(est["gpu_ms"] + est["host_ms"])
    rows = cpu.reference_targets(
        resources.files("stbench.bench").joinpath("reference/cpu-amd-epyc.csv")
    )
    groups = {r["group"] for r in rows}
    assert groups <= set(DESIGN_GROUPS), groups - set(DESIGN_GROUPS)
    assert {r["fit"] for r in rows} == {True, False}
    nln = next(r for r in rows if r["model"] == "nln_resnet50")
    assert nln["group"] == design_group(get_spec("nln_resnet50").family) == "3D"


def test_every_zoo_family_has_one_design_group():
    """A family added to the zoo must be placed in one design group (colours and CPU report)."""
    from stbench.plots.style import family_group
    from stbench.zoo import get_spec, list_models

    families = {get_spec(m).family for m in list_models()}
    members = [f for group in DESIGN_GROUPS.values() for f in group]
    assert len(members) == len(set(members))
    assert families <= set(members), sorted(families - set(members))
    assert design_group("X3D") == design_group("ir-CSN") != design_group("NLN")
    assert design_group("a user's family") == family_group("a user's family") == "unlisted"


def test_small_probe_is_cached_per_machine(tmp_path, monkeypatch):
    from stbench.bench.predict import cpu_device as cpu

    monkeypatch.setenv("STBENCH_CACHE_DIR", str(tmp_path))
    calls = []
    got = {"threads": 1, "cache_bytes": 0}
    monkeypatch.setattr(cpu, "probe", lambda threads: calls.append(threads) or got)
    assert cpu.cached_probe(1) == got and cpu.cached_probe(1) == got
    (cached,) = tmp_path.glob("cpu-probe-*-t1.json")
    assert calls == [1]
    assert cpu.cached_probe(1, refresh=True) == got and calls == [1, 1]  # --reprobe
    cached.write_text('{"threads": 1}')  # a probe from before the cache was probed
    assert cpu.cached_probe(1) == got and calls == [1, 1, 1]


def test_probe_measures_positive_rates():
    from stbench.bench.predict import cpu_device as cpu

    p = cpu.probe(1, n=64, copy_mib=1)
    assert p["fp32_flops"] > 0 and p["bf16_flops"] > 0 and p["bandwidth"] > 0
    assert f"probed {p['probed_at']}" in cpu.cpu_device(p).label
    assert p["cache_bytes"] == 0 or p["cache_bandwidth"] > 0
