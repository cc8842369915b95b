"""The fault-injection script counts losses and duplicates and fails on either."""

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "faults.py"


@pytest.fixture(scope="module")
def faults():
    spec = importlib.util.spec_from_file_location("stbench_faults", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["stbench_faults"] = mod
    spec.loader.exec_module(mod)
    yield mod
    sys.modules.pop("stbench_faults", None)


def test_tally_counts_lost_and_duplicates(faults):
    t = faults.Tally(expected=[1, 2, 3], found=[1, 1, 2, 4])
    assert (t.lost, t.duplicates, t.ok) == (1, 1, False)
    assert faults.Tally([1], [1], "check failed", passed=False).ok is False
    assert faults.Tally([1, 2], [2, 1]).ok


def test_in_process_faults_pass_and_a_losing_fault_fails(faults, monkeypatch, capsys):
    assert faults.main(["--only", "static_after_timed", "merge_twice", "damaged_pages"]) == 0
    out = capsys.readouterr().out
    assert "merge_twice" in out and "FAILED" not in out

    def loses_a_row(tmp):
        return faults.Tally(expected=["a", "b"], found=["a"])

    monkeypatch.setitem(faults.FAULTS, "loses_a_row", loses_a_row)
    assert faults.main(["--only", "loses_a_row"]) == 1
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("loses_a_row"))
    assert line.split()[1:6] == ["2", "1", "1", "0", "FAILED"]
