"""Sweeps and profiles under faults: bad options store nothing, failures set the exit status
and are retried, out of memory is a one-line result, hopeless inputs are refused up front."""

from __future__ import annotations

import json
import sqlite3

import pytest
import test_sweep  # noqa: F401  (registers FAKE; tests/ is on sys.path under pytest)
from stbench.bench.config import ProfileConfig
from stbench.bench.count.static import count_static
from stbench.bench.measure import fit
from stbench.bench.store.results import ResultsStore
from stbench.bench.sweep.driver import Task
from stbench.cli import main

FAKE = "test_sweep:fake_profile"


def _rows(path) -> int:
    if not path.exists():
        return 0
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        return (
            conn.execute("SELECT COUNT(*) FROM history").fetchone()[0] if "history" in tables else 0
        )


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--counters", "bogus"], "counters: unknown counter 'bogus'"),
        (["--frames", "3"], "r3d_resnet18 at 3 frames, 112 px: frames: got 3"),
        (["--frames", "0"], "--frames: got 0; allowed: an integer >= 1"),
        (["--dtype", "int8"], "dtype: got 'int8'"),
        (["--time", "--max-iters", "x"], "--max-iters: got 'x'"),
        (["--timeout", "0"], "--timeout: got 0"),
    ],
)
def test_bad_sweep_options_store_nothing_and_exit_2(tmp_path, capsys, argv, message):
    store = tmp_path / "s.sqlite"
    code = main(["sweep", "r3d*", "--store", str(store), "--no-progress", *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.strip().count("\n") <= 1
    assert _rows(store) == 0


def _task_lines(*models: str) -> str:
    return "".join(Task(m, 4, 32, profiler=FAKE).to_json() + "\n" for m in models)


def test_failed_tasks_give_exit_1_listed_and_are_retried(tmp_path, capsys, monkeypatch):
    import io

    store = str(tmp_path / "s.sqlite")
    argv = ["sweep", "--task", "-", "--store", store, "--no-isolate", "--no-progress"]
    monkeypatch.setattr("sys.stdin", io.StringIO(_task_lines("a", "raises")))
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "ran 2 (1 failed)" in out
    assert "failed raises/f4/s32" in out and "CUDA out of memory" in out
    monkeypatch.setattr("sys.stdin", io.StringIO(_task_lines("a", "raises")))
    assert main(argv) == 1  # retried by default
    assert "ran 1 (1 failed), skipped 1 already stored" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO(_task_lines("a", "raises")))
    assert main([*argv, "--no-retry"]) == 0
    assert "1 not retried after failing" in capsys.readouterr().out


def test_out_of_memory_is_one_line_and_a_failure_row(tmp_path, capsys, monkeypatch):
    from stbench.bench.measure import profiler

    def oom(*a, **k):
        raise RuntimeError(
            "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough "
            "memory: you tried to allocate 51200000000 bytes."
        )

    monkeypatch.setattr(profiler, "measure_latency", oom)
    store = tmp_path / "s.sqlite"
    code = main(["profile", "r3d_resnet18", "--size", "32", "--time", "--store", str(store)])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert "r3d_resnet18: out of memory during timing: tried to allocate 47.68 GiB" in err
    (row,) = ResultsStore(store, readonly=True).rows()
    assert row["status"] == "failed" and row["error"].startswith("out of memory")
    # the same error inside a sweep task is a failure row, not a crash
    (task,) = [Task("r3d_resnet18", 8, 32, time=True)]
    from stbench.bench.sweep.driver import run_task

    failed = run_task(task)
    assert failed["oom"] is True and failed["error"].startswith("out of memory during timing")


def test_a_configuration_that_cannot_fit_is_refused_up_front(capsys, monkeypatch):
    monkeypatch.setattr(fit, "available_memory", lambda device: fit.GIB // 20)  # 0.05 GiB
    code = main(["profile", "r3d_resnet18", "--size", "112", "--time"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "needs at least 0.13 GiB" in err and "cpu has 0.05 GiB available" in err
    assert (
        "error: --size/--batch: r3d_resnet18 at" in err
    )  # the CLI names the option, fit the field
    assert main(["profile", "r3d_resnet18", "--size", "112"]) == 0  # counting alone is fine


def test_memory_lower_bound_counts_weights_and_the_largest_activation():
    cfg = ProfileConfig.for_model("r3d_resnet18", size=112, batch=4, timing=True)
    sc = count_static(cfg.static())
    stem_out = 64 * 8 * 56 * 56  # conv1 output of one clip: 64 channels, T=8, 56x56
    assert sc.largest_activation == stem_out
    assert fit.memory_lower_bound(cfg, sc) == 4 * sc.params + 4 * stem_out * 4
    fit.check_fits(cfg, sc, available=10 * fit.GIB)
    with pytest.raises(ValueError, match=r"^size/batch: r3d_resnet18 at 4x3x8x112x112"):
        fit.check_fits(cfg, sc, available=1000)


def test_asked_bytes_reads_cpu_and_cuda_messages():
    assert fit.asked_bytes("you tried to allocate 51200000000 bytes.") == 51_200_000_000
    assert fit.asked_bytes("CUDA out of memory. Tried to allocate 9.00 GiB") == 9 * 2**30
    assert fit.asked_bytes("something else") is None


def test_protocol_options_reach_the_row(capsys):
    argv = ["profile", "r3d_resnet18", "--size", "32", "--time", "--format", "json"]
    assert main([*argv, "--min-iters", "2", "--max-iters", "3", "--warmup", "0.01"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["iterations"] <= 3 and row["protocol_overrides"]["max_iters"] == 3
    assert main([*argv, "--threads", "1", "--max-iters", "2", "--min-iters", "2"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["threads"] == 1


def test_ray_executor_without_ray_is_one_line_naming_the_extra(tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    argv = ["sweep", "r3d_resnet18", "--store", str(tmp_path / "s.sqlite"), "--executor", "ray"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == (
        "stbench sweep: error: --executor ray: Ray is not installed; "
        "install it with: pip install 'stbench[ray]'\n"
    )
    assert not (tmp_path / "s.sqlite").exists()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--address", "h:1"], "--address/--ray-cpus/--ray-resource: only with --executor ray"),
        (["--executor", "ray", "--ray-resource", "h100"], "--ray-resource: got 'h100'"),
        (
            ["--executor", "ray", "--ray-cpus", "0"],
            "--ray-cpus: got 0; allowed: a finite number > 0",
        ),
    ],
)
def test_bad_executor_flags_are_one_line(tmp_path, capsys, flags, message):
    argv = ["sweep", "r3d_resnet18", "--store", str(tmp_path / "s.sqlite"), *flags]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_a_cross_check_the_store_lacks_is_still_to_do(tmp_path):
    from stbench.bench.sweep.driver import task_state

    store = ResultsStore(tmp_path / "s.sqlite")
    (meta,) = [Task("r3d_resnet18", 8, 32)]
    (checked,) = [Task("r3d_resnet18", 8, 32, counters=("meta", "fvcore"))]
    store.add_row({**meta.stub(), "params": 1, "macs": 2, "counters": {"meta": {"macs": 2}}})
    assert task_state(store, meta) == "done"
    assert task_state(store, checked) == "todo"


def test_usage_errors_are_one_line(capsys):
    assert main(["sweep", "r3d_resnet18", "--frames", "8,16"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("stbench sweep: error: --frames: got '8,16'; allowed: an integer >= 1")


def test_short_or_unstable_timings_are_noisy():
    from stbench.bench.store.history import noisy_reason

    stable = {"latency_ms_median": 10.0, "latency_ms_iqr": 0.1, "iterations": 20}
    assert noisy_reason(stable) is None
    assert "only 1 timed iteration" in noisy_reason({**stable, "iterations": 1})
    assert "warm-up never stabilised" in noisy_reason({**stable, "warmup_stable": False})


def test_a_short_warm_up_is_trusted_only_when_the_timed_samples_are_steady():
    from stbench.bench.measure.timing import drift
    from stbench.bench.store.history import noisy_reason

    row = {"latency_ms_median": 10.0, "latency_ms_iqr": 0.1, "iterations": 6}
    steady, settling = [10.0, 10.1, 9.9, 10.0, 10.1, 10.0], [13.0, 12.0, 11.0, 10.0, 10.0, 10.0]
    assert drift(steady) < 0.05 < drift(settling)
    assert drift([10.0, 10.0, 10.0]) is None
    unstable = {**row, "warmup_stable": False}
    assert noisy_reason({**unstable, "latency_drift_rel": drift(steady)}) is None
    assert "warm-up never stabilised" in noisy_reason(
        {**unstable, "latency_drift_rel": drift(settling)}
    )
