"""`compare`, `frontier` and `demo` end to end: the input asked for is the input shown, the
dashboard opens on what was asked, and machine-readable output keeps stable keys."""

from __future__ import annotations

import json

from stbench.bench.store.results import KEY_FIELDS, ResultsStore
from stbench.cli import main


def _key(model: str, frames: int, size: int, classes: int) -> dict:
    values = (model, frames, size, 1, classes, "cpu", "float32", "contiguous", 0)
    return dict(zip(KEY_FIELDS, values, strict=True))


def test_compare_runs_at_the_classes_asked_for(tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    with ResultsStore(store) as s:  # a latency at the model's own 400 classes, not at 10
        s.add_row({**_key("r3d_resnet18", 8, 64, 400), "latency_ms_median": 12.5})
    argv = ["compare", "r3d_resnet18", "mc2_resnet18", "--size", "64", "--classes", "10"]
    assert main([*argv, "--store", str(store), "--format", "json"]) == 0
    r3d, mc2 = json.loads(capsys.readouterr().out)
    assert r3d["classes"] == mc2["classes"] == 10 and r3d["size (px)"] == 64
    assert 33.0 < r3d["params (M)"] < 33.2  # R3D-18 with a 10-class head (33.37 M at 400)
    assert not any(k.startswith("latency") and r3d[k] is not None for k in r3d)
    assert main(["compare", "r3d_resnet18", "--size", "64", "--store", str(store), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["classes"] == 400 and 33.3 < row["params (M)"] < 33.5
    assert any(k.startswith("latency") and row[k] == 12.5 for k in row)
