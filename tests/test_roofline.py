"""bench.predict.devices and bench.predict.roofline: the cited device table and the per-kernel lower bound."""

from types import SimpleNamespace

import pytest
from stbench.bench.predict.devices import devices, get_device
from stbench.bench.predict.roofline import (
    LAUNCH_OVERHEAD_US,
    breakdown,
    check_dtype_on,
    op_precision,
    summarize_ops,
)

REQUIRED = {
    *("h100_sxm", "h100_pcie", "h200", "b200", "a100_80gb", "a100_40gb", "a10", "l4", "l40s"),
    *("t4", "v100_sxm2", "rtx_3090", "rtx_4090", "rtx_5090", "rtx_6000_ada", "rtx_pro_6000"),
    "rtx_pro_6000_maxq",
}


def test_device_table_has_the_required_gpus_with_sources():
    table = devices()
    assert REQUIRED <= set(table)
    for d in table.values():
        assert "https://" in d.source and d.notes
        assert d.bandwidth > 1e11 and d.memory_bytes >= 16 * 2**30
        assert d.peak("fp32") and d.peak("fp16")
        # dense tensor-core peaks exceed the CUDA-core FP32 peak
        assert d.peak("fp16") > d.peak("fp32")


def test_datasheet_values_of_h100_and_t4():
    h100, t4 = get_device("h100_sxm"), get_device("t4")
    assert h100.bandwidth == 3350e9 and h100.peak("bf16") == 989.5e12
    assert h100.peak("tf32") == 494.5e12 and h100.peak("fp32") == 67e12
    assert t4.peak("bf16") is None and t4.peak("tf32") is None
    assert t4.dtypes() == ["float32", "float16"]


def test_gpu_names_are_forgiving_but_unknown_ones_list_the_table():
    assert get_device("H100 SXM").name == "h100_sxm"  # unique prefix
    assert get_device("H100").name == "h100_sxm" and get_device("a100").name == "a100_80gb"
    assert get_device("rtx-4090").name == "rtx_4090"
    assert get_device("a100-80gb").name == "a100_80gb"
    with pytest.raises(ValueError, match="gpu: got 'x100'; allowed: h100_sxm, h100_pcie, h200"):
        get_device("x100")


def test_dtype_without_a_peak_is_refused():
    assert check_dtype_on(get_device("h100_sxm"), "bfloat16") == "bfloat16"
    with pytest.raises(
        ValueError, match="dtype: got 'bfloat16' for gpu v100_sxm2; allowed: float32, float16"
    ):
        check_dtype_on(get_device("v100_sxm2"), "bfloat16")


def test_precision_of_each_op():
    h100, v100 = get_device("h100_sxm"), get_device("v100_sxm2")
    assert op_precision("conv", "float32", h100) == "tf32"  # cudnn.allow_tf32 defaults to True
    assert op_precision("linear", "float32", h100) == "fp32"  # matmul TF32 is off by default
    assert op_precision("conv", "float32", v100) == "fp32"  # no TF32 on Volta
    assert op_precision("conv", "bfloat16", h100) == "bf16"
    assert op_precision("elementwise", "float16", h100) == "fp32"


def op(category, flops=0, nbytes=0, kernel=True, macs=0):
    return SimpleNamespace(
        category=category,
        flops=flops,
        macs=macs,
        bytes_read=nbytes,
        bytes_written=0,
        launches_kernel=kernel,
        stage="s",
    )


def test_bound_by_hand():
    h100 = get_device("h100_sxm")
    ops = [
        op("conv", flops=2 * 989.5e9, nbytes=1e6, macs=989.5e9),  # compute: 2 ms
        op("elementwise", flops=1e6, nbytes=3.35e9),  # memory: 1 ms
        op("view", kernel=False, nbytes=10**12),  # no kernel: ignored
    ]
    s = summarize_ops(ops, h100, "bfloat16")
    assert s["kernels"] == 2
    assert s["compute_limited_ms"] == pytest.approx(2.0)
    assert s["memory_limited_ms"] == pytest.approx(1.0)
    assert s["roofline_ms"] == pytest.approx(3.0)
    assert s["launch_overhead_ms"] == pytest.approx(2 * LAUNCH_OVERHEAD_US / 1e3)
    assert s["latency_bound_ms"] == pytest.approx(3.0 + 2 * LAUNCH_OVERHEAD_US / 1e3)
    assert s["limiter"] == "compute"
    assert s["arithmetic_intensity"] == pytest.approx(989.5e9 / (1e6 + 3.35e9))
    graphs = summarize_ops(ops, h100, "bfloat16", cuda_graphs=True)
    assert graphs["launch_overhead_ms"] == 0 and graphs["latency_bound_ms"] == pytest.approx(3.0)
    # the same conv in float32 runs at the TF32 peak (494.5 TFLOPS): about twice as long
    tf32_ms = 2 * 989.5e9 / 494.5e12 * 1e3
    assert summarize_ops(ops[:1], h100, "float32")["roofline_ms"] == pytest.approx(tf32_ms)


def test_many_tiny_kernels_are_launch_bound():
    ops = [op("elementwise", flops=10, nbytes=1000) for _ in range(100)]
    s = summarize_ops(ops, get_device("h100_sxm"), "float32")
    assert s["limiter"] == "launch"
    assert s["latency_bound_ms"] == pytest.approx(100 * (1000 / 3350e9 * 1e3 + 3e-3))


def test_breakdown_groups_sum_to_the_total():
    ops = [op("conv", flops=1e9, nbytes=1e6)] * 3 + [op("pool", flops=1e3, nbytes=1e7)]
    ops[3].stage = "t"
    groups = breakdown(ops, get_device("l4"), "float16", key=lambda o: o.stage)
    total = summarize_ops(ops, get_device("l4"), "float16")
    assert sum(g["latency_bound_ms"] for g in groups.values()) == pytest.approx(
        total["latency_bound_ms"]
    )
