"""`stbench sweep --for-records`: tasks derived from the accuracy records join them."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from stbench.bench.join import join_profiles_records
from stbench.bench.sweep.record_tasks import record_inputs, record_tasks
from stbench.zoo.records import load_records

NA = pd.NA


def _records() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": ["tam_resnet18", "tam_resnet18", "tsn_resnet18", "", "i3d_resnet18"],
            "frames": pd.array([8, 8, 16, 8, NA], dtype="Int64"),
            "input_size": pd.array([224, 224, 112, 224, 224], dtype="Int64"),
            "num_classes": pd.array([174, 174, 400, 400, 400], dtype="Int64"),
        }
    )


def test_record_inputs_are_distinct_joinable_keys_filtered_by_pattern():
    assert record_inputs(_records()) == [
        ("tam_resnet18", 8, 224, 174),
        ("tsn_resnet18", 16, 112, 400),
    ]
    assert record_inputs(_records(), "tsn*") == [("tsn_resnet18", 16, 112, 400)]


def test_record_tasks_carry_options_and_refuse_an_empty_selection():
    tasks = record_tasks(_records(), batches=(1, 2), time=True)
    assert [(t.model, t.frames, t.size, t.num_classes, t.batch) for t in tasks][:2] == [
        ("tam_resnet18", 8, 224, 174, 1),
        ("tam_resnet18", 8, 224, 174, 2),
    ]
    assert all(t.time for t in tasks)
    with pytest.raises(ValueError, match="no record matching 'x3d'"):
        record_tasks(_records(), "x3d")


def test_every_shipped_record_with_frames_and_size_gets_a_joining_task():
    records = load_records()
    tasks = record_tasks(records)
    profiles = pd.DataFrame(
        [
            {"model": t.model, "frames": t.frames, "size": t.size, "num_classes": t.num_classes}
            for t in tasks
        ]
    )
    joined = join_profiles_records(profiles, records)
    assert joined["match"].eq("profile_only").sum() == 0
    assert joined["match"].eq("both").sum() > 1000
    assert not joined["unmatched_reason"].str.startswith("no profile").any()


def test_cli_lists_record_tasks_and_refuses_frames():
    cmd = [sys.executable, "-m", "stbench.cli", "sweep", "tam_resnet18", "--for-records"]
    out = subprocess.run([*cmd, "--list-tasks"], capture_output=True, text=True, check=True)
    tasks = [json.loads(line) for line in out.stdout.splitlines()]
    assert tasks and {t["model"] for t in tasks} == {"tam_resnet18"}
    bad = subprocess.run([*cmd, "--frames", "8", "--list-tasks"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--for-records: got --frames" in bad.stderr
