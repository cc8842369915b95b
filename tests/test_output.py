"""The one output layer: rendering in every format, the atomic writer, and the CLI flags."""

import csv
import io
import json
import os
import re
import stat
from pathlib import Path

import pandas as pd
import pytest
from stbench.cli import main

from stbench import output
from stbench.output import Column, Table, check_writable, render, resolve_format, write_atomic

ROWS = [
    {"model": "a|b", "params": 24_000_000, "latency_ms": 5.25, "note": None, "nested": {"x": 1}},
    {"model": "c", "params": 11_500_000, "latency_ms": float("nan"), "note": "ok", "nested": []},
]
COLS = [
    Column("model"),
    Column("params", "params (M)", scale=1e6),
    Column("latency_ms", "latency (ms)"),
]


def test_human_formats_show_the_columns_with_units():
    table = Table(ROWS, COLS, title="title", notes=["a note"])
    md = render(table, "markdown")
    assert md.splitlines()[:4] == [
        "title",
        "",
        "| model | params (M) | latency (ms) |",
        "|---|---|---|",
    ]
    assert "| a\\|b | 24.00 | 5.25 |" in md and "| c | 11.50 | - |" in md
    assert md.rstrip().endswith("a note") and "nested" not in md
    text = render(table, "table")
    assert "params (M)" in text and "latency (ms)" in text and "24.00" in text
    assert "\x1b[" not in text and "a note" in text  # plain text, no colour codes


def test_machine_formats_carry_every_field_under_its_key():
    table = Table(ROWS, COLS)
    data = json.loads(render(table, "json"))
    assert data[0] == {
        "model": "a|b",
        "params": 24_000_000,
        "latency_ms": 5.25,
        "note": None,
        "nested": {"x": 1},
    }
    assert data[1]["latency_ms"] is None  # NaN is not JSON
    back = list(csv.DictReader(io.StringIO(render(table, "csv"))))
    assert back[0] == {
        "model": "a|b",
        "params": "24000000",
        "latency_ms": "5.25",
        "note": "",
        "nested": '{"x": 1}',
    }
    assert float(back[0]["latency_ms"]) == ROWS[0]["latency_ms"] and back[1]["latency_ms"] == ""


def test_dataframes_numpy_values_and_field_order():
    df = pd.DataFrame({"b": [1, 2], "a": [0.5, None]}).astype({"b": "Int64"})
    df.loc[1, "b"] = pd.NA
    data = json.loads(render(Table(df, first=["a"]), "json"))
    assert data == [{"a": 0.5, "b": 1}, {"a": None, "b": None}]
    assert render(Table(df), "csv").splitlines() == ["b,a", "1,0.5", ","]


def test_transposed_tables_and_several_tables():
    rows = [{"model": "m1", "GMACs": 1.0}, {"model": "m2", "GMACs": 2.5}]
    md = render(Table(rows, transpose=True), "markdown").splitlines()
    assert md[0] == "| model | m1 | m2 |" and md[2] == "| GMACs | 1.0 | 2.5 |"
    two = [Table(rows[:1], title="one"), Table(rows[1:], title="two")]
    assert [r["model"] for r in json.loads(render(two, "json"))] == ["m1", "m2"]
    text = render(two, "table")
    assert text.index("one") < text.index("m1") < text.index("two") < text.index("m2")


@pytest.mark.parametrize(
    ("fmt", "out", "expected"),
    [
        (None, None, "table"),
        ("csv", None, "csv"),
        (None, "x.CSV", "csv"),
        (None, "a/b.md", "markdown"),
        (None, "x.txt", "table"),
        ("json", "x.json", "json"),
        ("markdown", "report", "markdown"),
        (None, "report", "table"),
    ],
)
def test_resolve_format(fmt, out, expected):
    assert resolve_format(fmt, out) == expected


