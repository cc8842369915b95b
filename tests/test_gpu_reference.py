"""The GPU reference script's CPU dry run: runs without plotly/fvcore/ptflops, writes rows for
every (model, mode) with device metadata."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "gpu_reference.py"
BLOCK = """
import runpy, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("plotly", "fvcore", "ptflops"):
            raise ImportError(f"{name} is blocked: the GPU image may not have it")
sys.meta_path.insert(0, Block())
sys.argv = [sys.argv[1], *sys.argv[2:]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def test_dry_run_writes_every_mode_with_metadata_without_optional_packages(tmp_path):
    out = tmp_path / "ref.csv"
    cmd = [sys.executable, "-c", BLOCK, str(SCRIPT), "--dry-run", "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr + done.stdout
    rows = list(csv.DictReader(out.open()))
    assert {r["model"] for r in rows} == {"tam_resnet18", "r2plus1d_resnet18"}
    modes = {(r["mode"], r["memory_format"]) for r in rows}
    assert modes == {
        ("float32", "contiguous"),
        ("float32", "channels_last_3d"),
        ("bf16-autocast", "channels_last_3d"),
        ("bf16-weights", "channels_last_3d"),
    }
    assert all(r["status"] == "ok" for r in rows), [r["status"] for r in rows]
    assert all(float(r["latency_ms_b1"]) > 0 and float(r["clips_per_s"]) > 0 for r in rows)
    assert {r["gpu"] for r in rows} == {"cpu"} and all(r["torch"] for r in rows)


def test_no_cuda_is_a_one_line_error():
    if __import__("torch").cuda.is_available():
        return
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--models", "tam_resnet18"], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "gpu_reference: error: --device cuda: CUDA is not available"
