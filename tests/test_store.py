"""The SQLite results store: round trip, transactions, bad files, export and import."""

import csv
import io
import json
import sqlite3

import pytest
from stbench.bench import store as store_mod
from stbench.bench.store import KEY_FIELDS, ResultsStore, StoreError, default_store_path

KEY = ("r3d_resnet18", 8, 112, 1, 400, "cpu", "float32", "contiguous", 0)


def row(model="r3d_resnet18", **extra):
    base = dict(zip(KEY_FIELDS, KEY, strict=True))
    base.update(model=model, compile=False, params=33_000_000, macs=8_000_000_000)
    base.update(flops=2 * base["macs"], input_shape=[1, 3, 8, 112, 112])
    base.update(extra)
    return base


def bench_doc():
    """A small pytest-benchmark JSON: one zoo timing and one unrelated benchmark."""
    extra = {**row(), "timer": "perf_counter"}
    return {
        "machine_info": {
            "node": "hostA",
            "cpu": {"brand_raw": "Fake CPU", "count": 2},
            "stbench": {"host": "hostA", "torch_version": "2.13.0", "gpu_name": None},
        },
        "commit_info": {"id": "abc123", "dirty": False},
        "benchmarks": [
            {
                "fullname": "bench/test_bench_zoo.py::test_forward[r3d_resnet18]",
                "extra_info": extra,
                "options": {"timer": "perf_counter"},
                "stats": {
                    "median": 0.1,
                    "iqr": 0.01,
                    "mean": 0.105,
                    "min": 0.09,
                    "max": 0.2,
                    "stddev": 0.02,
                    "rounds": 11,
                    "iterations": 1,
                    "data": [0.09 + 0.01 * i for i in range(11)],
                },
            },
            {"fullname": "bench/test_bench_counting.py::test_meta", "extra_info": {}, "stats": {}},
        ],
        "datetime": "2026-11-21T23:00:00+00:00",
        "version": "5.3.1",
    }


@pytest.fixture
def db(tmp_path):
    with ResultsStore(tmp_path / "s.sqlite") as s:
        yield s


def test_round_trip_with_run_metadata(db):
    run_id = db.start_run({"host": "h1", "torch_version": "2.13", "git_dirty": True}, {"t": 1})
    db.add_row(row(latency_ms_median=12.5), run_id=run_id)
    db.add_row(row(model="mc3_resnet18"), run_id=run_id)
    assert db.has(KEY) and db.has(dict(row())) and not db.has((*KEY[:-1], 1))
    got = db.get(KEY)
    assert got["latency_ms_median"] == 12.5 and got["input_shape"] == [1, 3, 8, 112, 112]
    assert got["status"] == "ok" and got["compile"] is False and got["run_id"] == run_id
    full = db.rows("r3d_*", with_run=True)
    assert len(full) == 1 and full[0]["run_host"] == "h1" and full[0]["run_git_dirty"] == 1
    assert [r["model"] for r in db.rows()] == ["mc3_resnet18", "r3d_resnet18"]
    df = db.to_dataframe()
    assert len(df) == 2 and {"macs", "flops", "latency_ms_median", "run_torch_version"} <= set(df)
    assert db.runs()[0]["flags_json"] == '{"t": 1}'


def test_same_key_replaces_and_sources_are_separate(db):
    db.add_row(row(latency_ms_median=1.0))
    db.add_row(row(latency_ms_median=2.0))
    db.add_row(row(latency_ms_median=3.0), source="pytest-benchmark")
    assert len(db.rows()) == 2
    assert db.get(KEY)["latency_ms_median"] == 2.0
    assert db.rows(source="pytest-benchmark")[0]["latency_ms_median"] == 3.0


def test_failure_rows_and_filters(db):
    db.add_row(row(model="a"), status="failed", error="OutOfMemoryError: CUDA out of memory")
    db.add_row(row(model="b"))
    failed = db.rows(status="failed")
    assert [r["model"] for r in failed] == ["a"] and "out of memory" in failed[0]["error"]
    assert db.has(("a", *KEY[1:]), status="failed") and not db.has(("a", *KEY[1:]), status="ok")
    assert db.rows(device="cuda") == []
    with pytest.raises(ValueError, match="cannot filter on"):
        db.rows(gpu="x")


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"frames": None}, "missing key field"),
        ({"size": 0}, "size must be an integer"),
        ({"status": "meh"}, "status must be"),
        ({"macs": "lots"}, "macs must be int"),
    ],
)
def test_invalid_rows_write_nothing(db, bad, match):
    with pytest.raises(ValueError, match=match):
        db.add_row(row(**bad))
    assert db.rows() == []


def test_add_rows_is_all_or_nothing(db, monkeypatch):
    calls = []
    real = ResultsStore._insert_profile

    def flaky(conn, rec):
        calls.append(rec["model"])
        if len(calls) == 2:
            raise sqlite3.OperationalError("disk I/O error")
        return real(conn, rec)

    monkeypatch.setattr(ResultsStore, "_insert_profile", staticmethod(flaky))
    with pytest.raises(StoreError, match="cannot write"):
        db.add_rows([row(model="a"), row(model="b")], env={"host": "h"})
    assert db.rows() == [] and db.runs() == []