@pytest.mark.parametrize(
    ("fmt", "out", "message"),
    [
        ("xml", None, "--format: got 'xml'; allowed: table, markdown, csv, json"),
        (None, "x.parquet", "--out: got extension '.parquet'; allowed: .txt, .md"),
        ("csv", "x.json", "--out: 'x.json' names a json file; allowed with --format csv: .csv"),
        ("table", "x.md", "names a markdown file"),
    ],
)
def test_resolve_format_refuses_contradictions(fmt, out, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        resolve_format(fmt, out)


def test_writer_creates_the_folder_with_mode_0644(tmp_path):
    old = os.umask(0o077)  # the mode does not depend on a strict umask
    try:
        path = write_atomic(tmp_path / "new" / "deep" / "f.csv", "a,b\n")
    finally:
        os.umask(old)
    assert path.read_text() == "a,b\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    write_atomic(path, b"\x00bytes")
    assert path.read_bytes() == b"\x00bytes" and os.listdir(path.parent) == ["f.csv"]


def test_a_failed_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "f.json"
    path.write_text("old")

    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(output.os, "fsync", broken_fsync)
    with pytest.raises(ValueError, match="--out: cannot write .*No space left on device"):
        write_atomic(path, "new" * 1000)
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["f.json"]  # no temp file left


def test_interrupted_write_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "f.json"
    path.write_text("old")

    def interrupted(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr(output.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, "new")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["f.json"]


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("folder", "is a directory; allowed: a file path"),
        ("file.txt/out.csv", "cannot write '{tmp}/file.txt/out.csv': Not a directory"),
        ("file.txt/sub/out.csv", "Not a directory"),
        ("/proc/nope/out.csv", "cannot write '/proc/nope/out.csv'"),
    ],
)
def test_unwritable_places_are_one_line_errors(tmp_path, where, message):
    (tmp_path / "folder").mkdir()
    (tmp_path / "file.txt").write_text("x")
    path = where if where.startswith("/") else str(tmp_path / where)
    for fn in (write_atomic, check_writable):
        with pytest.raises(ValueError) as err:
            fn(path, "data") if fn is write_atomic else fn(path)
        assert message.format(tmp=tmp_path) in str(err.value)
        assert "\n" not in str(err.value) and str(err.value).startswith("--out: ")
    assert (tmp_path / "file.txt").read_text() == "x"


