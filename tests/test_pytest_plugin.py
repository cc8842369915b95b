"""stbench's pytest plugin as a user meets it: a separate test file run under `pytester`."""

from __future__ import annotations

import json

import pytest
import torch
import torch._dynamo  # noqa: F401
from stbench.bench.store.results import ResultsStore

# pytester drops the modules a run imports when it ends; torch._dynamo (imported during the
# in-process runs) registers a C++ op library that cannot be registered twice, so a later
# re-import in another test would fail. Importing it here keeps it out of that clean-up.

pytest_plugins = ["pytester"]

USER_SUITE = """
import os
import time

import torch
from torch import nn


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv3d(3, 4, 3, padding=1, bias=False)
        self.fc = nn.Linear(4, 5)

    def forward(self, x):
        time.sleep(float(os.environ.get("TINY_DELAY", "0")))
        return self.fc(self.conv(x).mean((2, 3, 4)))


def test_tiny(stbench_bench):
    out = stbench_bench(TinyNet(), frames=4, size=32)
    assert tuple(out.shape) == (1, 5)
"""
PLAIN_BENCHMARK = """

def test_plain(benchmark):
    benchmark(sum, [1, 2, 3])
"""
FAST = ("--bench-rounds", "3", "--bench-warmup", "1")
# conv: Cout * T*H*W * Cin * k^3; linear: in * out
TINY_MACS = 4 * (4 * 32 * 32) * 3 * 27 + 4 * 5
TINY_PARAMS = 4 * 3 * 27 + 4 * 5 + 5


def test_user_suite_writes_extra_info_and_store_rows(pytester):
    pytester.makepyfile(test_user=USER_SUITE + PLAIN_BENCHMARK)
    res = pytester.runpytest(*FAST, "--benchmark-json=out.json", "--stbench-store=runs.sqlite")
    res.assert_outcomes(passed=2)
    res.stdout.fnmatch_lines(["stbench: wrote 1 row(s) to runs.sqlite, skipped 1 *"])
    doc = json.loads((pytester.path / "out.json").read_text())
    info = next(b for b in doc["benchmarks"] if b["name"] == "test_tiny")["extra_info"]
    assert (info["model"], info["frames"], info["size"], info["batch"]) == ("TinyNet", 4, 32, 1)
    assert (info["num_classes"], info["input_shape"]) == (5, [1, 3, 4, 32, 32])
    assert (info["params"], info["macs"], info["flops"]) == (TINY_PARAMS, TINY_MACS, 2 * TINY_MACS)
    assert (info["device"], info["dtype"], info["counter"]) == ("cpu", "float32", "meta")
    assert info["device_name"] and info["threads"] >= 1 and info["rounds"] == 3
    assert info["warmup_iterations"] == 1 and info["timer"] == "perf_counter"
    assert doc["machine_info"]["stbench"]["torch_version"] == torch.__version__
    with ResultsStore(pytester.path / "runs.sqlite", readonly=True) as store:
        rows = store.rows(with_run=True)
    assert len(rows) == 1
    row = rows[0]
    assert (row["model"], row["macs"], row["params"]) == ("TinyNet", TINY_MACS, TINY_PARAMS)
    assert row["latency_ms_median"] > 0 and row["iterations"] == 3
    assert row["benchmark_name"].endswith("test_user.py::test_tiny")


def test_compare_fail_on_two_saved_runs(pytester, monkeypatch):
    pytester.makepyfile(test_user=USER_SUITE)
    monkeypatch.setenv("TINY_DELAY", "0")
    pytester.runpytest(*FAST, "--benchmark-save=fast").assert_outcomes(passed=1)
    monkeypatch.setenv("TINY_DELAY", "0.02")
    compare = ("--benchmark-compare=0001", "--benchmark-compare-fail=min:50%")
    res = pytester.runpytest(*FAST, *compare)
    assert res.ret != 0
    assert "Performance has regressed" in res.stdout.str() + res.stderr.str()
    assert "machine_info is different" not in res.stdout.str() + res.stderr.str()


