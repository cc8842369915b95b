"""CLI of the store and sweeps: export, results, import-benchmark, sweep tasks, bad input."""

import csv
import io
import json
import os
from pathlib import Path

import pytest
from stbench.bench.store.results import KEY_FIELDS, ResultsStore
from stbench.bench.sweep.driver import register_profiler
from stbench.cli import main

ROOT = Path(__file__).resolve().parent.parent
KEY = ("r3d_resnet18", 8, 112, 1, 400, "cpu", "float32", "contiguous", 0)


def fake_profile(model, *, frames, size, batch, num_classes, **kw):
    """A torch-free profiler stand-in for `sweep --task` runs."""
    return {"model": model, "params": 7, "macs": frames * size, "flops": 2 * frames * size}


register_profiler(fake_profile)  # a task file names only registered profilers


@pytest.fixture
def store_path(tmp_path):
    path = tmp_path / "s.sqlite"
    with ResultsStore(path) as s:
        run = s.start_run({"host": "h"}, {})
        base = dict(zip(KEY_FIELDS, KEY, strict=True))
        s.add_row({**base, "macs": 5, "latency_ms_median": 2.5}, run_id=run)
        s.add_row({**base, "model": "bad[x]"}, run_id=run, status="failed", error="Boom [oops]")
    return path


def test_export_json_to_stdout(store_path, capsys):
    assert main(["export", "--store", str(store_path), "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["model"] for r in rows} == {"r3d_resnet18", "bad[x]"}
    assert all(r["run_host"] == "h" for r in rows)


def test_export_csv_to_file_with_filters(store_path, tmp_path, capsys):
    out = tmp_path / "o.csv"
    assert main(["export", "--store", str(store_path), "--out", str(out), "--status", "ok"]) == 0
    (rec,) = list(csv.DictReader(io.StringIO(out.read_text())))
    assert rec["model"] == "r3d_resnet18" and rec["macs"] == "5"
    assert "wrote 1 row(s) as csv" in capsys.readouterr().err


def test_results_table(store_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["results", "--store", str(store_path)]) == 0
    out = capsys.readouterr().out
    assert "r3d_resnet18" in out and "failed" in out and "Boom [oops]" in out
    assert "latency ms" in out and "2.50" in out
    assert "device=cpu" in out  # constant columns move to the title


def test_import_benchmark(tmp_path, capsys):
    doc = {
        "machine_info": {"node": "n"},
        "commit_info": {"id": "c0ffee"},
        "benchmarks": [
            {
                "fullname": "benchmarks/test_bench_zoo.py::test_forward[x]",
                "extra_info": dict(zip(KEY_FIELDS, KEY, strict=True)),
                "stats": {"median": 0.02, "iqr": 0.001, "mean": 0.021, "rounds": 5},
            }
        ],
    }
    path = tmp_path / "b.json"
    path.write_text(json.dumps(doc))
    store = tmp_path / "new.sqlite"
    assert main(["import-benchmark", str(path), "--store", str(store)]) == 0
    assert "imported 1 row(s)" in capsys.readouterr().out
    with ResultsStore(store, readonly=True) as s:
        (r,) = s.rows(source="pytest-benchmark")
    assert r["latency_ms_median"] == pytest.approx(20.0)


@pytest.mark.parametrize(
    "argv, match",
    [
        (["results"], "corrupt or not an SQLite database"),
        (["export"], "corrupt or not an SQLite database"),
        (["import-benchmark", "nofile.json"], "no such file"),
    ],
)
def test_bad_store_or_file_is_one_line_exit_2(tmp_path, capsys, argv, match):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"\x00garbage" * 64)
    assert main([*argv, "--store", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and match in err and "Traceback" not in err


def test_missing_store_for_reading(tmp_path, capsys):
    assert main(["results", "--store", str(tmp_path / "none.sqlite")]) == 2
    assert "no results store" in capsys.readouterr().err
    assert not (tmp_path / "none.sqlite").exists()


def test_sweep_task_json_runs_one_task(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT / "tests"), str(ROOT)]))
    task = {"model": "m1", "frames": 4, "size": 32, "profiler": f"{__name__}:fake_profile"}
    store = tmp_path / "s.sqlite"
    argv = ["sweep", "--task", json.dumps(task), "--store", str(store), "--no-progress"]
    assert main([*argv, "--no-isolate"]) == 0
    assert "ran 1 (0 failed)" in capsys.readouterr().out
    assert main(argv) == 0  # resumable: already stored
    assert "ran 0 (0 failed), skipped 1" in capsys.readouterr().out
    with ResultsStore(store, readonly=True) as s:
        (r,) = s.rows()
    assert r["macs"] == 128 and r["task_id"] == "m1/f4/s32/b1/c400/cpu/float32/contiguous/eager"


