"""Sweeps on a local Ray: same rows as the local executor, crashed workers retried then
failed, a killed driver resumed without loss or duplicates, one GPU per CUDA task.

One local Ray (2 CPUs, 2 GPUs that do not exist: Ray still hands out GPU ids and sets
`CUDA_VISIBLE_DEVICES` per task) serves the whole module. Its workers inherit this
process's PYTHONPATH, so they import the fake profiler below by this module's name.
"""

import contextlib
import os
import platform
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'stbench[ray]')")

from stbench.bench.store.results import ResultsStore  # noqa: E402
from stbench.bench.sweep.driver import Task, build_tasks, register_profiler, run_sweep  # noqa: E402
from stbench.bench.sweep.executors import RAY_RETRIES, RayExecutor  # noqa: E402
from stbench.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ENV = {"host": "test-host", "torch_version": "x"}
PROFILER = f"{__name__}:fake_profile"
BOOKKEEPING = ("stored_at", "provenance", "run_id")


def fake_profile(model, *, frames, size, **kw):
    """Deterministic rows; `kills` kills its worker, `slow*` sleeps, `gpu*` waits for both."""
    logs = Path(os.environ["STBENCH_TEST_DIR"])
    with open(logs / f"{model}.attempts", "a") as f:
        f.write(f"{os.getpid()}\n")
    if model == "kills":
        os.kill(os.getpid(), signal.SIGKILL)
    if model.startswith("slow"):
        time.sleep(0.8)
    if model == "hangs":
        time.sleep(60)
    if model.startswith("gpu"):  # hold the GPU until both GPU tasks run at once
        deadline = time.monotonic() + 30
        while len(list(logs.glob("gpu*.attempts"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    seen = os.environ.get("CUDA_VISIBLE_DEVICES")
    return {"model": model, "params": 10 + frames, "macs": size, "seen_gpu": seen}


register_profiler(fake_profile)  # tasks name only registered profilers


def fake(*models, **kw):
    return [Task(m, frames=4, size=32, profiler=PROFILER, **kw) for m in models]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """One local Ray for the module; yields its GCS address."""
    logs = tmp_path_factory.mktemp("ray-logs")
    path = os.pathsep.join([str(ROOT / "tests"), str(ROOT), os.environ.get("PYTHONPATH", "")])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYTHONPATH", path)
        mp.setenv("STBENCH_TEST_DIR", str(logs))
        ray.init(
            num_cpus=2,
            num_gpus=2,
            include_dashboard=False,
            log_to_driver=False,
            logging_level="ERROR",
        )
        try:
            yield ray.get_runtime_context().gcs_address
        finally:
            ray.shutdown()


@pytest.fixture
def logs(cluster):
    folder = Path(os.environ["STBENCH_TEST_DIR"])
    for f in folder.glob("*.attempts"):
        f.unlink()
    return folder


def ray_sweep(db, tasks, **kw):
    return run_sweep(tasks=tasks, store=db, progress=False, env=ENV, executor=RayExecutor(), **kw)


def test_static_sweep_gives_the_local_executor_rows(cluster, tmp_path):
    tasks = build_tasks("r3d*", [8, 16], [32, 48, 64])
    rows = {}
    for name, executor in (("local", None), ("ray", RayExecutor())):
        with ResultsStore(tmp_path / f"{name}.sqlite") as db:
            run_sweep(
                tasks=tasks, store=db, isolate=None, progress=False, env=ENV, executor=executor
            )
            rows[name] = [{k: v for k, v in r.items() if k not in BOOKKEEPING} for r in db.rows()]
    assert len(rows["ray"]) == len(tasks) == 12
    assert rows["ray"] == rows["local"]
    assert {r["run_node"] for r in rows["ray"]} == {platform.node()}


def test_a_task_that_kills_its_worker_is_retried_then_a_failure_row(cluster, logs, tmp_path):
    fine = [f"fine{i}" for i in range(9)]
    with ResultsStore(tmp_path / "s.sqlite") as db:
        s = ray_sweep(db, fake(*fine, "kills"))  # 10 cheap tasks: chunks of 2
        assert (s.ran, s.failed) == (10, 1)
        failed = db.get(fake("kills")[0].key)
    attempts = (logs / "kills.attempts").read_text().split()
    runs = 2 * (RAY_RETRIES + 1)  # its chunk ran (and died) 3 times, then it alone 3 times
    assert len(attempts) == len(set(attempts)) == runs
    assert failed["status"] == "failed" and failed["error_type"] == "WorkerCrashedError"
    assert failed["error"].startswith(f"Ray worker died (ran {RAY_RETRIES + 1} times): ")


def test_gpu_tasks_get_one_gpu_each_in_their_own_worker(cluster, logs, tmp_path):
    with ResultsStore(tmp_path / "s.sqlite") as db:
        s = ray_sweep(db, fake("gpu_a", "gpu_b", device="cuda"))
    assert s.failed == 0
    assert sorted(r["run_gpu"] for r in s.rows) == ["0", "1"]  # ran at once, one GPU each
    assert all(r["seen_gpu"] == r["run_gpu"] for r in s.rows)
    pids = {(logs / f"{m}.attempts").read_text() for m in ("gpu_a", "gpu_b")}
    assert len(pids) == 2


def test_a_measuring_task_past_its_timeout_is_killed_and_a_failure_row(cluster, logs, tmp_path):
    with ResultsStore(tmp_path / "s.sqlite") as db:
        start = time.monotonic()
        s = run_sweep(
            tasks=fake("hangs", time=True),
            store=db,
            progress=False,
            env=ENV,
            executor=RayExecutor(timeout_s=2),
        )
        assert time.monotonic() - start < 30
        assert s.failures[0]["error"] == "timed out after 2 s"
        assert db.claims() == []


def test_gpu_tasks_on_a_cluster_without_that_resource_are_refused_before_running(cluster):
    with pytest.raises(ValueError, match="2 task\\(s\\) need a GPU .* no 'H100' resource"):
        RayExecutor(gpu_resource="H100").prepare(fake("a", "b", device="cuda"))


def test_in_flight_room_follows_the_cluster_resources(cluster):
    ex = RayExecutor()  # the module's Ray: 2 CPUs, 2 GPUs
    assert (ex.slots("gpu"), ex.slots("cpu"), ex.slots("chunk")) == (2, 2, 4)
    assert ex.slots("cpu", fake("a", protocol={"threads": 2})) == 1  # a 2-thread timing: both CPUs
    assert [len(u.tasks) for u in ex.units(fake(*"abcdefghij"))] == [2] * 5


def test_killed_driver_resumes_without_losing_or_duplicating_rows(cluster, logs, tmp_path):
    """SIGKILL a CLI driver mid-sweep, run it again: every task stored exactly once."""
    path = tmp_path / "s.sqlite"
    models = [f"slow{i}" for i in range(8)]
    lines = "\n".join(t.to_json() for t in fake(*models))
    cmd = [sys.executable, "-m", "stbench.cli", "sweep", "--task", "-", "--store", str(path)]
    cmd += ["--executor", "ray", "--address", cluster, "--no-progress"]
    cmd += ["--module", "test_sweep_ray"]  # registers PROFILER in the driver
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    driver = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, text=True, **quiet)
    driver.stdin.write(lines)
    driver.stdin.close()
    deadline = time.monotonic() + 90
    stored = 0
    while stored < 2 and time.monotonic() < deadline and driver.poll() is None:
        time.sleep(0.2)
        if path.exists():
            with contextlib.suppress(ValueError), ResultsStore(path) as db:
                stored = len(db.rows())
    driver.kill()
    driver.wait()
    assert 2 <= stored < len(models), "the driver was not killed mid-sweep"
    again = subprocess.run(cmd, cwd=ROOT, input=lines, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    with ResultsStore(path) as db:
        assert sorted(r["model"] for r in db.rows() if r["status"] == "ok") == models
        ok = [h["model"] for h in db.history() if h["status"] == "ok"]
        assert sorted(ok) == models  # each key stored once
        assert db.claims() == []
    ran, skipped = (int(re.search(rf"{w} (\d+)", again.stdout)[1]) for w in ("ran", "skipped"))
    assert skipped >= stored and ran + skipped == len(models)


def test_unreachable_address_is_one_line_and_stores_nothing(cluster, tmp_path, capsys):
    path = tmp_path / "s.sqlite"
    argv = ["sweep", "r3d_resnet18", "--store", str(path), "--executor", "ray"]
    assert main([*argv, "--address", "127.0.0.1:1", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("stbench sweep: error: --address: cannot reach a Ray cluster at 127.")
    assert "\n" not in err
    if path.exists():
        with ResultsStore(path) as db:
            assert db.rows() == [] and db.runs() == []
