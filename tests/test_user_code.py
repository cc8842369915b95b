"""User code in a box (issues 25.2, 22.3, 22.4): a user's module, builder and forward cannot
change what stbench measures, print into its machine-readable stdout, exit the process, or
end a command with a traceback; what they return is checked."""

from __future__ import annotations

import json
import os
import random

import pytest
import torch
from stbench.bench.store.results import ResultsStore
from stbench.cli import main

MODULE = """
import os, random, sys
import torch
from torch import nn
import stbench

print("noise on import")
SRC = dict(source="boxlab", citation="Box Lab, unpublished", frames=4, size=32, classes=5)
KEEP = object()
THREADS, CWD = torch.get_num_threads(), os.getcwd()


class Net(nn.Module):
    def __init__(self, num_classes, hook):
        super().__init__()
        self.fc = nn.Linear(3, num_classes)
        self.hook = hook

    def forward(self, x):
        got = self.hook(x)
        return self.fc(x.mean((2, 3, 4))) if got is KEEP else got


def model(name, hook, classes=None):
    def build(num_classes, frames):
        print("noise from the builder")
        return Net(classes or num_classes, hook)

    stbench.register_model(build, name=name, **SRC)


def leaky(x):
    print("noise from forward")
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    os.chdir("/")
    random.seed(1234)
    return KEEP


def checker(x):
    assert torch.get_default_dtype() == torch.float32, "the default dtype leaked"
    assert torch.get_num_threads() == THREADS, "the threads leaked"
    assert os.getcwd() == CWD, "the working directory leaked"
    return KEEP


def raising(exc):
    def hook(x):
        raise exc
    return hook


def fails_when_timed(x):
    if x.device.type != "meta":
        raise RuntimeError("kernel launch failed")
    return KEEP


def assert_false(x):
    assert x.shape[1] == 4, "expected 4 channels"


model("leaky", leaky)
model("checker", checker)
model("ignores_classes", lambda x: KEEP, classes=7)
model("returns_none", lambda x: None)
model("returns_pair", lambda x: (torch.zeros(x.shape[0], 5), {"aux": torch.zeros(1)}))
model("asserts", assert_false)
model("key_error", raising(KeyError("stem")))
model("type_error", raising(TypeError("bad operand")))
model("attribute_error", raising(AttributeError("no attribute 'stem'")))
model("fails_when_timed", fails_when_timed)
model("exits", lambda x: sys.exit(3))
stbench.register_model(lambda num_classes, frames: 42, name="not_a_module", **SRC)
"""


@pytest.fixture
def module(tmp_path, clean_registry):
    path = tmp_path / "box_models.py"
    path.write_text(MODULE)
    return str(path)


@pytest.fixture(autouse=True)
def _state_kept():
    """Each test checks the state itself; this puts it back if stbench did not."""
    dtype, threads, cwd = torch.get_default_dtype(), torch.get_num_threads(), os.getcwd()
    yield
    torch.set_default_dtype(dtype)
    torch.set_num_threads(threads)
    os.chdir(cwd)


def _one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.startswith("stbench ")]
    assert len(lines) == 1, err
    return lines[0]


def test_user_code_cannot_change_what_the_next_model_measures(module, capsys):
    dtype, threads, cwd = torch.get_default_dtype(), torch.get_num_threads(), os.getcwd()
    rng = random.getstate()
    argv = ["profile", "leaky", "checker", "--module", module, "--format", "json", "--time"]
    assert main([*argv, "--min-iters", "2", "--max-time", "0.2", "--warmup", "0.01"]) == 0
    out, err = capsys.readouterr()
    rows = json.loads(out)  # the user's prints went to stderr, not into the JSON
    assert [r["model"] for r in rows] == ["leaky", "checker"]
    assert all(r["dtype"] == "float32" and r["num_classes"] == 5 for r in rows)
    assert "noise on import" in err and "noise from forward" in err
    assert "noise from the builder" in err
    assert torch.get_default_dtype() == dtype and torch.get_num_threads() == threads
    assert os.getcwd() == cwd and random.getstate() == rng


def test_a_module_that_changes_directory_on_import_moves_no_output(tmp_path, monkeypatch, capsys):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    module = tmp_path / "wanders.py"
    module.write_text(f"import os\nos.chdir({str(elsewhere)!r})\n")
    monkeypatch.chdir(tmp_path)
    assert main(["records", "list", "--module", str(module), "--out", "mine.csv"]) == 0
    assert (tmp_path / "mine.csv").is_file() and not (elsewhere / "mine.csv").exists()
    assert os.getcwd() == str(tmp_path)