def test_sweep_list_tasks(monkeypatch, capsys):
    from stbench import zoo

    class Spec:
        default_frames, default_size, default_classes = 8, 224, 400

    monkeypatch.setattr(zoo, "list_models", lambda p="*": ["a1", "a2"])
    monkeypatch.setattr(zoo, "get_spec", lambda n: Spec())
    argv = ["sweep", "a*", "--frames", "8", "16", "--sizes", "112", "--time", "--list-tasks"]
    assert main(argv) == 0
    tasks = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(tasks) == 4 and all(t["time"] and t["size"] == 112 for t in tasks)
    assert tasks[0]["task_id"] == "a1/f8/s112/b1/c400/cpu/float32/contiguous/eager"


@pytest.mark.parametrize(
    "argv, match",
    [
        (["sweep"], "MODEL: got nothing"),
        (["sweep", "*", "--device", "tpu", "--list-tasks"], "device: got 'tpu'"),
        (["sweep", "--task", "{bad"], "task: not valid JSON"),
        (["sweep", "--task", '{"model": "a", "frames": 1, "size": 1}', "--shard", "x"], "--shard"),
    ],
)
def test_sweep_bad_input(capsys, argv, match):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1


def test_merge_store(store_path, tmp_path, capsys):
    target = tmp_path / "all.sqlite"
    assert main(["merge-store", str(store_path), "--store", str(target)]) == 0
    assert "1 new run(s), 2 new history entr(ies)" in capsys.readouterr().out
    assert main(["merge-store", str(store_path), "--store", str(target)]) == 0
    assert "0 new run(s), 0 new history entr(ies)" in capsys.readouterr().out
    assert main(["merge-store", str(target), "--store", str(target)]) == 2
    assert "is the target store itself" in capsys.readouterr().err


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
def test_sweep_on_cuda_without_cuda_is_one_line(capsys):
    assert main(["sweep", "*", "--device", "cuda", "--list-tasks"]) == 2
    err = capsys.readouterr().err
    assert "CUDA is not available" in err and err.count("\n") == 1


