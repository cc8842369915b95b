"""One rule per kind of value, options at their limits, the store's files, exit statuses
(issues 20.5, 22.11-14, 22.16-17, 25.3)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys

import pytest
import torch
from stbench.bench.store import schema
from stbench.bench.store.results import ResultsStore, StoreError
from stbench.cli import main

from stbench import values
from stbench.errors import EXIT_LEFT, EXIT_TERMINATED

ROW = {"model": "r3d_resnet18", "frames": 8, "size": 112, "batch": 1, "num_classes": 400}
ROW |= {"params": 1, "macs": 2}


def _run(capsys, argv):
    try:
        rc = main(argv)
    except SystemExit as exc:
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err


def _refused(capsys, argv, *words):
    rc, _, err = _run(capsys, argv)
    assert rc == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, err
    return err


# ------------------------------------------------------------------ the one rule per kind


@pytest.mark.parametrize("text", ["7_5", "٣", "８", " ", "1e3", "0x10", "-3", "0", True, 1.0])
def test_integers_are_plain_ascii_digits(text):
    with pytest.raises(values.FieldError, match="^frames: got .*; allowed: an integer >= 1"):
        values.positive_int("frames", text)


def test_limits_and_int64():
    assert values.positive_int("frames", " 16 ") == 16
    with pytest.raises(values.FieldError, match="from 1 to 8192"):
        values.positive_int("size", 99999999)
    with pytest.raises(values.FieldError, match="below 2"):
        values.fits_int64("macs", 2**63)
    for bad in ("inf", "nan", float("inf"), "1e999", "-1", 0):
        with pytest.raises(values.FieldError, match="timeout_s: got"):
            values.positive_number("timeout_s", bad)


def test_store_paths_are_regular_files(tmp_path):
    os.mkfifo(tmp_path / "fifo")
    for bad in ("", "/dev/null", str(tmp_path / "fifo"), f"{tmp_path}/", str(tmp_path)):
        with pytest.raises(values.FieldError, match="^store: got"):
            values.store_path(bad)
    assert values.store_path(tmp_path / "new.sqlite") == tmp_path / "new.sqlite"


# ------------------------------------------------------------------ the CLI, nothing created


def test_store_empty_is_one_rule_for_every_command(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = _refused(capsys, ["profile", "r3d_resnet18", "--store", ""], "--store: got ''")
    b = _refused(capsys, ["sweep", "r3d_resnet18", "--store", ""], "--store: got ''")
    assert a.partition("error:")[2] == b.partition("error:")[2]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "extra, words",
    [
        (["--sizes", "99999999"], ["--sizes: got 99999999"]),
        (["--sizes", "7_5"], ["--sizes: got '7_5'"]),
        (["--frames", "٣"], ["--frames: got"]),
        (["--timeout", "inf"], ["--timeout: got"]),
        (["--timeout", "5", "--no-isolate"], ["--timeout"]),
        (["--jobs", "2"], ["--jobs", "--predict"]),
        (["--predict", "a100", "--jobs", "0"], ["--jobs: got"]),
        (["--predict", "a100", "--jobs", "-3"], ["--jobs: got"]),
        (["--executor", "ray", "--address", "127.0.0.1:1"], ["--address"]),
        (["--predict", "0"], ["0"]),  # found by the fuzzer: the store came first
    ],
)
def test_sweep_refuses_before_creating_the_store(tmp_path, capsys, extra, words):
    if "ray" in extra:
        pytest.importorskip("ray")
    store = tmp_path / "s.sqlite"
    err = _refused(capsys, ["sweep", "r3d_resnet18", "--store", str(store), *extra], *words)
    assert "lease_s" not in err
    assert list(tmp_path.iterdir()) == []


def test_profile_refuses_an_input_before_creating_its_store(tmp_path, capsys):
    store = tmp_path / "p.sqlite"
    _refused(
        capsys, ["profile", "r3d_resnet18", "--frames", "2", "--store", str(store)], "--frames"
    )
    assert list(tmp_path.iterdir()) == []


def test_frontier_refuses_a_dashboard_name_before_counting(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # found by the fuzzer: 46 s of counting into a new store first
    monkeypatch.setenv("STBENCH_STORE", str(tmp_path / "s.sqlite"))
    _refused(capsys, ["frontier", "--dashboard", "0"], "--dashboard: got '0'")
    assert list(tmp_path.iterdir()) == []


def test_compare_refuses_an_input_before_creating_the_store(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # found by the fuzzer: the store was created, then refused
    monkeypatch.setenv("STBENCH_STORE", str(tmp_path / "s.sqlite"))
    _refused(capsys, ["compare", "r3d_resnet18", "--frames", "1"], "frames: got 1")
    assert list(tmp_path.iterdir()) == []


def test_for_records_missing_file_is_named(tmp_path, capsys):
    missing = tmp_path / "MISSING.csv"
    _refused(capsys, ["sweep", "--for-records", str(missing), "--list-tasks"], "MISSING.csv")


@pytest.mark.parametrize("kind", ["devnull", "fifo"])
def test_results_refuses_non_regular_files(tmp_path, capsys, kind):
    path = "/dev/null" if kind == "devnull" else str(tmp_path / "fifo")
    if kind == "fifo":
        os.mkfifo(path)
    _refused(capsys, ["results", "--store", path], "--store", "regular file")


def test_timeout_isolates_in_process_tasks(monkeypatch):
    from stbench.cli import sweep

    seen = {}
    monkeypatch.setattr(
        "stbench.bench.sweep.driver.run_sweep", lambda *a, **k: seen.update(k) or 1 / 0
    )
    with pytest.raises(ZeroDivisionError):
        sweep.run(sweep_args(["r3d_resnet18", "--timeout", "5", "--no-progress"]))
    assert seen["isolate"] is True and seen["timeout_s"] == 5.0


def sweep_args(argv):
    from stbench.cli import build_parser

    return build_parser().parse_args(["sweep", *argv])


# ------------------------------------------------------------------ the store


def test_schema_failure_shows_sqlite_error_and_leaves_no_file(tmp_path, monkeypatch):
    def full(conn):
        conn.execute("CREATE TABLE x (a)")
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(schema, "create", full)
    path = tmp_path / "s.sqlite"
    with pytest.raises(StoreError, match="disk is full") as err:
        ResultsStore(path)
    assert "cannot rollback" not in str(err.value)
    assert not path.exists() and not (tmp_path / "s.sqlite-journal").exists()


@pytest.mark.parametrize("damage", ["json", "utf8"])
def test_damaged_row_contents_name_the_file_and_refuse_writes(tmp_path, damage):
    path = tmp_path / "s.sqlite"
    with ResultsStore(path) as db:
        db.add_row(ROW)
    bad = "'{\"model\": '" if damage == "json" else "CAST(x'7b22ff223a317d' AS TEXT)"
    with sqlite3.connect(path) as conn:
        conn.execute(f"UPDATE current SET row_json = {bad}")
    with pytest.raises(StoreError, match=f"{path} is damaged.*recover"):
        with ResultsStore(path, readonly=True) as db:
            db.rows()
    with pytest.raises(StoreError, match="damaged"):
        ResultsStore(path)  # writable open: refused before anything is added


# ------------------------------------------------------------------ exit statuses


def test_tasks_left_to_a_live_sweep_exit_75(tmp_path, capsys):
    from stbench.bench.sweep.driver import build_tasks

    store = tmp_path / "s.sqlite"
    (task,) = build_tasks("r3d_resnet18", [8], [64])
    with ResultsStore(store) as db:
        assert db.claim(task.key, "another-host:1:abc", 600)
    argv = ["sweep", "r3d_resnet18", "--frames", "8", "--sizes", "64", "--no-progress"]
    rc, out, _ = _run(capsys, [*argv, "--store", str(store)])
    assert rc == EXIT_LEFT == 75 and "left to another sweep" in out
    from stbench.cli import build_parser

    assert "75" in build_parser()._subparsers._group_actions[0].choices["sweep"].format_help()


def test_sigterm_says_terminated_exits_143_and_releases_claims(tmp_path, capsys, monkeypatch):
    store = tmp_path / "s.sqlite"

    def killed(task, static=None):
        os.kill(os.getpid(), signal.SIGTERM)
        raise AssertionError("SIGTERM did not stop the sweep")

    monkeypatch.setattr("stbench.bench.sweep.executors.run_task", killed)
    argv = ["sweep", "r3d_resnet18", "--frames", "8", "--sizes", "64", "--no-progress"]
    rc, _, err = _run(capsys, [*argv, "--no-isolate", "--store", str(store)])
    assert rc == EXIT_TERMINATED == 143
    assert "terminated" in err and len(err.strip().splitlines()) == 1
    with ResultsStore(store, readonly=True) as db:
        assert db.claims() == []
    assert signal.getsignal(signal.SIGTERM) is not None


@pytest.mark.parametrize("target", ["/dev/full", "closed"])
def test_full_or_closed_stdout_is_one_line(target):
    redirect = "> /dev/full" if target == "/dev/full" else ">&-"
    cmd = f"{sys.executable} -m stbench.cli list {redirect}"
    done = subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


# ------------------------------------------------------------------ profile --time budget


def test_profile_time_is_estimated_and_refused_above_the_budget(capsys, monkeypatch):
    monkeypatch.setattr(
        "stbench.bench.measure.efficiency.gemm_rate", lambda *a, **k: {"gmacs_per_s": 50.0}
    )
    argv = ["profile", "r3d_resnet18", "--size", "1600", "--frames", "16", "--time"]
    err = _refused(capsys, argv, "--time-budget", "GMAC/s", "estimated")
    assert "r3d_resnet18" in err


def test_time_estimate_follows_the_protocol():
    from stbench.bench.config import ProfileConfig
    from stbench.bench.measure.timing import timing_seconds

    cfg = ProfileConfig.for_model("r3d_resnet18", timing=True)
    forward, total = timing_seconds(cfg, 10**12, 100.0)  # 10 s per forward
    assert forward == pytest.approx(10.0) and total == pytest.approx(10 + 30)
    _, quick = timing_seconds(cfg, 10**6, 100.0)
    assert quick < 5


# ------------------------------------------------------------------ the Python API's names


def test_create_model_ignores_case_like_the_cli():
    from stbench.zoo import create_model, get_spec, is_registered

    assert get_spec("R3D_ResNet18").name == "r3d_resnet18" and is_registered("MC3_ResNet18")
    assert create_model("TSN_ResNet18", num_classes=7)(torch.zeros(1, 3, 8, 64, 64)).shape == (1, 7)


def test_name_check_says_what_it_accepts():
    from stbench.zoo import register_model

    with pytest.raises(ValueError, match="ASCII letters") as err:
        register_model(
            lambda num_classes, frames: None, source="mylab", citation="x", name="modèle_ü"
        )
    assert "modèle_ü" in str(err.value)


# ------------------------------------------------------------------ hostile records files


def _records_file(tmp_path, *rows, header=None, name="mine.csv", bom=False):
    from test_records import HEADER, _row

    p = tmp_path / name
    text = "\n".join([header or HEADER, *(_row(**r) for r in rows)]) + "\n"
    p.write_bytes(("\ufeff" if bom else "").encode() + text.encode())
    return p


def test_records_accept_a_bom_and_a_quoted_newline(tmp_path, capsys):
    from stbench.zoo.records import validate_files

    p = _records_file(tmp_path, {"note": '"two\nlines"'}, {"published_name": "Net 2"}, bom=True)
    rows, problems = validate_files([p])
    assert problems == [] and rows[0]["note"] == "two\nlines" and rows[1]["line"] == 4
    rc, _, err = _run(capsys, ["records", "validate", str(p)])
    assert rc == 0, err


@pytest.mark.parametrize(
    "case, words",
    [
        ("huge", "field larger than field limit"),
        ("twice", "given twice ['value']"),
        ("digits", "value: got '7_5'"),
        ("arabic", "frames: got '٨'"),
    ],
)
def test_hostile_records_are_one_line(tmp_path, capsys, case, words):
    from test_records import HEADER

    if case == "huge":
        p = _records_file(tmp_path, {"note": "x" * 200_000})
    elif case == "twice":
        p = _records_file(tmp_path, {}, header=HEADER + ",value")
    elif case == "digits":
        p = _records_file(tmp_path, {"value": "7_5"})
    else:
        p = _records_file(tmp_path, {"frames": "٨"})
    _refused(capsys, ["records", "list", "--records", str(p), "--format", "csv"], words)


def test_records_list_csv_guards_formulas_and_reads_back(tmp_path, capsys):
    import csv
    import io

    from stbench.zoo.records import validate_files

    evil = {"published_name": "=HYPERLINK(1)", "note": "@SUM(A1)", "source": "+cmd"}
    p = _records_file(tmp_path, evil, {"published_name": "-2+3"})
    rc, out, err = _run(capsys, ["records", "list", "--records", str(p), "--format", "csv"])
    assert rc == 0, err
    mine = [r for r in csv.DictReader(io.StringIO(out)) if r["record_origin"]]
    assert {r["published_name"] for r in mine} == {"'=HYPERLINK(1)", "'-2+3"}
    assert all(
        not c.startswith(("=", "+", "-", "@")) or c[1:2].isdigit() for r in mine for c in r.values()
    )
    back = tmp_path / "back.csv"
    back.write_text(
        "\n".join(out.splitlines()[:1] + [ln for ln in out.splitlines() if "mine.csv" in ln])
    )
    rows, problems = validate_files([back], check_zoo_names=False)
    assert problems == [] and {r["published_name"] for r in rows} == {"=HYPERLINK(1)", "-2+3"}
