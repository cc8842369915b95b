"""GPU reference run: ``stbench sweep --preset gpu-reference`` over the zoo into a results store,
exported in the schema of ``bench/reference/cpu-*.csv`` (plus peak memory and throughput) to
``bench/reference/<gpu>.csv``, every row with the run's device metadata.

    python scripts/gpu_reference.py                              # cuda, the whole zoo
    python scripts/gpu_reference.py --models 'tsn_*,tam_*'       # a subset
    python scripts/gpu_reference.py --dry-run --out /tmp/ref/x.csv   # two tiny inputs on CPU

This script only assembles commands: the measuring (timing protocol, out-of-memory back-off
of the throughput batch, peak memory) is the sweep's, the rows are the store's, and a re-run
resumes (stored tasks are skipped). Needs torch and stbench only (no plotly, fvcore, ptflops).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STBENCH = [sys.executable, "-m", "stbench.cli"]
DRY_MODELS = "tam_resnet18,r2plus1d_resnet18"
# The dry run: tiny inputs and a short protocol, on the CPU.
DRY_OPTIONS = ["--frames", "8", "--sizes", "32", "--throughput-batch", "2"]
DRY_PROTOCOL = ["--warmup", "0.001", "--min-iters", "1", "--max-iters", "2", "--max-time", "1"]
# Extra columns beside the CPU reference file's: memory, throughput and the GPU's metadata.
EXTRA = (
    "peak_mem_mib",
    "peak_mem_method",
    "throughput_batch_requested",
    "throughput_batch_used",
    "throughput_oom_batches",
    "throughput_clips_per_s",
    "run_gpu_name",
    "run_gpu_capability",
    "run_gpu_driver",
    "run_cuda_version",
    "run_cudnn_version",
)


def reference_columns() -> tuple[str, ...]:
    """The CPU reference file's columns, then :data:`EXTRA`."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from cpu_reference import COLUMNS

    return (*COLUMNS, *(c for c in EXTRA if c not in COLUMNS))


def sweep_command(args: argparse.Namespace) -> list[str]:
    """The `stbench sweep` command of this run."""
    cmd = [*STBENCH, "sweep", args.models, "--preset", "gpu-reference", "--device", args.device]
    cmd += ["--store", args.store, "--no-progress"]
    if args.dry_run:
        cmd += DRY_OPTIONS + DRY_PROTOCOL + ["--no-isolate"]
    elif args.throughput_batch:
        cmd += ["--throughput-batch", str(args.throughput_batch)]
    return cmd


def export(args: argparse.Namespace, path: Path) -> int:
    """Write the store's ok rows of the device, in the reference schema, to ``path``."""
    import pandas as pd

    device = "cuda" if args.device.startswith("cuda") else args.device
    cmd = [*STBENCH, "export", "--store", args.store, "--status", "ok", "--format", "json"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    rows = pd.DataFrame(json.loads(out.stdout))
    if rows.empty:
        print(f"gpu_reference: no measured row in {args.store}", file=sys.stderr)
        return 1
    rows = rows[rows["device"].astype(str).str.startswith(device)]
    cols = reference_columns()  # puts scripts/ on sys.path
    from cpu_reference import timed_rows

    rows = timed_rows(rows, cols)
    rows = rows.sort_values(["dtype", "memory_format", "model", "frames", "size"])
    path.parent.mkdir(parents=True, exist_ok=True)
    rows.to_csv(path, index=False, float_format="%.6g")
    print(f"gpu_reference: wrote {len(rows)} row(s) to {path}")
    return 0


def _slug(args: argparse.Namespace) -> str:
    if not args.device.startswith("cuda"):
        return "cpu-dry-run"
    import torch

    name = torch.cuda.get_device_name(torch.device(args.device).index or 0)
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def main(argv: list[str] | None = None) -> int:
    """Sweep with the gpu-reference preset, then export the reference CSV."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="*", help="zoo model names or patterns (default: all)")
    p.add_argument("--device", default="cuda", help="cuda or cuda:N (the dry run: cpu)")
    p.add_argument("--store", help="results store (default: results/gpu_reference.sqlite)")
    p.add_argument("--throughput-batch", type=int, help="override the preset's (32)")
    p.add_argument("--out", help="the reference CSV (default: bench/reference/<gpu>.csv)")
    p.add_argument("--dry-run", action="store_true", help=f"{DRY_MODELS}, 8x32x32, on CPU")
    p.add_argument("--no-measure", action="store_true", help="export only")
    args = p.parse_args(argv)
    if args.dry_run:
        args.models, args.device = DRY_MODELS, "cpu"
    if args.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            print(
                f"gpu_reference: error: --device {args.device}: CUDA is not available",
                file=sys.stderr,
            )
            return 2
    if args.store is None:
        name = "gpu_reference_dry.sqlite" if args.dry_run else "gpu_reference.sqlite"
        args.store = str(ROOT / "results" / name)
    if not args.no_measure:
        done = subprocess.run(sweep_command(args))
        if done.returncode not in (0, 1):
            return done.returncode
    path = Path(args.out) if args.out else ROOT / "bench" / "reference" / f"{_slug(args)}.csv"
    return export(args, path)


def _run() -> Any:
    sys.exit(main())


if __name__ == "__main__":
    _run()
