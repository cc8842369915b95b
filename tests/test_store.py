"""The SQLite results store: round trip, transactions, bad files, export and import."""

import csv
import io
import json
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
from stbench.bench.store import results as store_mod
from stbench.bench.store.results import KEY_FIELDS, ResultsStore, StoreError, default_store_path

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
                "fullname": "benchmarks/test_bench_zoo.py::test_forward[r3d_resnet18]",
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
            {
                "fullname": "benchmarks/test_bench_counting.py::test_meta",
                "extra_info": {},
                "stats": {},
            },
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
        ({"size": 0}, "size: got 0; allowed: an integer >= 1"),
        ({"status": "meh"}, "status: got 'meh'"),
        ({"macs": "lots"}, "macs: got 'lots'"),
    ],
)
def test_invalid_rows_write_nothing(db, bad, match):
    with pytest.raises(ValueError, match=match):
        db.add_row(row(**bad))
    assert db.rows() == []


def test_add_rows_is_all_or_nothing(db, monkeypatch):
    calls = []
    real = ResultsStore._refresh

    def flaky(conn, key_source):
        calls.append(key_source[0])
        if len(calls) == 2:
            raise sqlite3.OperationalError("disk I/O error")
        return real(conn, key_source)

    monkeypatch.setattr(ResultsStore, "_refresh", staticmethod(flaky))
    with pytest.raises(StoreError, match="cannot write"):
        db.add_rows([row(model="a"), row(model="b")], env={"host": "h"})
    assert db.rows() == [] and db.runs() == [] and db.history() == []


def test_corrupt_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"corrupt or not an SQLite database"):
        ResultsStore(bad)
    assert bad.read_bytes() == b"this is not sqlite" * 100  # untouched


def _foreign(path):
    with sqlite3.connect(path) as c:
        c.execute("CREATE TABLE things (x)")


def _newer(path):
    ResultsStore(path).close()
    with sqlite3.connect(path) as c:
        c.execute("UPDATE stbench_meta SET value='99' WHERE key='schema_version'")


@pytest.mark.parametrize(
    "prepare, match", [(_foreign, "not an stbench store"), (_newer, "schema version 99")]
)
def test_foreign_or_newer_sqlite_file_is_refused(tmp_path, prepare, match):
    path = tmp_path / "other.sqlite"
    prepare(path)
    with pytest.raises(StoreError, match=match):
        ResultsStore(path)


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
    with pytest.raises(StoreError, match="this is a directory"):
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
    assert db.export_csv(tmp_path / "nodir" / "x.csv") == 2  # the writer creates the folder
    assert (tmp_path / "nodir" / "x.csv").stat().st_mode & 0o777 == 0o644
    (tmp_path / "file.txt").write_text("")
    with pytest.raises(ValueError, match="^out: cannot write"):
        db.export_csv(tmp_path / "file.txt" / "x.csv")


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


# ------------------------------------------------------------------ history and current view

TIMED = dict(latency_ms_median=1439.67, latency_ms_iqr=12.0, stop_reason="stable")
TIMED.update(peak_mem_mib=119.5, peak_mem_method="tracemalloc", timer="perf_counter")


def test_static_after_timed_keeps_the_measurement(db):
    run = db.start_run({"host": "timer-host"})
    db.add_row(row(**TIMED), run_id=run)
    db.add_row(row(params=33_000_001, flags=["crosscheck: ok"]), run_id=db.start_run({"host": "b"}))
    got = db.get(KEY)
    assert got["latency_ms_median"] == 1439.67 and got["peak_mem_mib"] == 119.5
    assert got["params"] == 33_000_001 and got["flags"] == ["crosscheck: ok"]  # newer static
    assert got["attempts"] == 2 and got["failed_attempts"] == 0
    assert got["provenance"]["latency"]["run_id"] == run != got["provenance"]["static"]["run_id"]
    (full,) = db.rows(with_run=True)
    assert full["run_host"] == "timer-host"  # run metadata of the measurement
    assert len(db.history()) == 2


def test_newer_measurement_replaces_its_whole_group(db):
    db.add_row(row(latency_ms_median=10.0, latency_ms_iqr=0.1, latency_ms_p90=11.0))
    db.add_row(row(latency_ms_median=20.0, latency_ms_iqr=0.2))  # no p90 this time
    got = db.get(KEY)
    assert (got["latency_ms_median"], got["latency_ms_iqr"]) == (20.0, 0.2)
    assert got.get("latency_ms_p90") is None  # never mixed with the older run's p90


def test_failure_after_success_keeps_the_success(db):
    db.add_row(row(**TIMED))
    db.add_row(row(), status="failed", error="Timeout: timed out after 3 s")
    got = db.get(KEY)
    assert got["status"] == "ok" and got["error"] is None and got["latency_ms_median"] == 1439.67
    assert got["failed_attempts"] == 1 and got["last_error"].startswith("Timeout")
    assert db.has(KEY, status="ok") and [h["status"] for h in db.history()] == ["ok", "failed"]


