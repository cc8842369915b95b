"""The one GEMM probe (`bench.probes`): both users time their products through it, with
their own calls and warm-up, and read the best call (a fake clock: nothing here is timed)."""

from __future__ import annotations

import itertools

import pytest
from stbench.bench import probes


class FakeClock:
    """perf_counter that advances by the next of `durations` at every timed call's end."""

    def __init__(self, durations: list[float]) -> None:
        self.now, self.durations, self.started = 0.0, iter(durations), False

    def __call__(self) -> float:
        if self.started:
            self.now += next(self.durations)
        self.started = not self.started
        return self.now


def test_best_seconds_is_the_best_timed_call_after_the_warm_up(monkeypatch):
    calls = itertools.count()
    monkeypatch.setattr(probes.time, "perf_counter", FakeClock([3.0, 1.0, 2.0]))
    assert probes.best_seconds(lambda: next(calls), 3, warmup=2) == 1.0
    assert next(calls) == 5  # 2 warm-up calls, 3 timed


def test_the_gemm_rate_and_the_cpu_device_peaks_come_from_the_one_probe(monkeypatch):
    from stbench.bench.measure import efficiency
    from stbench.bench.predict import cpu_device

    seen = []

    def gemm_seconds(n, *, calls, warmup, **how):
        seen.append((n, calls, warmup, how))
        return 0.5

    monkeypatch.setattr(probes, "gemm_seconds", gemm_seconds)
    monkeypatch.setattr(efficiency, "gemm_seconds", gemm_seconds)
    monkeypatch.setattr(cpu_device, "gemm_seconds", gemm_seconds)
    monkeypatch.setenv("STBENCH_GEMM_N", "64")
    assert efficiency.probe_gemm("cpu", "bfloat16") == pytest.approx(64**3 / 0.5 / 1e9)
    got = cpu_device.probe(1, n=32, copy_mib=1)
    assert got["fp32_flops"] == got["bf16_flops"] == pytest.approx(2 * 32**3 / 0.5)
    gemm_rate_call, fp32, bf16 = seen
    assert gemm_rate_call[:3] == (64, efficiency.GEMM_CALLS, efficiency.GEMM_WARMUP)
    assert gemm_rate_call[3]["autocast"] is not None  # float32 operands under autocast
    assert fp32[:3] == bf16[:3] == (32, 5, 1) and "autocast" not in bf16[3]


def test_a_real_small_product_runs_with_and_without_autocast():
    import torch

    assert probes.gemm_seconds(32, calls=2, warmup=1) > 0
    assert probes.gemm_seconds(32, calls=1, warmup=0, autocast=torch.bfloat16) > 0