def test_a_symlink_is_kept_and_its_target_written(tmp_path):
    target = tmp_path / "real.csv"
    target.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    write_atomic(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
    dangling = tmp_path / "dangling.csv"
    dangling.symlink_to(tmp_path / "later" / "made.csv")
    write_atomic(dangling, "x")
    assert dangling.is_symlink() and (tmp_path / "later" / "made.csv").read_text() == "x"


def test_a_device_is_written_into_never_replaced():
    assert write_atomic("/dev/null", "x") == Path("/dev/null")
    assert Path("/dev/null").is_char_device()
    assert check_writable("/dev/null", option="--x") == Path("/dev/null")


def test_option_name_in_errors(tmp_path):
    with pytest.raises(ValueError, match="^--dashboard: cannot write"):
        check_writable("/proc/nope/d.html", option="--dashboard")


# ---------------------------------------------------------------- every table command


@pytest.fixture
def store_path(tmp_path):
    from stbench.bench.store.results import ResultsStore

    path = tmp_path / "s.sqlite"
    with ResultsStore(path) as s:
        row = dict(model="tam_resnet50", frames=8, size=224, batch=1, num_classes=87, macs=123)
        s.add_row({**row, "params": 25_000_000, "latency_ms_median": 2.5})
    return path


@pytest.fixture
def fake_collect(monkeypatch):
    import stbench.plots.pipeline as pipeline
    from stbench.plots.data import build_points

    def row(model, macs, top1):
        return dict(
            model=model,
            dataset="kinetics400",
            metric="top1",
            value=top1,
            level="clip",
            views="1x1",
            frames=8,
            input_size=224,
            num_classes=400,
            modality="rgb",
            source="paper.txt Table 1",
            batch=1,
            device="meta",
            dtype="float32",
            macs=macs,
            params=1e7,
        )

    joined = pd.DataFrame([row("tsn_resnet18", 14e9, 60.0), row("tam_resnet50", 33e9, 72.0)])

    def collect(**_):
        points, axes = build_points(joined)
        return pipeline.PlotData(joined, pd.DataFrame(), points, axes, [])

    monkeypatch.setattr(pipeline, "collect", collect)


def _records_file(tmp_path):
    from stbench.zoo.records import COLUMNS

    row = dict.fromkeys(COLUMNS, "")
    row |= dict(paper="chen2021", model="tsn_resnet50", dataset="mini_ssv2", metric="top1")
    row |= dict(value="50", level="clip", views="1x1", frames="8", input_size="224")
    row |= dict(modality="rgb", source="mine", variant="mine")
    path = tmp_path / "mine.csv"
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        w.writerow(row)
    return path


COMMANDS = {
    "list": ["list", "tsn_*"],
    "profile": ["profile", "tsn_resnet18", "--frames", "2", "--size", "32"],
    "results": ["results", "--store", "{store}"],
    "export": ["export", "--store", "{store}"],
    "records list": ["records", "list", "--model", "tam_resnet50", "--metric", "top5"],
    "records validate": ["records", "validate", "{records}"],
    "records phi-psi": ["records", "phi-psi"],
    "records join": ["records", "join", "--store", "{store}"],
    "reproduce": ["reproduce", "--paper", "xie2018", "--model", "xie_s3d"],
    "compare": ["compare", "tsn_resnet18", "tam_resnet18", "--frames", "8", "--size", "112"],
    "frontier": ["frontier", "--dashboard", "{tmp}/d.html"],
}


def _argv(name, tmp_path, store_path):
    sub = {"{store}": str(store_path), "{records}": str(_records_file(tmp_path))}
    return [sub.get(a, a.replace("{tmp}", str(tmp_path))) for a in COMMANDS[name]]


@pytest.mark.parametrize("name", COMMANDS)
def test_every_table_command_writes_every_format(
    name, tmp_path, store_path, fake_collect, capsys, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STBENCH_STORE", raising=False)
    argv = _argv(name, tmp_path, store_path)
    # a rich table of all 1,583 joined records takes seconds; markdown covers the human path
    for ext in ("md", "csv", "json") if name == "records join" else ("txt", "md", "csv", "json"):
        out = tmp_path / "out" / f"t.{ext}"
        assert main([*argv, "--out", str(out)]) == 0, (name, ext, capsys.readouterr().err)
        text = out.read_text()
        assert stat.S_IMODE(out.stat().st_mode) == 0o644
        if ext == "json":
            assert isinstance(json.loads(text), list) and json.loads(text)
        elif ext == "csv":
            assert list(csv.DictReader(io.StringIO(text)))
        elif ext == "md":
            assert "\n|---|" in text
        else:
            assert "┃" in text and "\x1b[" not in text
    assert capsys.readouterr().out == ""  # all of it went to the file
    assert main([*argv, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_table_command_refuses_a_bad_extension(name, tmp_path, store_path, capsys):
    argv = _argv(name, tmp_path, store_path)
    assert main([*argv, "--out", str(tmp_path / "x.parquet")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--out: got extension '.parquet'" in err
    assert main([*argv, "--format", "csv", "--out", str(tmp_path / "x.json")]) == 2
    assert "names a json file" in capsys.readouterr().err
    assert not list(tmp_path.glob("x.*"))


@pytest.mark.parametrize("where", ["file.txt/out.csv", "/proc/nope/out.csv"])
def test_records_join_into_an_unwritable_place_is_one_line(where, tmp_path, store_path, capsys):
    (tmp_path / "file.txt").write_text("x")
    out = where if where.startswith("/") else str(tmp_path / where)
    assert main(["records", "join", "--store", str(store_path), "--out", out]) == 2
    err = capsys.readouterr().err
    assert err == f"stbench records: error: --out: cannot write {out!r}: {err.split(': ')[-1]}"
    assert err.count("\n") == 1 and "Traceback" not in err


def test_legacy_flags_still_work(capsys):
    assert main(["list", "tsn_resnet18", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["model"] == "tsn_resnet18"
    assert main(["list", "tsn_resnet18", "--csv"]) == 0
    assert capsys.readouterr().out.startswith("model,")
    assert main(["records", "phi-psi", "--markdown"]) == 0
    assert "| dataset |" in capsys.readouterr().out


def test_frontier_out_html_is_the_dashboard(tmp_path, fake_collect, capsys):
    html = tmp_path / "f.html"
    assert main(["frontier", "--out", str(html), "--format", "csv"]) == 0
    assert html.stat().st_size > 0 and capsys.readouterr().out.startswith("dataset,metric,model")
    argv = ["frontier", "--out", str(html), "--dashboard", str(html)]
    assert main(argv) == 2
    assert "give it once, as --dashboard" in capsys.readouterr().err


def test_a_small_nonzero_number_keeps_two_significant_digits():
    from stbench.output import cell_text

    assert cell_text(2_650_000, scale=1e9) == "0.0027"
    assert cell_text(701, scale=1e6) == "0.0007"
    assert cell_text(0, scale=1e9) == "0.00"
    assert cell_text(12_345_678_901, scale=1e9) == "12.35"


# ------------------------------------------------------------------ the output rule (issue 25.1)


def _one_line_refusal(capsys, text: str) -> None:
    err = capsys.readouterr().err
    assert text in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_records_list_never_writes_over_its_own_records(tmp_path, capsys):
    from test_user_records import _mine

    mine = _mine(tmp_path)
    before = mine.read_bytes()
    assert main(["records", "list", "--records", str(mine), "--out", str(mine)]) == 2
    _one_line_refusal(capsys, "which this command reads (--records)")
    assert mine.read_bytes() == before


def test_frontier_never_writes_over_its_own_records(tmp_path, capsys, fake_collect):
    from test_user_records import _mine

    mine = _mine(tmp_path)
    before = mine.read_bytes()
    dashboard = tmp_path / "d.html"
    argv = ["frontier", "--records", str(mine), "--out", str(mine), "--dashboard", str(dashboard)]
    assert main(argv) == 2
    _one_line_refusal(capsys, "which this command reads (--records)")
    assert mine.read_bytes() == before and not dashboard.exists()


def test_export_never_writes_over_the_store_it_reads(tmp_path, capsys):
    from stbench.bench.store.results import ResultsStore

    store = tmp_path / "results.csv"  # a store under a CSV name
    with ResultsStore(store) as db:
        db.add_row({"model": "m", "frames": 4, "size": 32, "batch": 1, "num_classes": 2})
    before = store.read_bytes()
    assert main(["export", "--store", str(store), "--out", str(store)]) == 2
    _one_line_refusal(capsys, "which this command reads (--store)")
    assert store.read_bytes() == before
    other = tmp_path / "other.csv"  # any store, read or not, is never an output
    other.write_bytes(before)
    assert main(["export", "--store", str(store), "--out", str(other)]) == 2
    _one_line_refusal(capsys, "a results store (SQLite)")
    assert other.read_bytes() == before


def test_a_hard_link_to_an_input_is_the_input(tmp_path, capsys):
    from test_user_records import _mine

    mine = _mine(tmp_path)
    link = tmp_path / "alias.csv"
    os.link(mine, link)
    assert main(["records", "list", "--records", str(mine), "--out", str(link)]) == 2
    _one_line_refusal(capsys, "which this command reads (--records)")


def test_module_file_is_never_an_output(tmp_path, capsys, clean_registry):
    module = tmp_path / "mine.py"
    module.write_text("X = 1\n")
    out = tmp_path / "mine.json"
    os.symlink(module, out)  # through a link, the module itself
    assert main(["records", "list", "--module", str(module), "--out", str(out)]) == 2
    _one_line_refusal(capsys, "which this command reads (--module)")
    assert module.read_text() == "X = 1\n"


@pytest.mark.parametrize("kind", ["slash", "loop"])
def test_folder_paths_and_symlink_loops_are_refused(tmp_path, capsys, kind):
    if kind == "slash":
        out = str(tmp_path / "new") + "/"
        message = "allowed: a file path (not ending in '/')"
    else:
        os.symlink(tmp_path / "b.csv", tmp_path / "a.csv")
        os.symlink(tmp_path / "a.csv", tmp_path / "b.csv")
        out, message = str(tmp_path / "a.csv"), "(a symlink loop)"
    assert main(["records", "list", "--out", out, "--format", "csv"]) == 2
    _one_line_refusal(capsys, message)
    with pytest.raises(ValueError, match=re.escape(message)):
        write_atomic(out, "x")
    assert not (tmp_path / "new").exists()


def test_write_set_replaces_every_file_or_none(tmp_path, monkeypatch):
    a, b = tmp_path / "a.html", tmp_path / "sub" / "b.csv"
    output.write_set({a: "old a", b: "old b"})
    assert (a.read_text(), b.read_text()) == ("old a", "old b")
    real = os.replace
    calls = []

    def second_fails(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(output.os, "replace", second_fails)
    with pytest.raises(ValueError, match="No space left on device"):
        output.write_set({a: "new a", b: "new b"})
    monkeypatch.undo()
    assert (a.read_text(), b.read_text()) == ("old a", "old b")
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["a.html", "b.csv"]


def test_demo_dying_on_a_broken_stdout_leaves_one_whole_set(tmp_path, capfd, fake_collect):
    import stbench.cli.plots as cli_plots

    out = tmp_path / "out"
    out.mkdir()
    (out / "dashboard.html").write_text("old dashboard")
    (out / "frontiers.csv").write_text("old csv")

    def broken(*_a, **_k):
        raise BrokenPipeError(32, "Broken pipe")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cli_plots, "emit", broken)
        assert main(["demo", "--out-dir", str(out)]) == 0  # the reader left: not an error
    dashboard, frontiers = (out / "dashboard.html").read_text(), (out / "frontiers.csv").read_text()
    assert dashboard.startswith("<!DOCTYPE html>") and frontiers.startswith("dataset,")


def test_demo_refuses_a_set_member_that_is_an_input_before_any_work(tmp_path, capsys, fake_collect):
    from test_user_records import _mine

    mine = _mine(tmp_path)
    before = mine.read_bytes()
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(mine, out / "frontiers.csv")
    assert main(["demo", "--out-dir", str(out), "--records", str(mine)]) == 2
    _one_line_refusal(capsys, "which this command reads (--records)")
    assert mine.read_bytes() == before and not (out / "dashboard.html").exists()