def test_failure_only_is_failed_until_a_success(db):
    db.add_row(row(), status="failed", error="first")
    db.add_row(row(), status="failed", error="second")
    got = db.get(KEY)
    assert got["status"] == "failed" and got["error"] == "second" and got["attempts"] == 2
    db.add_row(row())
    got = db.get(KEY)
    assert got["status"] == "ok" and got["macs"] == 8_000_000_000 and got["last_error"] == "second"


def _portable(view):
    """A view without the run ids, which are local to each file."""
    drop = ("run_id", "provenance")
    return {m: {k: v for k, v in r.items() if k not in drop} for m, r in view.items()}


def test_merge_is_field_by_field_idempotent_and_order_free(tmp_path):
    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    with ResultsStore(a) as s:
        s.add_row(row(**TIMED), run_id=s.start_run({"host": "A"}))
    with ResultsStore(b) as s:  # later and static only: must not erase A's timing
        s.add_row(row(params=5), run_id=s.start_run({"host": "B"}))
        s.add_row(row(model="m2"), status="failed", error="boom")
    views = []
    for order in ((a, b), (b, a)):
        with ResultsStore(tmp_path / f"all{len(views)}.sqlite") as s:
            counts = [s.merge_from(f) for f in order]
            assert [s.merge_from(f) for f in order] == [(0, 0), (0, 0)]  # twice: no-op
            assert sorted(counts) == [(1, 1), (1, 2)] and len(s.runs()) == 2
            assert len(s.history()) == 3
            views.append({r["model"]: r for r in s.rows(with_run=True)})
    assert _portable(views[0]) == _portable(views[1])
    got = views[0]["r3d_resnet18"]
    assert got["latency_ms_median"] == 1439.67 and got["params"] == 5 and got["run_host"] == "A"
    assert views[0]["m2"]["status"] == "failed"


def test_merge_back_and_forth_adds_nothing_twice(tmp_path):
    a, b = tmp_path / "a.sqlite", tmp_path / "b.sqlite"
    with ResultsStore(a) as s:
        s.add_row(row(model="m1"))
    with ResultsStore(b) as s:
        s.add_row(row(model="m2"))
        assert s.merge_from(a) == (0, 1)
    with ResultsStore(a) as s:
        assert s.merge_from(b) == (0, 1)  # only m2: m1 came from here
        assert len(s.history()) == 2


def test_import_benchmark_twice_imports_once(db, tmp_path):
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(bench_doc()))
    assert db.import_benchmark_json(path) == (1, 1)
    assert db.import_benchmark_json(path) == (0, 1)
    assert len(db.history()) == 1 and len(db.runs()) == 1


def test_export_history_json_and_csv(db, tmp_path):
    db.add_row(row(**TIMED))
    db.add_row(row(), status="failed", error="boom")
    out = tmp_path / "h.json"
    assert db.export_json(out, history=True) == 2 and db.export_json(tmp_path / "c.json") == 1
    entries = json.loads(out.read_text())
    assert [e["status"] for e in entries] == ["ok", "failed"] and len(
        {e["uid"] for e in entries}
    ) == 2
    buf = io.StringIO()
    assert db.export_csv(buf, history=True, status="failed") == 1
    (rec,) = list(csv.DictReader(io.StringIO(buf.getvalue())))
    assert rec["error"] == "boom" and rec["host"]


# ------------------------------------------------------------------ noise


@pytest.mark.parametrize(
    "fields, noisy, reason",
    [
        ({"latency_ms_median": 100.0, "latency_ms_iqr": 5.0, "stop_reason": "stable"}, False, None),
        ({"latency_ms_median": 100.0, "latency_ms_iqr": 10.0}, False, None),  # at the threshold
        ({"latency_ms_median": 100.0, "latency_ms_iqr": 10.5}, True, "relative IQR 0.10"),
        (
            {"latency_ms_median": 100.0, "latency_ms_iqr": 1.0, "stop_reason": "max_time"},
            True,
            "time cap",
        ),
        (
            {"latency_ms_median": 1269.96, "latency_ms_iqr": 330.2, "stop_reason": "max_time"},
            True,
            "0.26",
        ),
        ({"latency_ms_median": 100.0, "latency_rel_iqr": 0.3}, True, "relative IQR 0.30"),
    ],
)
def test_noisy_flag(db, fields, noisy, reason):
    assert store_mod.NOISY_REL_IQR == 0.10
    db.add_row(row(flags=["counter note"], **fields))
    got = db.get(KEY)
    assert got["noisy"] is noisy and db.history()[0]["noisy"] is noisy
    if reason:
        assert got["flags"][0] == "counter note" and reason in got["flags"][1]
        assert got["flags"][1].startswith("noisy: ")
    else:
        assert got["flags"] == ["counter note"]
    assert [r["model"] for r in db.rows(noisy=True)] == (["r3d_resnet18"] if noisy else [])


