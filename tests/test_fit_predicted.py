"""On CUDA, memory fit and the throughput batch come from the predicted peak (fakes: no GPU)."""

from __future__ import annotations

import dataclasses

import pytest
from stbench.bench.config import ProfileConfig
from stbench.bench.count.static import count_static
from stbench.bench.measure import fit, profiler
from stbench.bench.predict.predictor import predict

GIB = fit.GIB


def linear(base: int, per: int):
    calls = []

    def peak(batch: int) -> int:
        calls.append(batch)
        return base + per * batch

    return peak, calls


def test_largest_batch_under_the_limit():
    peak, _ = linear(100, 50)
    assert fit.largest_batch(peak, 1000, most=1000) == 18  # 100 + 50 * 18 = 1000
    assert fit.largest_batch(peak, 1000, most=5) == 5
    assert fit.largest_batch(peak, 149, most=8) == 0  # not even one clip fits
    assert fit.largest_batch(peak, 150, most=8) == 1
    superlinear = lambda b: 100 + 10 * b * b  # noqa: E731 - the line overshoots; steps down
    best = fit.largest_batch(superlinear, 1000, most=1000)
    assert superlinear(best) <= 1000 < superlinear(best + 1) or best == 1


def test_predicted_peak_is_the_device_models():
    cfg = ProfileConfig.for_model("r3d_resnet18", frames=8, size=32, batch=2, timing=True)
    expected = predict("r3d_resnet18", gpu="h100_sxm", batch=2, frames=8, size=32)
    assert fit.predicted_peak(cfg, 2) == expected["peak_memory_bytes"]
    assert fit.predicted_peak(dataclasses.replace(cfg, model="mine"), 2) is None


def test_cuda_refuses_a_configuration_predicted_not_to_fit(monkeypatch):
    cfg = ProfileConfig.for_model("r3d_resnet18", size=112, batch=4, timing=True, device="cuda")
    sc = count_static(dataclasses.replace(cfg, device="cpu").static())
    monkeypatch.setattr(fit, "predicted_peak", lambda c, b: 3 * GIB)
    fit.check_fits(cfg, sc, available=4 * GIB)
    with pytest.raises(ValueError) as err:
        fit.check_fits(cfg, sc, available=2 * GIB)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("batch: r3d_resnet18 at 4x3x8x112x112")
    assert "predicted to need 3.00 GiB" in msg and "cuda has 2.00 GiB free" in msg
    # on the CPU the prediction is not asked for: the lower bound decides
    monkeypatch.setattr(fit, "predicted_peak", lambda c, b: pytest.fail("predicted on cpu"))
    fit.check_fits(dataclasses.replace(cfg, device="cpu"), sc, available=2 * GIB)


def test_throughput_starts_at_the_largest_predicted_batch(monkeypatch):
    cfg = ProfileConfig.for_model("r3d_resnet18", size=112, throughput_batch=256, device="cuda")
    peak, _ = linear(GIB, GIB // 2)
    monkeypatch.setattr(fit, "device_memory", lambda device: 10 * GIB)
    monkeypatch.setattr(fit, "predicted_peak", lambda c, b: peak(b))
    assert fit.throughput_start(cfg, 256) == (16, 16)  # 1 + 0.5 b <= 9 GiB
    assert fit.throughput_start(cfg, 8) == (8, 8)  # never above the batch asked for
    monkeypatch.setattr(fit, "device_memory", lambda device: None)  # the CPU
    assert fit.throughput_start(cfg, 256) == (256, None)


def test_measure_times_throughput_from_the_predicted_start(monkeypatch):
    cfg = ProfileConfig.for_model("r3d_resnet18", size=112, throughput_batch=256, device="cuda")
    asked = []

    def fake_throughput(prep, clip, *, batch, **protocol):
        asked.append(batch)
        return {"throughput_clips_per_s": 1.0, "throughput_batch_requested": batch}

    monkeypatch.setattr(profiler, "throughput_start", lambda c, requested: (12, 12))
    monkeypatch.setattr(profiler, "measure_throughput", fake_throughput)
    row = profiler.measure(None, cfg, cfg.input_shape)
    assert asked == [12] and row["throughput_batch_predicted_max"] == 12
    assert row["throughput_batch_requested"] == 256
