"""Sweeps: stable task keys, failure rows, isolation, and resume after a crash.

The fake profiler below is module-level so that `python -m stbench.bench.sweep.isolate` children can
import it by this module's name (tests/ is put on their PYTHONPATH); it imports no torch,
so children start fast.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from stbench.bench.store.results import ResultsStore
from stbench.bench.sweep import driver as sweep_mod
from stbench.bench.sweep.driver import (
    Task,
    is_done,
    parse_isolated_output,
    register_profiler,
    run_sweep,
    run_task,
    shard,
)
from stbench.cli import main

ROOT = Path(__file__).resolve().parent.parent
CALLS: list[str] = []
ENV = {"host": "test-host", "torch_version": "x"}


def fake_profile(model, *, frames, size, batch, num_classes, timing=False, **kw):
    """A profiler stand-in: deterministic numbers, crash/kill/hang on special names."""
    CALLS.append(model)
    if model == "raises":
        raise RuntimeError("CUDA out of memory. Tried to allocate 9.00 GiB")
    if model == "kills" or model == os.environ.get("STBENCH_TEST_KILL", "-"):
        os.kill(os.getpid(), signal.SIGKILL)
    if model == "hangs":
        time.sleep(30)
    if model == "interrupts":
        raise KeyboardInterrupt
    print("noise on stdout from model code")
    row = {"model": model, "frames": frames, "params": 1000 + frames, "macs": size * batch}
    if timing:
        row["latency_ms_median"] = 1.5
    return row


PROFILER = f"{__name__}:fake_profile"
register_profiler(fake_profile)  # tasks name only registered profilers
TESTS_PATH = os.pathsep.join([str(ROOT / "tests"), str(ROOT)])


def tasks(*models, **kw):
    return [Task(m, frames=4, size=32, profiler=PROFILER, **kw) for m in models]


@pytest.fixture(autouse=True)
def _clear_calls(monkeypatch):
    CALLS.clear()
    monkeypatch.setenv("PYTHONPATH", TESTS_PATH)  # lets isolated children import PROFILER


@pytest.fixture
def db(tmp_path):
    with ResultsStore(tmp_path / "s.sqlite") as s:
        yield s


def test_task_json_round_trip_and_stable_id():
    t = Task("mc3_resnet18", frames=8, size=112, batch=2, channels_last=True, time=True)
    again = Task.from_json(t.to_json())
    assert again == t and again.key == t.key
    assert t.task_id == "mc3_resnet18/f8/s112/b2/c400/cpu/float32/channels_last_3d/eager"
    assert t.key == ("mc3_resnet18", 8, 112, 2, 400, "cpu", "float32", "channels_last_3d", 0)
    with pytest.raises(ValueError, match="unknown field"):
        Task.from_json('{"model": "a", "frames": 1, "size": 1, "colour": 2}')
    with pytest.raises(ValueError, match="not valid JSON"):
        Task.from_json("{")
    with pytest.raises(ValueError, match="frames: got"):
        Task("a", frames=0, size=1)


def test_shards_partition_the_tasks():
    ts = [Task(f"m{i}", frames=8, size=112) for i in range(40)]
    parts = [shard(ts, i, 3) for i in range(3)]
    assert sorted(t.task_id for p in parts for t in p) == sorted(t.task_id for t in ts)
    assert all(parts)
    with pytest.raises(ValueError, match="shard"):
        shard(ts, 3, 3)


def test_build_tasks_from_pattern(monkeypatch):
    from stbench import zoo

    class Spec:
        default_frames, default_size, default_classes = 16, 112, 400

    monkeypatch.setattr(
        zoo, "list_models", lambda p: [n for n in ("a1", "a2", "b1") if n[0] == p[0]]
    )
    monkeypatch.setattr(zoo, "get_spec", lambda n: Spec())
    ts = sweep_mod.build_tasks("a*,b*", [8, 16], None, [1, 4], time=True)
    assert len(ts) == 3 * 2 * 2 and {t.size for t in ts} == {112} and all(t.time for t in ts)
    assert len({t.task_id for t in ts}) == len(ts)
    with pytest.raises(ValueError, match="no zoo model matches"):
        sweep_mod.build_tasks("zz*")
    with pytest.raises(ValueError, match="frames: got"):
        sweep_mod.build_tasks("a*", [0])
    with pytest.raises(ValueError, match="device: got 'tpu'"):
        sweep_mod.build_tasks("a*", device="tpu")


def test_run_task_turns_exceptions_into_failure_rows():
    (t,) = tasks("raises")
    r = run_task(t)
    assert r["status"] == "failed" and r["oom"] is True
    assert r["error"].startswith("RuntimeError: CUDA out of memory")
    ok = run_task(tasks("fine")[0])
    assert (
        ok["status"] == "ok" and ok["params"] == 1004 and ok["task_id"] == tasks("fine")[0].task_id
    )


def test_failure_row_is_recorded_and_the_sweep_goes_on(db):
    s = run_sweep(tasks=tasks("a", "raises", "b"), store=db, isolate=False, progress=False, env=ENV)
    assert (s.ran, s.failed, s.skipped) == (3, 1, 0)
    assert [r["status"] for r in db.rows()] == ["ok", "ok", "failed"]  # a, b, raises
    assert [r["model"] for r in s.failures] == ["raises"]


def test_failed_tasks_are_retried_until_the_attempt_limit(db):
    def sweep(**kw):
        t = tasks("a", "raises", "b")
        return run_sweep(tasks=t, store=db, isolate=False, progress=False, env=ENV, **kw)

    first = sweep()
    assert (first.ran, first.failed) == (3, 1)
    no_retry = sweep(retry=False)
    assert (no_retry.ran, no_retry.skipped, no_retry.gave_up) == (0, 2, 1)
    for attempt in range(2, sweep_mod.MAX_ATTEMPTS + 1):  # retried by default
        again = sweep()
        assert (again.ran, again.failed, again.skipped) == (1, 1, 2), attempt
    assert db.get(tasks("raises")[0].key)["failed_attempts"] == sweep_mod.MAX_ATTEMPTS
    limit = sweep()
    assert (limit.ran, limit.gave_up) == (0, 1)
    forced = sweep(retry_failed=True)
    assert (forced.ran, forced.failed) == (1, 1)


def test_a_changed_option_is_a_new_key_never_blocked_by_old_failures(db):
    for _ in range(sweep_mod.MAX_ATTEMPTS):
        run_sweep(tasks=tasks("raises"), store=db, isolate=False, progress=False, env=ENV)
    (other,) = tasks("raises", batch=2)
    assert sweep_mod.task_state(db, other) == "todo"


def test_rows_missing_a_requested_measure_are_redone(db):
    run_sweep(tasks=tasks("a"), store=db, isolate=False, progress=False, env=ENV)
    (timed,) = tasks("a", time=True)
    assert not is_done(db, timed)
    run_sweep(tasks=[timed], store=db, isolate=False, progress=False, env=ENV)
    assert is_done(db, timed) and db.get(timed.key)["latency_ms_median"] == 1.5


def test_resume_after_interruption_redoes_only_missing_tasks(db):
    with pytest.raises(KeyboardInterrupt):
        run_sweep(
            tasks=tasks("a", "b", "interrupts", "d"),
            store=db,
            isolate=False,
            progress=False,
            env=ENV,
        )
    first = {r["model"]: r["stored_at"] for r in db.rows()}
    assert set(first) == {"a", "b"}
    CALLS.clear()
    s = run_sweep(tasks=tasks("a", "b", "c", "d"), store=db, isolate=False, progress=False, env=ENV)
    assert CALLS == ["c", "d"] and (s.ran, s.skipped) == (2, 2)
    rows = {r["model"]: r for r in db.rows()}
    assert set(rows) == {"a", "b", "c", "d"}
    assert all(rows[m]["stored_at"] == first[m] for m in ("a", "b"))


def test_isolated_child_that_dies_is_a_failure_row_and_the_sweep_goes_on(db):
    s = run_sweep(tasks=tasks("a", "kills"), store=db, isolate=True, progress=False, env=ENV)
    assert (s.ran, s.failed) == (2, 1)
    dead = db.get(tasks("kills")[0].key)
    assert dead["status"] == "failed" and "SIGKILL" in dead["error"]
    assert db.get(tasks("a")[0].key)["params"] == 1004  # stdout noise ignored


def test_isolated_timeout_is_a_failure_row():
    r = sweep_mod.run_isolated(tasks("hangs")[0], timeout_s=1.0)
    assert r["status"] == "failed" and "timed out after 1 s" in r["error"]


def test_parse_isolated_output():
    (t,) = tasks("a")
    out = "hello\n" + sweep_mod.RESULT_MARKER + json.dumps({"model": "a", "status": "ok"}) + "\n"
    assert parse_isolated_output(t, 0, out, "")["status"] == "ok"
    r = parse_isolated_output(t, 1, "", "Traceback...\nImportError: no module x\n")
    assert "exit code 1" in r["error"] and "ImportError" in r["error"]
    with pytest.raises(KeyboardInterrupt):
        parse_isolated_output(t, 130, "", "")


def test_killed_sweep_process_resumes_without_losing_rows(tmp_path):
    """SIGKILL the whole sweep process mid-run; a second sweep finishes only the rest."""
    path = tmp_path / "s.sqlite"
    lines = "\n".join(t.to_json() for t in tasks("a", "b", "c", "d"))
    env = {**os.environ, "STBENCH_TEST_KILL": "c"}
    cmd = [sys.executable, "-m", "stbench.cli", "sweep", "--task", "-", "--no-isolate"]
    cmd += ["--module", "test_sweep"]  # registers PROFILER in the child
    proc = subprocess.run(
        [*cmd, "--store", str(path), "--no-progress"],
        input=lines,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert proc.returncode == -signal.SIGKILL
    with ResultsStore(path) as db:
        assert [r["model"] for r in db.rows()] == ["a", "b"]
        s = run_sweep(
            tasks=tasks("a", "b", "c", "d"), store=db, isolate=False, progress=False, env=ENV
        )
        assert CALLS == ["c", "d"] and s.skipped == 2
        assert [r["status"] for r in db.rows()] == ["ok"] * 4


def test_auto_isolation_only_for_real_forwards(db):
    run_sweep(tasks=tasks("static"), store=db, isolate=None, progress=False, env=ENV)
    assert CALLS == ["static"]  # ran in this process
    run_sweep(tasks=tasks("timed", time=True), store=db, isolate=None, progress=False, env=ENV)
    assert CALLS == ["static"]  # ran in a child process
    assert db.get(tasks("timed")[0].key)["latency_ms_median"] == 1.5
    assert sweep_mod.needs_isolation(Task("m", 8, 112, device="cuda"))


def test_task_json_missing_required_fields_is_named():
    with pytest.raises(ValueError, match=r"task: missing required field\(s\) \['frames', 'size'\]"):
        sweep_mod.Task.from_json('{"model": "tsn_resnet18"}')


def test_static_sweep_stores_each_count_as_it_finishes_and_resumes(db, monkeypatch):
    """Inputs are checked without counting; an interrupted static sweep keeps every count
    made before it stopped, and the next one counts only the rest."""
    from stbench.bench.count import counting

    real, made = counting.static_count, []

    def interrupted_third(*args, **kwargs):
        made.append(args[1])
        if len(made) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(counting, "static_count", interrupted_third)
    names = ["mc2_resnet18", "mc3_resnet18", "rmc2_resnet18", "r3d_resnet18"]
    argv = ["sweep", ",".join(names), "--frames", "8", "--sizes", "32", "--no-progress"]
    argv += ["--store", str(db.path)]
    assert main(argv) == 130  # `stbench sweep`, interrupted during its third count
    assert [r["model"] for r in db.rows()] == names[:2]
    assert main(argv) == 0  # counts only the two the store lacks
    assert sorted(r["model"] for r in db.rows()) == sorted(names) and len(made) == 5


def test_sweep_refuses_a_size_the_model_cannot_take_before_storing(db):
    with pytest.raises(ValueError, match="r3d_resnet18 at 8 frames, 8 px: x: got spatial size"):
        run_sweep(tasks=[Task("r3d_resnet18", 8, 8)], store=db, progress=False, env=ENV)
    assert db.rows() == []