def test_benchmark_disable_runs_each_model_once_and_stores_nothing(pytester):
    pytester.makepyfile(test_user=USER_SUITE)
    res = pytester.runpytest("--benchmark-disable", "--stbench-store=runs.sqlite")
    res.assert_outcomes(passed=1)
    assert "stbench: wrote" not in res.stdout.str()


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_unavailable_device_is_one_usage_line(pytester):
    pytester.makepyfile(test_user=USER_SUITE)
    res = pytester.runpytest("--bench-device", "cuda")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    lines = [line for line in res.errlines + res.outlines if line.strip()]
    assert lines == [
        "ERROR: --bench-device cuda: CUDA is not available on this machine; allowed: cpu"
    ]


def test_bad_options_are_usage_errors(pytester):
    pytester.makepyfile(test_user=USER_SUITE)
    for args, message in [
        (("--bench-dtype", "fp8"), "*--bench-dtype: got 'fp8'; allowed: float32*"),
        (("--bench-rounds", "0"), "*--bench-rounds: got 0; allowed: an integer >= 1*"),
        (("--stbench-store", str(pytester.path)), "*--stbench-store*"),
    ]:
        res = pytester.runpytest(*args)
        assert res.ret == pytest.ExitCode.USAGE_ERROR
        res.stderr.fnmatch_lines([message])


def test_without_pytest_benchmark_the_fixture_skips(pytester):
    pytester.makepyfile(test_user=USER_SUITE)
    res = pytester.runpytest("-p", "no:benchmark", "-rs")
    res.assert_outcomes(skipped=1)
    res.stdout.fnmatch_lines(["*stbench_bench needs pytest-benchmark (pip install*"])
    res = pytester.runpytest("-p", "no:benchmark", "--stbench-store=x.sqlite")
    assert res.ret == pytest.ExitCode.USAGE_ERROR
    res.stderr.fnmatch_lines(["*--stbench-store: needs pytest-benchmark*"])


BUSY = """

def test_busy(stbench_bench, monkeypatch):
    monkeypatch.setattr(os, "getloadavg", lambda: (1000.0, 1000.0, 1000.0))
    stbench_bench(TinyNet(), frames=4, size=32)
"""


def test_extra_info_records_load_threads_and_flags_a_busy_machine(pytester):
    pytester.makepyfile(test_user=USER_SUITE + BUSY)
    argv = (*FAST, "--bench-threads", "1", "--benchmark-json=out.json")
    res = pytester.runpytest(*argv, "--stbench-store=runs.sqlite")
    res.assert_outcomes(passed=2)
    res.stdout.fnmatch_lines(["*NoisyTiming: stbench_bench test_busy: load average 1000 above*"])
    doc = json.loads((pytester.path / "out.json").read_text())
    info = {b["name"]: b["extra_info"] for b in doc["benchmarks"]}
    for name in ("test_tiny", "test_busy"):
        assert info[name]["threads"] == 1 and info[name]["cpus"] >= 1
        assert isinstance(info[name]["load_avg_1m"], float)
    assert info["test_busy"]["load_avg_1m"] == 1000.0
    assert any("load average 1000 above" in f for f in info["test_busy"]["timing_flags"])
    with ResultsStore(pytester.path / "runs.sqlite", readonly=True) as store:
        rows = {r["benchmark_name"].rsplit("::", 1)[1]: r for r in store.rows()}
    assert rows["test_busy"]["noisy"] and "load average" in rows["test_busy"]["noisy_reason"]
    assert torch.get_num_threads() >= 1
    res = pytester.runpytest("--bench-threads", "0")
    assert res.ret == pytest.ExitCode.USAGE_ERROR


def test_rounds_on_scheduler_ticks_are_flagged():
    from stbench.bench.measure.benchmark_run import tick_quantised, timing_flags

    ticks = [0.52 + 4.0 * k + 0.05 * (k % 3) for k in (8, 9, 8, 10, 9, 8, 11, 9, 8, 9, 10, 8)]
    assert tick_quantised(ticks) == 4.0
    assert "~4 ms scheduler ticks" in timing_flags(ticks, 0.5, 16)[0]
    steady = [36.0 + 0.3 * ((7 * i) % 5) for i in range(28)]  # ordinary jitter
    spread = [36.0 + 0.37 * i for i in range(28)]  # a wide, even spread: not on a grid
    assert tick_quantised(steady) is None and tick_quantised(spread) is None
    assert timing_flags(steady, 0.5, 16) == [] and timing_flags(steady, 3.0, 2)
