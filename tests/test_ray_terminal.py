"""A clean terminal under cluster faults (issue 25.6): Ray's own logs go to a log file, a
cluster that wants an auth token is named at once. A fake `ray` module stands in for Ray
here (fast); the multi-node test runs a real `ray.cluster_utils.Cluster` (~25 s on 2 cores)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import types
from pathlib import Path

import pytest
from stbench.bench.sweep import executors
from stbench.bench.sweep.executors import RayExecutor

ROOT = Path(__file__).resolve().parents[1]


def _fake_ray(init):
    return types.SimpleNamespace(is_initialized=lambda: False, init=init, shutdown=lambda: None)


def test_auth_token_cluster_gets_a_one_line_hint_at_once(tmp_path, monkeypatch):
    released = threading.Event()
    log = tmp_path / "ray.log"

    def init(**kw):  # Ray's warnings about the token, then (much later) a plain error
        with open(log, "a") as f:
            f.write("gRPC error: UNAUTHENTICATED: missing auth token\n")
        released.wait(60)
        raise RuntimeError("timed out connecting to the GCS")

    monkeypatch.setattr(executors, "import_ray", lambda: _fake_ray(init))
    monkeypatch.setattr(executors, "check_reachable", lambda address: None)
    monkeypatch.setenv("STBENCH_RAY_LOG", str(log))
    ex = RayExecutor("10.0.0.1:6379")
    try:
        with pytest.raises(ValueError) as err:
            ex.connect()
    finally:
        released.set()
    text = str(err.value)
    assert "RAY_AUTH_MODE" in text and "RAY_AUTH_TOKEN" in text and "\n" not in text
    assert text.startswith("address: 10.0.0.1:6379: ")  # the field; the CLI names --address


def test_ray_logs_go_to_a_file_not_the_terminal(tmp_path):
    log = tmp_path / "ray.log"
    script = textwrap.dedent(
        """
        import os, sys, types
        from stbench.bench.sweep import executors
        def init(**kw):
            os.write(2, b"(raylet) worker died: 44 lines of Ray's own logs\\n")
        fake = types.SimpleNamespace(is_initialized=lambda: False, init=init, shutdown=lambda: None)
        executors.import_ray = lambda: fake
        ex = executors.RayExecutor()
        ex.connect()
        os.write(2, b"more Ray noise from C++\\n")
        print("stbench's own line", file=sys.stderr)
        ex.close()
        print("after close", file=sys.stderr)
        """
    )
    env = {**os.environ, "STBENCH_RAY_LOG": str(log), "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "Ray's own logs go to " + str(log) in done.stderr
    assert "stbench's own line" in done.stderr and "after close" in done.stderr
    assert "worker died" not in done.stderr and "Ray noise" not in done.stderr
    assert "worker died" in log.read_text() and "Ray noise" in log.read_text()


def test_a_node_removed_mid_sweep_loses_and_duplicates_nothing(tmp_path):
    """Two local nodes (`ray.cluster_utils.Cluster`, one CPU each); the worker node is
    removed as soon as the first row comes back, with tasks still in flight on it."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster
    from stbench.bench.store.results import ResultsStore
    from stbench.bench.sweep.driver import build_tasks, run_sweep

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    worker = cluster.add_node(num_cpus=1)
    removed = []

    class RemovesANode(RayExecutor):
        def run(self, tasks, hooks):
            for item in super().run(tasks, hooks):
                if not removed:
                    cluster.remove_node(worker)
                    removed.append(item[0].model)
                yield item

    names = "r3d_resnet18,mc3_resnet18,rmc3_resnet18,r2plus1d_resnet18,mc4_resnet18,rmc4_resnet18"
    tasks = build_tasks(names, [8], [64])
    try:
        ray.init(address=cluster.address, log_to_driver=False, logging_level="ERROR")
        with ResultsStore(tmp_path / "s.sqlite") as db:
            summary = run_sweep(
                tasks=tasks,
                store=db,
                progress=False,
                env={"host": "h"},
                executor=RemovesANode(isolate_all=True),
            )
            rows, history = db.rows(), db.history()
    finally:
        ray.shutdown()
        cluster.shutdown()
    assert removed and summary.failed == 0 and summary.ran == len(tasks)
    assert sorted(r["model"] for r in rows) == sorted(t.model for t in tasks)
    assert sorted(h["model"] for h in history) == sorted(t.model for t in tasks)