def test_export_to_a_directory_is_one_line_exit_2(store_path, tmp_path, capsys):
    assert main(["export", "--store", str(store_path), "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a directory" in err
    assert not list(tmp_path.parent.glob(f".{tmp_path.name}.*.tmp"))  # no temp file left


def test_export_through_a_symlink_keeps_the_link(store_path, tmp_path):
    target = tmp_path / "real.csv"
    target.write_text("")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    assert main(["export", "--store", str(store_path), "--out", str(link)]) == 0
    assert link.is_symlink() and target.read_text().startswith("model,")


def test_records_join_to_a_directory_is_one_line_exit_2(store_path, tmp_path, capsys):
    argv = ["records", "join", "--store", str(store_path), "--out", str(tmp_path)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a directory" in err


def test_results_machine_formats_carry_raw_fields(store_path, capsys):
    assert main(["results", "--store", str(store_path), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(rows[0])[:4] == ["model", "frames", "size", "batch"]
    ok = next(r for r in rows if r["model"] == "r3d_resnet18")
    assert ok["macs"] == "5" and ok["latency_ms_median"] == "2.5" and "run_host" not in ok
    assert main(["results", "--store", str(store_path), "--format", "markdown"]) == 0
    text = capsys.readouterr().out
    assert "| MACs (G) |" in text and "failed: Boom [oops]" in text


def test_export_format_must_agree_with_the_extension(store_path, tmp_path, capsys):
    out = tmp_path / "o.json"
    assert main(["export", "--store", str(store_path), "--format", "csv", "--out", str(out)]) == 2
    assert "names a json file" in capsys.readouterr().err and not out.exists()
    assert main(["export", "--store", str(store_path), "--out", str(tmp_path / "o.parquet")]) == 2
    assert "got extension '.parquet'" in capsys.readouterr().err


def test_export_history_and_noisy_results(tmp_path, capsys, monkeypatch):
    path = tmp_path / "h.sqlite"
    base = dict(zip(KEY_FIELDS, KEY, strict=True))
    with ResultsStore(path) as s:
        s.add_row({**base, "macs": 5, "latency_ms_median": 1269.96, "latency_ms_iqr": 330.0})
        s.add_row({**base, "macs": 5})  # static only: keeps the timing
        s.add_row(base, status="failed", error="Timeout: timed out after 3 s")
    assert main(["export", "--store", str(path), "--format", "json", "--history"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [e["status"] for e in entries] == ["ok", "ok", "failed"]
    assert entries[0]["noisy"] is True and entries[1]["noisy"] is None
    monkeypatch.setenv("COLUMNS", "200")
    assert main(["results", "--store", str(path)]) == 0
    out = capsys.readouterr().out
    assert "1,269.96 (noisy)" in out and "1 failed attempt(s)" in out
    assert "latency IQR/median > 0.1" in out


def test_damaged_store_is_refused_by_every_command(tmp_path, capsys):
    path = tmp_path / "d.sqlite"
    base = dict(zip(KEY_FIELDS, KEY, strict=True))
    with ResultsStore(path) as s:
        s.add_rows(
            [{**base, "frames": f, "macs": f, "note": "x" * 300} for f in range(1, 200)], env={}
        )
    data = bytearray(path.read_bytes())
    page = 4096
    middle = len(data) // page // 2
    data[middle * page : (middle + 2) * page] = bytes(range(256)) * (2 * page // 256)
    path.write_bytes(bytes(data))
    for argv in (["results"], ["export"], ["merge-store", str(tmp_path / "none.sqlite")]):
        assert main([*argv, "--store", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "is damaged" in err and str(path) in err
        assert ".recover" in err
    assert path.read_bytes() == bytes(data)


# ------------------------------------------------------------------ only named code runs (25.4)


def test_a_task_file_cannot_name_a_function_to_call(tmp_path, capsys, monkeypatch):
    called = []
    monkeypatch.setattr(os, "system", lambda cmd: called.append(cmd) or 0)
    task = {"model": "touch /tmp/x", "frames": 4, "size": 32, "profiler": "os:system"}
    store = tmp_path / "s.sqlite"
    argv = ["sweep", "--task", json.dumps(task), "--store", str(store), "--no-isolate"]
    assert main([*argv, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "profiler: got 'os:system'; allowed: a registered profiler" in err
    assert len(err.strip().splitlines()) == 1 and called == [] and not store.exists()


def test_a_task_file_cannot_name_a_module_to_import(tmp_path, capsys):
    evil = tmp_path / "evil.py"
    marker = tmp_path / "ran"
    evil.write_text(f"open({str(marker)!r}, 'w').close()\n")
    task = {"model": "r3d_resnet18", "frames": 8, "size": 112, "modules": [str(evil)]}
    store = tmp_path / "s.sqlite"
    assert main(["sweep", "--task", json.dumps(task), "--store", str(store), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "task: modules: got [" in err and "allowed: modules given with --module" in err
    assert not marker.exists() and not store.exists()


def test_a_task_naming_an_unregistered_profiler_is_a_failure_row_not_an_import():
    import sys

    from stbench.bench.sweep.driver import Task, run_task

    sys.modules.pop("this_module_does_not_exist", None)
    row = run_task(Task("m", 4, 32, profiler="this_module_does_not_exist:fn"))
    assert row["status"] == "failed" and "allowed: a registered profiler" in row["error"]
    assert "this_module_does_not_exist" not in sys.modules


# ------------------------------------------------------------------ merge-store (issue 22.15)


def test_merge_store_missing_source_creates_no_target(tmp_path, capsys):
    target = tmp_path / "all.sqlite"
    missing = tmp_path / "missing.sqlite"
    assert main(["merge-store", str(missing), "--store", str(target)]) == 2
    err = capsys.readouterr().err
    assert f"stbench merge-store: error: FILE {missing}: no results store at {missing}" in err
    assert err.count("\n") == 1 and "--store" not in err and not target.exists()


@pytest.mark.parametrize("target_exists", [False, True])
def test_merge_store_checks_every_source_before_merging_any(
    store_path, tmp_path, capsys, target_exists
):
    target = tmp_path / "all.sqlite"
    if target_exists:
        with ResultsStore(target):
            pass
    before = target.read_bytes() if target_exists else None
    bad = tmp_path / "bad.sqlite"
    bad.write_text("model,frames\nr3d,8\n")  # not a store
    assert main(["merge-store", str(store_path), str(bad), "--store", str(target)]) == 2
    err = capsys.readouterr().err
    assert f"error: FILE {bad}: {bad} is corrupt or not an SQLite database" in err
    assert err.count("\n") == 1 and "--store" not in err
    if target_exists:
        assert target.read_bytes() == before
        with ResultsStore(target, readonly=True) as s:
            assert s.rows() == []
    else:
        assert not target.exists()
