"""The GPU reference run is `stbench sweep --preset gpu-reference` plus an export in the CPU
reference file's schema: its CPU dry run runs without plotly/fvcore/ptflops, writes every mode
with run metadata, and the dashboard's reference loader keeps every row."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from stbench.plots.sources import load_reference, timed_rows

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "gpu_reference.py"
CPU_REFERENCE = ROOT / "bench" / "reference" / "cpu-amd-epyc.csv"
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


def test_dry_run_exports_every_mode_in_the_reference_schema_and_reaches_the_dashboard(tmp_path):
    out = tmp_path / "reference" / "cpu-dry-run.csv"
    store = tmp_path / "s.sqlite"
    cmd = [sys.executable, "-c", BLOCK, str(SCRIPT), "--dry-run", "--store", str(store)]
    done = subprocess.run([*cmd, "--out", str(out)], capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr + done.stdout
    rows = list(csv.DictReader(out.open()))
    assert {r["model"] for r in rows} == {"tam_resnet18", "r2plus1d_resnet18"}
    modes = {(r["dtype"], r["memory_format"]) for r in rows}
    assert modes == {
        ("float32", "contiguous"),
        ("float32", "channels_last_3d"),
        ("bfloat16", "channels_last_3d"),
    }
    assert len(rows) == 6 and all(r["status"] == "ok" for r in rows)
    for r in rows:
        assert float(r["latency_ms_median"]) > 0 and float(r["peak_mem_mib"]) > 0
        assert float(r["throughput_clips_per_s"]) > 0 and r["run_torch_version"]
    with CPU_REFERENCE.open() as f:
        cpu_columns = next(csv.reader(f))
    assert set(cpu_columns) <= set(rows[0])  # the CPU reference file's schema, and more
    df, notes = load_reference(out.parent)
    assert notes == [] and len(timed_rows(df)) == len(rows) == len(df)


def test_the_script_has_no_timing_code_of_its_own():
    text = SCRIPT.read_text()
    for word in ("perf_counter", "synchronize", "max_memory_allocated", "time.time("):
        assert word not in text
    assert '"--preset", "gpu-reference"' in text


def test_no_cuda_is_a_one_line_error():
    if __import__("torch").cuda.is_available():
        return
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--models", "tam_resnet18"], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "gpu_reference: error: --device cuda: CUDA is not available"


def test_unknown_preset_is_one_line():
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "stbench.cli",
            "sweep",
            "tam_resnet18",
            "--preset",
            "x",
            "--list-tasks",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert "--preset: got 'x'; allowed: gpu-reference" in done.stderr