def test_corrupt_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"corrupt or not an SQLite database"):
        ResultsStore(bad)
    assert bad.read_bytes() == b"this is not sqlite" * 100  # untouched


def test_foreign_sqlite_file_is_refused(tmp_path):
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as c:
        c.execute("CREATE TABLE things (x)")
    with pytest.raises(StoreError, match="not an stbench store"):
        ResultsStore(other)


def test_locked_store_times_out_with_one_line_and_keeps_rows(tmp_path):
    path = tmp_path / "s.sqlite"
    writer = ResultsStore(path, timeout=0.1)
    writer.add_row(row(model="a"))
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match="is locked by another process"):
            writer.add_row(row(model="b"))
        with pytest.raises(StoreError, match="is locked by another process"):
            ResultsStore(path, timeout=0.1)
    finally:
        locker.execute("ROLLBACK")
        locker.close()
        writer.close()
    with ResultsStore(path, readonly=True) as s:
        assert [r["model"] for r in s.rows()] == ["a"]


def test_missing_or_unwritable_paths(tmp_path):
    with pytest.raises(StoreError, match="no results store"):
        ResultsStore(tmp_path / "none.sqlite", readonly=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="cannot create"):
        ResultsStore(tmp_path / "file" / "s.sqlite")
    with pytest.raises(StoreError, match="is a directory"):
        ResultsStore(tmp_path)


def test_default_path_env_and_cwd(tmp_path, monkeypatch):
    monkeypatch.delenv("STBENCH_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_store_path() == tmp_path / "results" / "stbench.sqlite"
    monkeypatch.setenv("STBENCH_STORE", str(tmp_path / "x.sqlite"))
    assert default_store_path() == tmp_path / "x.sqlite"


def test_export_csv_and_json(db, tmp_path):
    db.add_row(row(latency_ms_median=3.5))
    db.add_row(row(model="b"), status="failed", error="boom")
    out = tmp_path / "o.json"
    assert db.export_json(out) == 2
    data = json.loads(out.read_text())
    assert {r["model"] for r in data} == {"r3d_resnet18", "b"}
    buf = io.StringIO()
    assert db.export_csv(buf, status="ok") == 1
    (rec,) = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert rec["latency_ms_median"] == "3.5" and json.loads(rec["input_shape"])[2] == 8
    with pytest.raises(ValueError, match="does not exist"):
        db.export_csv(tmp_path / "nodir" / "x.csv")


def test_import_benchmark_json(db, tmp_path):
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(bench_doc()))
    assert db.import_benchmark_json(path) == (1, 1)
    (r,) = db.rows(source="pytest-benchmark", with_run=True)
    assert r["latency_ms_median"] == pytest.approx(100.0)
    assert r["latency_ms_iqr"] == pytest.approx(10.0)
    assert r["latency_ms_p90"] == pytest.approx(180.0)
    assert r["iterations"] == 11 and r["macs"] == 8_000_000_000
    assert r["run_host"] == "hostA" and r["run_git_commit"] == "abc123"
    assert r["benchmark_name"].endswith("[r3d_resnet18]")


@pytest.mark.parametrize(
    "text, match",
    [("{not json", "not valid JSON"), ('{"benchmarks": 3}', "not a pytest-benchmark JSON")],
)
def test_import_benchmark_rejects_bad_files(db, tmp_path, text, match):
    path = tmp_path / "b.json"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        db.import_benchmark_json(path)
    with pytest.raises(ValueError, match="no such file"):
        store_mod.benchmark_rows(tmp_path / "missing.json")
    assert db.rows() == []


def test_environment_metadata_fields():
    from stbench.bench.environment import collect_environment

    env = collect_environment()
    for k in ("host", "cpu_model", "threads", "torch_version", "gpu_name", "git_commit"):
        assert k in env
    assert env["threads"] >= 1 and env["timestamp"].endswith("+00:00")
    assert env["git_commit"] is None or len(env["git_commit"]) == 40


def test_merge_stores_from_two_hosts(tmp_path):
    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    with ResultsStore(a) as s:
        s.add_row(row(model="m1", params=1), run_id=s.start_run({"host": "A"}))
    with ResultsStore(b) as s:
        run = s.start_run({"host": "B"})
        s.add_row(row(model="m2"), run_id=run)
        s.add_row(row(model="m1", params=2), run_id=run)  # newer: replaces A's m1
    with ResultsStore(tmp_path / "all.sqlite") as s:
        assert s.merge_from(a) == (1, 1)
        assert s.merge_from(b) == (1, 2)
        got = {r["model"]: r for r in s.rows(with_run=True)}
        assert got["m1"]["params"] == 2 and got["m1"]["run_host"] == "B"
        assert got["m2"]["run_host"] == "B" and len(s.runs()) == 2
        with pytest.raises(StoreError, match="no results store"):
            s.merge_from(tmp_path / "missing.sqlite")