@pytest.mark.parametrize(
    "name, message",
    [
        ("ignores_classes", "model ignores_classes: forward: got output shape (1, 7); allowed: (batch, 5), the num_classes asked for"),
        ("returns_none", "model returns_none: forward (counting): got NoneType from forward; allowed: a tensor or a structure of tensors"),
        ("not_a_module", "model not_a_module: builder: got int; allowed: an nn.Module"),
        ("asserts", "model asserts: forward (counting): AssertionError: expected 4 channels"),
        ("key_error", "model key_error: forward (counting): KeyError: 'stem'"),
        ("type_error", "model type_error: forward (counting): TypeError: bad operand"),
        ("attribute_error", "model attribute_error: forward (counting): AttributeError: no attribute 'stem'"),
        ("exits", "model exits: forward (counting): got sys.exit(3); allowed: return or raise, never exit"),
    ],
)  # fmt: skip
def test_profile_of_a_failing_user_model_is_one_line_exit_2(module, capsys, name, message):
    assert main(["profile", name, "--module", module, "--format", "json"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and _one_line(err) == f"stbench profile: error: {message}"


def test_a_runtime_error_while_timing_is_one_line_exit_2(module, capsys):
    argv = ["profile", "fails_when_timed", "--module", module, "--time", "--min-iters", "2"]
    assert main(argv) == 2
    line = _one_line(capsys.readouterr().err)
    assert line == (
        "stbench profile: error: model fails_when_timed: forward (measuring): RuntimeError: "
        "kernel launch failed"
    )


def test_a_structure_of_tensors_is_a_fine_output(module, capsys):
    assert main(["profile", "returns_pair", "--module", module, "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["num_classes"] == 5


def test_a_sweep_stores_a_failing_user_model_as_a_failure_row(module, tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    argv = ["sweep", "key_error", "checker", "--module", module, "--store", str(store)]
    assert main([*argv, "--no-progress"]) == 1  # some tasks failed
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "ran 2 (1 failed)" in out
    assert "model key_error: forward (counting): KeyError: 'stem'" in out
    with ResultsStore(store, readonly=True) as db:
        rows = {r["model"]: r for r in db.rows()}
    assert rows["checker"]["status"] == "ok"
    assert rows["key_error"]["status"] == "failed"
    assert rows["key_error"]["error"] == "model key_error: forward (counting): KeyError: 'stem'"


def test_a_builder_without_frames_is_refused_when_registered(tmp_path, capsys, clean_registry):
    path = tmp_path / "no_frames.py"
    path.write_text(
        "import stbench\n"
        "@stbench.register_model(source='boxlab', citation='Box Lab, unpublished')\n"
        "def no_frames(num_classes):\n"
        "    raise AssertionError('never built')\n"
    )
    assert main(["profile", "no_frames", "--module", str(path)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert line.startswith(f"stbench profile: error: --module {path}: import: ValueError: builder:")
    assert "no_frames(num_classes)" in line and "allowed: a function taking num_classes=" in line


@pytest.mark.parametrize("where", ["import", "builder"])
def test_sys_exit_in_user_code_is_an_error_naming_it(tmp_path, capsys, clean_registry, where):
    path = tmp_path / "quits.py"
    body = "    return torch.nn.Linear(3, num_classes)\n"
    text = (
        "import sys, torch, stbench\n"
        "@stbench.register_model(source='boxlab', citation='Box Lab, unpublished')\n"
        "def quits(num_classes, frames):\n" + ("    sys.exit(0)\n" if where == "builder" else body)
    )
    if where == "import":
        text += "sys.exit(0)\n"
    path.write_text(text)
    assert main(["list", "--module", str(path)] if where == "import" else ["profile", "quits", "--module", str(path)]) == 2  # fmt: skip
    line = _one_line(capsys.readouterr().err)
    who = f"--module {path}: import" if where == "import" else "model quits: builder"
    assert f"{who}: got sys.exit(0); allowed: return or raise, never exit" in line


def test_a_signal_from_user_code_is_an_error_naming_it(tmp_path, capsys, clean_registry):
    path = tmp_path / "signals.py"
    path.write_text("import os, signal\nos.kill(os.getpid(), signal.SIGUSR1)\n")
    assert main(["list", "--module", str(path)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert f"--module {path}: import: got signal SIGUSR1; allowed: return or raise" in line


def test_an_isolated_sweep_task_of_a_failing_user_model_is_a_failure_row(module, tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    argv = ["sweep", "fails_when_timed", "--module", module, "--store", str(store), "--time"]
    assert main([*argv, "--min-iters", "2", "--no-progress"]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "ran 1 (1 failed)" in out
    with ResultsStore(store, readonly=True) as db:
        (row,) = db.rows()
    assert row["error"] == (
        "model fails_when_timed: forward (measuring): RuntimeError: kernel launch failed"
    )