def test_noisy_follows_the_latency_not_newer_static_rows(db):
    db.add_row(row(latency_ms_median=100.0, latency_ms_iqr=40.0))
    db.add_row(row(flags=[]))
    assert db.get(KEY)["noisy"] is True
    db.add_row(row(latency_ms_median=90.0, latency_ms_iqr=1.0))
    got = db.get(KEY)
    assert got["noisy"] is False and got["flags"] == []
    db.add_row(row(model="static_only"))
    assert db.get(("static_only", *KEY[1:]))["noisy"] is False


# ------------------------------------------------------------------ damage, migration, claims


def _damage(path, pages=2):
    """Overwrite pages in the middle of a file with fixed bytes (a torn or bad disk write)."""
    data = bytearray(path.read_bytes())
    page = 4096
    middle = len(data) // page // 2
    data[middle * page : (middle + pages) * page] = bytes(range(256)) * (pages * page // 256)
    path.write_bytes(bytes(data))
    return bytes(data)


def test_damaged_store_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "s.sqlite"
    with ResultsStore(path) as s:
        s.add_rows([row(frames=f, note="x" * 300) for f in range(1, 200)], env={})
    damaged = _damage(path)
    for readonly in (False, True):
        with pytest.raises(StoreError, match=r"is damaged \(.*\); nothing was written") as exc:
            ResultsStore(path, readonly=readonly)
        assert "\n" not in str(exc.value) and str(path) in str(exc.value)
    assert path.read_bytes() == damaged


FIXTURE = Path(__file__).parent / "data" / "store_schema1.sqlite"


def test_schema1_file_reads_without_writing_and_upgrades_on_first_write(tmp_path):
    path = tmp_path / "old.sqlite"
    shutil.copyfile(FIXTURE, path)
    before = path.read_bytes()
    for readonly in (True, False):
        with ResultsStore(path, readonly=readonly) as s:
            got = {(r["model"], r["source"]): r for r in s.rows(with_run=True)}
            assert got[("r3d_resnet18", "stbench")]["latency_ms_median"] == 1439.67
            assert got[("r3d_resnet18", "stbench")]["run_host"] == "fixture-host"
            assert got[("r3d_resnet34", "stbench")]["status"] == "failed"
            assert got[("r3d_resnet18", "pytest-benchmark")]["noisy"] is True
            assert len(s.history()) == 4 and len(s.runs()) == 1
    assert path.read_bytes() == before  # reads never write
    with ResultsStore(path) as s:
        s.add_row(row(params=1), run_id=s.start_run({"host": "new"}))  # static after timed
        got = s.get(KEY)
        assert got["params"] == 1 and got["latency_ms_median"] == 1439.67
        assert got["peak_mem_mib"] == 119.5 and len(s.history()) == 5
    with sqlite3.connect(path) as c:
        version = c.execute("SELECT value FROM stbench_meta WHERE key='schema_version'")
        assert version.fetchone()[0] == str(store_mod.SCHEMA_VERSION)
        names = {r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"history", "current", "claims", "runs"} <= names and "profiles" not in names


def test_merging_a_schema1_file_twice_is_a_noop(tmp_path):
    with ResultsStore(tmp_path / "all.sqlite") as s:
        assert s.merge_from(FIXTURE) == (1, 4)
        assert s.merge_from(FIXTURE) == (0, 0)
        upgraded = tmp_path / "old.sqlite"
        shutil.copyfile(FIXTURE, upgraded)
        with ResultsStore(upgraded) as old:
            old.start_run({"host": "x"})  # upgrades in place: the same ids as the copy
        assert s.merge_from(upgraded) == (1, 0)


def test_claims_one_owner_at_a_time_and_expiry(tmp_path):
    path = tmp_path / "s.sqlite"
    with ResultsStore(path) as a, ResultsStore(path) as b:
        assert a.claim(KEY, "owner-a", lease_s=60)
        assert not b.claim(KEY, "owner-b", lease_s=60)
        assert a.claim(KEY, "owner-a", lease_s=60)  # renewing is fine
        assert b.claim((*KEY[:-1], 1), "owner-b")  # another key
        assert [c["owner"] for c in b.claims()] == ["owner-a", "owner-b"]
        assert not b.release(KEY, "owner-b") and a.release(KEY, "owner-a")
        assert b.claim(KEY, "owner-b") and not a.claim(KEY, "owner-a")
        b.add_row(row(), release="owner-b")  # the result and the release: one transaction
        assert a.claim(KEY, "owner-a") and a.release(KEY, "owner-a")
        assert b.claim(KEY, "owner-b", lease_s=0.05)
        time.sleep(0.1)  # owner-b died: its lease ran out
        assert a.claim(KEY, "owner-a", lease_s=60)
        assert not b.release(KEY, "owner-b")
    with pytest.raises(ValueError, match="lease_s: got 0"):
        ResultsStore(path).claim(KEY, "x", lease_s=0)
    with pytest.raises(StoreError, match="read-only"):
        ResultsStore(path, readonly=True).claim(KEY, "x")
    assert ":" in store_mod.default_owner()
