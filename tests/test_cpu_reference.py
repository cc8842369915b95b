"""scripts/cpu_reference.py: the protocol each input gets and the exported reference CSV
(every column, run metadata filled in) from a store a real tiny timed sweep wrote."""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path

import pandas as pd
from stbench.cli import main

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "cpu_reference.py"


def _script():
    spec = importlib.util.spec_from_file_location("cpu_reference", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_big_inputs_get_the_short_protocol_and_every_task_its_threads():
    ref = _script()
    args = argparse.Namespace(big_gmacs=10.0, big_iters=5, threads=1)
    small = ref.with_protocol({"model": "m", "protocol": {}, "_gmacs": 2.0}, args)
    big = ref.with_protocol({"model": "m", "protocol": {}, "_gmacs": 64.0}, args)
    assert "_gmacs" not in small and small["protocol"]["min_iters"] == 5
    assert small["protocol"]["threads"] == big["protocol"]["threads"] == 1
    assert big["protocol"]["max_warmup_s"] < 0.1 and big["protocol"]["max_iters"] == 5


def test_export_writes_every_column_with_the_run_metadata(tmp_path):
    ref = _script()
    store = tmp_path / "s.sqlite"
    argv = ["sweep", "r2d_resnet18", "--frames", "4", "--sizes", "32", "--time", "--no-isolate"]
    argv += ["--min-iters", "2", "--max-iters", "3", "--warmup", "0.01", "--threads", "1"]
    assert main([*argv, "--store", str(store), "--no-progress"]) == 0
    out = tmp_path / "ref.csv"
    ref.export(argparse.Namespace(store=str(store), out=str(out)))
    rows = pd.read_csv(out)
    assert list(rows.columns) == list(ref.COLUMNS) and len(rows) == 1
    row = rows.iloc[0]
    assert row["latency_ms_median"] > 0 and row["threads"] == 1
    assert row["run_torch_version"] and row["run_cpu_model"] and len(row["run_git_commit"]) == 40
    assert json.loads(row["protocol_overrides"])["max_iters"] == 3
    assert row["noisy"] in (True, False)
    assert row["latency_gmacs_per_s"] > 0 and row["latency_gemm_gmacs_per_s"] > 0
    assert row["latency_gemm_fraction"] > 0 and "torch.mm" in row["latency_gemm_probe"]
    # a later session extends the file: rows it did not measure again are kept, and a
    # measuring run skips the inputs the file holds
    earlier = rows.assign(model="r3d_resnet18")
    pd.concat([earlier, rows]).to_csv(out, index=False)
    ref.export(argparse.Namespace(store=str(store), out=str(out)))
    assert sorted(pd.read_csv(out)["model"]) == ["r2d_resnet18", "r3d_resnet18"]
    assert ("r3d_resnet18", 4, 32, 400, "float32") in ref.shipped_keys(out)


def test_models_are_measured_again_even_when_the_file_has_them(tmp_path, monkeypatch):
    ref = _script()
    out = tmp_path / "ref.csv"
    pd.DataFrame(
        [
            {"model": m, "frames": 8, "size": 224, "num_classes": 400, "dtype": "float32"}
            for m in ("tam_resnet50", "tsn_resnet50")
        ]
    ).to_csv(out, index=False)
    tasks = [
        {"model": m, "frames": 8, "size": 224, "num_classes": 400, "dtype": "float32"}
        for m in ("tam_resnet50", "tsn_resnet50", "tam_resnet18")
    ]
    monkeypatch.setattr(ref, "task_lines", lambda args, dtype: [dict(t) for t in tasks])
    monkeypatch.setattr(ref, "gmacs_of", lambda ts: [t.update(_gmacs=1.0) for t in ts])
    sent = []
    monkeypatch.setattr(
        ref.subprocess,
        "run",
        lambda cmd, input, text: sent.append(input) or argparse.Namespace(returncode=0),
    )
    args = argparse.Namespace(
        store="s",
        out=str(out),
        dtypes=["float32"],
        models="tam_*",
        big_gmacs=10.0,
        big_iters=5,
        threads=1,
    )
    assert ref.measure(args) == 0
    assert [json.loads(line)["model"] for line in sent[0].splitlines()] == [
        "tam_resnet50",
        "tam_resnet18",
    ]
    args.models = None
    ref.measure(args)
    assert [json.loads(line)["model"] for line in sent[1].splitlines()] == ["tam_resnet18"]
