"""Timing, throughput back-off and peak memory: fields, statistics and logic (no targets)."""

import contextlib
import itertools

import pytest
import torch
from stbench.bench.measure import memory, timing
from stbench.bench.measure.timing import (
    Prepared,
    Protocol,
    check_device,
    check_dtype,
    is_oom_error,
    measure_latency,
    measure_throughput,
    oom_backoff,
    run_protocol,
    summarize,
)
from torch import nn

FAST = dict(
    warmup_s=0.0,
    min_warmup_iters=1,
    max_warmup_iters=3,
    min_iters=5,
    max_iters=8,
    min_time_s=0.0,
    max_time_s=5.0,
)


def tiny() -> nn.Module:
    return nn.Sequential(
        nn.Conv3d(3, 4, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool3d(1),
        nn.Flatten(),
        nn.Linear(4, 5),
    )


class OOMAbove(nn.Module):
    """Raises CUDA's OOM error when the batch is larger than `limit`."""

    def __init__(self, limit: int, exc: type[Exception] = torch.OutOfMemoryError):
        super().__init__()
        self.limit, self.exc, self.lin = limit, exc, nn.Linear(3, 2)

    def forward(self, x):
        if x.shape[0] > self.limit:
            raise self.exc("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.lin(x.mean(dim=(2, 3, 4)))


def test_latency_fields_are_present_and_sane():
    r = measure_latency(tiny(), (1, 3, 2, 8, 8), **FAST)
    assert 5 <= r["iterations"] <= 8
    assert 1 <= r["warmup_iterations"] <= 3
    assert 0 < r["latency_ms_min"] <= r["latency_ms_median"] <= r["latency_ms_p90"]
    assert r["latency_ms_p90"] <= r["latency_ms_max"]
    assert r["latency_ms_iqr"] >= 0 and r["latency_ms_mean"] > 0
    assert r["timer"] == "perf_counter"
    assert r["threads"] == torch.get_num_threads()
    assert r["cudnn_benchmark"] is None  # CPU: not applicable
    assert r["autocast_dtype"] is None and r["memory_format"] == "contiguous"
    assert r["compiled"] is False and r["input_shape"] == [1, 3, 2, 8, 8]
    assert r["stop_reason"] in ("stable", "max_iters", "max_time")


def test_latency_records_autocast_and_channels_last():
    r = measure_latency(tiny(), (1, 3, 2, 8, 8), dtype="bf16", channels_last=True, **FAST)
    assert r["autocast_dtype"] == "bfloat16"
    assert r["memory_format"] == "channels_last_3d"


def test_a_prepared_model_is_measured_as_it_is(monkeypatch):
    prep = timing.prepare(tiny(), channels_last=True)
    monkeypatch.setattr(timing, "prepare", lambda *a, **k: pytest.fail("prepared again"))
    shape = (1, 3, 2, 8, 8)
    lat = measure_latency(prep, shape, **FAST)
    thr = measure_throughput(prep, shape, batch=2, **FAST)
    mem = memory.measure_peak_memory(prep, shape)
    assert lat["memory_format"] == thr["memory_format"] == "channels_last_3d"
    assert lat["latency_ms_median"] > 0 and thr["throughput_batch_used"] == 2
    assert mem["peak_mem_mib"] > 0
    with pytest.raises(ValueError, match="memory option: unknown"):
        memory.measure_peak_memory(prep, shape, min_iters=3)
    with pytest.raises(ValueError, match="device: already fixed by the prepared model"):
        measure_latency(prep, shape, device="cpu", **FAST)


def test_unknown_protocol_option_names_the_allowed_ones():
    with pytest.raises(ValueError, match="timing option: unknown.*allowed: warmup_s"):
        measure_latency(tiny(), (1, 3, 2, 8, 8), warmpu_s=1)


@pytest.mark.parametrize(
    "shape", [(1, 3, 0, 8, 8), (), (1, 3, 2.5, 8, 8)], ids=["zero", "empty", "float"]
)
def test_bad_input_shape(shape):
    with pytest.raises(ValueError, match="input_shape"):
        measure_latency(tiny(), shape, **FAST)


def test_device_and_dtype_checks():
    with pytest.raises(ValueError, match="device: got 'tpu'; allowed: cpu, cuda"):
        check_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            check_device("cuda")
    with pytest.raises(ValueError, match="dtype: got 'int8'; allowed: float32"):
        check_dtype("int8")
    assert check_dtype(torch.float16) == "float16" and check_dtype("fp32") == "float32"


def test_summary_statistics_on_known_samples():
    s = summarize([float(v) for v in range(10, 0, -1)])
    assert s["latency_ms_median"] == pytest.approx(5.5)
    assert s["latency_ms_iqr"] == pytest.approx(4.5)  # 7.75 - 3.25
    assert s["latency_ms_p90"] == pytest.approx(9.1)
    assert s["latency_ms_mean"] == pytest.approx(5.5)
    assert summarize([2.0], prefix="x_")["x_std"] == 0.0


def fake_clock(step: float = 0.001):
    counter = itertools.count()
    return lambda: next(counter) * step


def test_protocol_stops_when_stable():
    p = Protocol(warmup_s=0, min_warmup_iters=1, warmup_window=3, min_iters=7, min_time_s=0)
    r = run_protocol(lambda: None, lambda fn: 10.0, p, clock=fake_clock())
    assert r["warmup_stable"] and r["warmup_iterations"] == 6  # two windows of 3
    assert r["stop_reason"] == "stable" and len(r["samples_ms"]) == 7


def test_protocol_runs_longer_when_noisy_and_respects_caps():
    noisy = itertools.cycle([1.0, 100.0])
    p = Protocol(warmup_s=0, max_warmup_iters=4, min_iters=5, max_iters=12, min_time_s=0)
    r = run_protocol(lambda: None, lambda fn: next(noisy), p, clock=fake_clock())
    assert not r["warmup_stable"] and r["warmup_iterations"] == 4
    assert r["stop_reason"] == "max_iters" and len(r["samples_ms"]) == 12
    p = Protocol(warmup_s=0, max_warmup_iters=2, min_iters=50, max_time_s=0.01, min_time_s=0)
    r = run_protocol(lambda: None, lambda fn: next(noisy), p, clock=fake_clock(0.004))
    assert r["stop_reason"] == "max_time" and len(r["samples_ms"]) < 50


def test_fixed_rounds_meet_min_iters_and_min_time_within_the_caps():
    p = Protocol(min_iters=20, min_time_s=1.0, max_iters=300, max_time_s=20.0)
    assert p.fixed_rounds(200.0) == 20  # 20 x 0.2 s already passes 1 s
    assert p.fixed_rounds(10.0) == 100  # 1 s of 10 ms forwards
    assert p.fixed_rounds(0.001) == 300  # max_iters
    assert p.fixed_rounds(5000.0) == 4  # 20 s of 5 s forwards


def test_cuda_event_timer_synchronizes_and_reads_elapsed_time(monkeypatch):
    calls = []

    class FakeEvent:
        def __init__(self, enable_timing=False):
            assert enable_timing

        def record(self):
            calls.append("record")

        def synchronize(self):
            calls.append("sync")

        def elapsed_time(self, other):
            return 4.5

    monkeypatch.setattr(torch.cuda, "Event", FakeEvent)
    monkeypatch.setattr(torch.cuda, "device", lambda d: contextlib.nullcontext())
    t = timing.make_timer("cuda:0")
    assert t(lambda: calls.append("fn")) == 4.5
    assert calls == ["record", "fn", "record", "sync"]
    assert timing.timer_name("cuda:0") == "cuda_event"


@pytest.mark.parametrize(
    "exc, oom",
    [
        (torch.OutOfMemoryError("x"), True),
        (RuntimeError("CUDA out of memory. Tried to allocate 20.00 MiB"), True),
        (RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried"), True),
        (MemoryError(), True),
        (RuntimeError("shape mismatch"), False),
        (ValueError("out of memory"), False),
    ],
)
def test_is_oom_error(exc, oom):
    assert is_oom_error(exc) is oom


def test_oom_backoff_halves_until_it_fits():
    tried = []

    def fn(b):
        tried.append(b)
        if b > 8:
            raise torch.OutOfMemoryError("CUDA out of memory")
        return f"ran {b}"

    cleaned = []
    result, used, failed = oom_backoff(fn, 64, cleanup=lambda: cleaned.append(1))
    assert (result, used, failed) == ("ran 8", 8, [64, 32, 16])
    assert tried == [64, 32, 16, 8] and len(cleaned) == 3


def test_oom_backoff_reraises_at_min_batch_and_passes_other_errors():
    def always_oom(b):
        raise RuntimeError("CUDA out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        oom_backoff(always_oom, 4, min_batch=2, cleanup=lambda: None)
    tried = []

    def broken(b):
        tried.append(b)
        raise RuntimeError("size mismatch")

    with pytest.raises(RuntimeError, match="size mismatch"):
        oom_backoff(broken, 16, cleanup=lambda: None)
    assert tried == [16]


@pytest.mark.parametrize("exc", [torch.OutOfMemoryError, RuntimeError])
def test_throughput_records_requested_and_used_batch(exc):
    r = measure_throughput(OOMAbove(2, exc), (1, 3, 2, 4, 4), batch=8, **FAST)
    assert r["throughput_batch_requested"] == 8 and r["throughput_batch_used"] == 2
    assert r["throughput_oom_batches"] == [8, 4]
    med_s = r["throughput_latency_ms_median"] / 1e3
    assert r["throughput_clips_per_s"] == pytest.approx(2 / med_s)


def test_allocation_replay_peak():
    events = [(3, -100), (1, 100), (2, 50), (4, 10)]  # sorted by time: +100 +50 -100 +10
    assert memory.allocation_peak(events) == 150
    assert memory.allocation_peak([]) == 0


def test_cpu_peak_memory_counts_activations():
    model = nn.Sequential(nn.Conv3d(3, 64, 3, padding=1), nn.ReLU())
    r = memory.measure_peak_memory(model, (1, 3, 4, 32, 32))
    activation_mib = 64 * 4 * 32 * 32 * 4 / 2**20  # one float32 output map: 1 MiB
    assert r["weights_mib"] == pytest.approx(memory.weights_bytes(model) / 2**20)
    assert r["peak_mem_minus_weights_mib"] >= activation_mib
    assert r["peak_mem_mib"] == pytest.approx(r["weights_mib"] + r["peak_mem_minus_weights_mib"])
    assert "profiler" in r["peak_mem_method"] or "ru_maxrss" in r["peak_mem_method"]


def test_cuda_peak_path_uses_reset_and_max_allocated(monkeypatch):
    calls = []
    fake = {
        "synchronize": lambda d=None: calls.append("sync"),
        "empty_cache": lambda: calls.append("empty"),
        "is_available": lambda: True,
        "reset_peak_memory_stats": lambda d=None: calls.append("reset"),
        "memory_allocated": lambda d=None: 1000,
        "max_memory_allocated": lambda d=None: 5000,
    }
    for name, fn in fake.items():
        monkeypatch.setattr(torch.cuda, name, fn)
    prep = Prepared(tiny().eval(), "cuda", "float32", "contiguous", False, None)
    r = memory._cuda_peak(prep, torch.randn(1, 3, 2, 8, 8))
    assert r == {
        "peak_mem_bytes": 5000,
        "peak_mem_before_bytes": 1000,
        "peak_mem_method": "cuda.max_memory_allocated",
    }
    assert calls.index("reset") < len(calls) - 1 and calls[-1] == "sync"


def test_cudnn_benchmark_flag_is_set_for_the_run_and_restored():
    old = torch.backends.cudnn.benchmark
    with timing.cudnn_autotune("cuda:0", not old) as flag:
        assert flag is (not old) and torch.backends.cudnn.benchmark is (not old)
    assert torch.backends.cudnn.benchmark is old
    with timing.cudnn_autotune("cpu", True) as flag:
        assert flag is None and torch.backends.cudnn.benchmark is old
