"""A fuzzer for the command line (issue 25.5): hostile options for every cheap command and
hostile records files, run in process, each checked against the exit-status contract.

The contract: the exit status is one of 0, 1, 2, 75, 130, 143; status 2 is exactly one
error line on stderr (progress lines aside) and never a traceback, and it creates or
changes no file; `--format json/csv` output parses. `make test` runs the "ci" profile (a
bounded number of examples); `make fuzz` runs the "fuzz" profile (STBENCH_FUZZ=fuzz).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import tempfile
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from stbench.cli import main  # noqa: E402

from stbench.errors import EXIT_LEFT  # noqa: E402

settings.register_profile(
    "ci",
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)
settings.register_profile(
    "fuzz", max_examples=400, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("STBENCH_FUZZ", "ci"))

STATUSES = {0, 1, 2, EXIT_LEFT, 130, 143}
ERROR_LINE = re.compile(r"^stbench [\w -]+: error: ")
PROGRESS_LINE = re.compile(r"^[\w-]+: (\d+/\d+|checking inputs|\S+: )")

# Values that broke or could break a parser: signs, separators, non-Latin digits, huge,
# non-finite, empty, control characters, paths that are not files.
HOSTILE = st.one_of(
    st.sampled_from(
        [
            "0",
            "-3",
            "1",
            "8",
            "7_5",
            "٣",
            "８",
            "inf",
            "nan",
            "-inf",
            "1e999",
            "99999999",
            "9" * 30,
            "",
            " ",
            "1.5",
            "+1",
            "0x10",
            "a\nb",
            "=cmd",
            "/dev/null",
            "/",
            ".",
        ]
    ),
    st.integers(-(2**70), 2**70).map(str),
    st.text(max_size=6),
)
FORMATS = st.sampled_from(["table", "csv", "json", "markdown"])
CELLS = st.one_of(
    HOSTILE,
    st.sampled_from(["ucf101", "top1", "clip", "rgb", "user", "x" * 140_000, '"q"', "a,b"]),
)


def _snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
        if p.is_file() or p.is_fifo()
    }


def _check(argv: list[str], root: Path) -> tuple[int, str, str]:
    """Run `stbench argv` in process inside `root`; assert the contract; (status, out, err)."""
    before = _snapshot(root)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as exc:  # argparse's own usage errors
            rc = exc.code
    out_text, err_text = out.getvalue(), err.getvalue()
    assert rc in STATUSES, (argv, rc, err_text)
    assert "Traceback" not in err_text, (argv, err_text)
    if rc == 2:
        lines = [ln for ln in err_text.splitlines() if ln.strip()]
        errors = [ln for ln in lines if ERROR_LINE.match(ln) or ln.startswith("usage:")]
        others = [ln for ln in lines if ln not in errors and not PROGRESS_LINE.match(ln)]
        listing = argv[:2] == ["records", "validate"]  # its problem list is its report
        assert len(errors) == 1 and (listing or not others), (argv, err_text)
        assert _snapshot(root) == before, (argv, "a refused command created or changed files")
    fmt = argv[argv.index("--format") + 1] if "--format" in argv else None
    if rc == 0 and fmt == "json" and out_text.strip():
        for chunk in [out_text] if out_text.lstrip().startswith("[") else out_text.splitlines():
            if chunk.strip():
                json.loads(chunk)
    if rc == 0 and fmt == "csv" and out_text.strip():
        rows = list(csv.reader(io.StringIO(out_text)))
        assert rows and all(len(r) == len(rows[0]) for r in rows if r), argv
    return rc, out_text, err_text


@contextlib.contextmanager
def _workdir():
    old, env = os.getcwd(), os.environ.get("STBENCH_STORE")
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        os.environ["STBENCH_STORE"] = str(Path(tmp) / "default.sqlite")
        try:
            yield Path(tmp)
        finally:
            os.chdir(old)
            if env is None:
                os.environ.pop("STBENCH_STORE", None)
            else:
                os.environ["STBENCH_STORE"] = env


PROFILE_OPTIONS = st.sampled_from(
    ["--frames", "--size", "--batch", "--classes", "--warmup", "--min-iters", "--threads"]
    + ["--max-time", "--time-budget", "--units", "--dtype", "--device", "--store", "--counters"]
)
SWEEP_OPTIONS = st.sampled_from(
    ["--frames", "--sizes", "--batches", "--classes", "--timeout", "--jobs", "--shard"]
    + ["--store", "--min-iters", "--threads", "--ray-cpus", "--throughput-batch"]
)
STORE_COMMANDS = st.sampled_from(["results", "export"])


@given(option=PROFILE_OPTIONS, value=HOSTILE, fmt=FORMATS)
@example(option="--frames", value="<\x85", fmt="table")  # found: a NEL split the error line
@example(option="--store", value="", fmt="json")  # found: profile stored nothing, exit 0
def test_profile_options(option, value, fmt):
    with _workdir() as root:
        _check(["profile", "r3d_resnet18", option, value, "--format", fmt], root)


@given(
    options=st.lists(st.tuples(PROFILE_OPTIONS, HOSTILE), min_size=1, max_size=3),
    store=st.booleans(),
)
@example(options=[("--frames", "2")], store=True)  # found: the store was created, then refused
def test_profile_option_pairs(options, store):
    with _workdir() as root:
        argv = ["profile", "r3d_resnet18", *(x for pair in options for x in pair)]
        _check([*argv, *(["--store", "p.sqlite"] if store else [])], root)


@given(option=SWEEP_OPTIONS, value=HOSTILE, listing=st.booleans())
@example(option="--sizes", value="99999999", listing=False)  # found: OverflowError traceback
@example(option="--timeout", value="inf", listing=False)  # found: refused after the store
def test_sweep_options(option, value, listing):
    with _workdir() as root:
        extra = ["--list-tasks"] if listing else ["--no-progress", "--store", "s.sqlite"]
        rc, _, _ = _check(["sweep", "r3d_resnet18", "--sizes", "64", *extra, option, value], root)
        if listing and rc != 0:
            assert not (root / "s.sqlite").exists()


@given(command=STORE_COMMANDS, value=HOSTILE, fmt=FORMATS, model=HOSTILE)
@example(command="results", value="0\r", fmt="table", model="x")  # found: \r split the line
@example(command="results", value="/dev/null", fmt="csv", model="x")  # found: exit 0, empty
def test_store_commands(command, value, fmt, model):
    with _workdir() as root:
        _check([command, "--store", value, "--format", fmt], root)
        _check([command, "--model", model or "x", "--format", fmt], root)


@given(pattern=HOSTILE, fmt=FORMATS)
def test_list(pattern, fmt):
    with _workdir() as root:
        _check(["list", pattern, "--format", fmt], root)


@given(
    header=st.lists(
        st.sampled_from(["paper", "model", "value", "dataset", "\ufeffpaper", "x"]), max_size=8
    ),
    rows=st.lists(st.lists(CELLS, min_size=1, max_size=10), max_size=4),
    bom=st.booleans(),
    fmt=st.sampled_from(["csv", "json"]),
)
def test_hostile_records_files(header, rows, bom, fmt):
    from test_records import HEADER

    with _workdir() as root:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header or HEADER.split(","))
        for r in rows:
            w.writerow(r)
        path = root / "mine.csv"
        path.write_bytes(("\ufeff" if bom else "").encode() + buf.getvalue().encode("utf-8"))
        _check(["records", "validate", str(path)], root)
        _check(["records", "list", "--records", str(path), "--format", fmt], root)


@given(
    cells=st.fixed_dictionaries(
        {"value": CELLS, "frames": CELLS, "published_name": CELLS, "note": CELLS}
    )
)
def test_hostile_cells_in_a_valid_file(cells):
    from test_records import HEADER, _row

    with _workdir() as root:
        path = root / "mine.csv"
        path.write_text(
            HEADER
            + "\n"
            + _row(**{k: f'"{v}"' if "," in v else v for k, v in cells.items()})
            + "\n"
        )
        _check(["records", "list", "--records", str(path), "--format", "csv"], root)


class _FailingStdout(io.StringIO):
    """A stdout that fails after `room` characters: a reader that left, or a full disk."""

    def __init__(self, room: int, error: OSError) -> None:
        super().__init__()
        self.room, self.error = room, error

    def write(self, text: str) -> int:
        if self.tell() + len(text) > self.room:
            raise self.error
        return super().write(text)


@given(
    argv=st.sampled_from(
        [
            ["list", "--format", "json"],
            ["list", "--format", "csv"],
            ["list", "--format", "markdown"],
            ["records", "list", "--format", "csv"],
            ["reproduce", "--paper", "tran2018", "--format", "csv"],
        ]
    ),
    room=st.integers(0, 4000),
    broken=st.booleans(),
)
def test_a_closed_or_full_stdout_is_one_line(argv, room, broken):
    import errno

    error = (
        BrokenPipeError(errno.EPIPE, "Broken pipe")
        if broken
        else OSError(errno.ENOSPC, "No space left on device")
    )
    err = io.StringIO()
    out = _FailingStdout(room, error)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as exc:
            rc = exc.code
    lines = err.getvalue().strip().splitlines()
    if broken:  # the reader left: not an error, and never "some tasks failed"
        assert rc == 0 and lines == [], (argv, err.getvalue())
    else:
        assert rc in (0, 2) and "Traceback" not in err.getvalue(), (argv, err.getvalue())
        assert rc == 0 or (len(lines) == 1 and "No space left" in lines[0]), err.getvalue()


def _commands() -> list[tuple[tuple[str, ...], list[str], list[str]]]:
    """Every (sub)command with its positional arguments filled in and its options that take
    a value, read from the parser itself (a new option is fuzzed without a word here)."""
    import argparse

    from stbench.cli import build_parser

    fill = {"names": ["r3d_resnet18"], "files": ["other.sqlite"], "file": ["b.json"]}
    out = []

    def walk(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if subs:
            for name, sub in subs[0].choices.items():
                walk(sub, (*path, name))
            return
        if path[0] == "demo":  # the whole zoo and a dashboard: too slow for an example
            return
        given = [x for a in parser._actions if not a.option_strings for x in fill.get(a.dest, [])]
        if path == ("records", "validate"):
            given = ["mine.csv"]
        takes = [a.option_strings[-1] for a in parser._actions if a.option_strings and a.nargs != 0]
        skip = {"--help", "--version"}
        out.append((path, given, [t for t in takes if t not in skip]))

    walk(build_parser(), ())
    return out


COMMANDS = _commands()


@given(data=st.data())
def test_every_command_with_a_hostile_option(data):
    path, given, options = data.draw(st.sampled_from(COMMANDS))
    option = data.draw(st.sampled_from(options))
    value = data.draw(HOSTILE.filter(lambda v: v[:1] not in "-"))  # a value, not a flag
    with _workdir() as root:
        _check([*path, *given, option, value], root)
