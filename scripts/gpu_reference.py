"""GPU reference run: the whole zoo at batch 1 and at a throughput batch (OOM back-off), in
float32, bf16 autocast and bf16 weights, contiguous and channels_last_3d, with peak memory
from ``torch.cuda.max_memory_allocated``; one CSV with device metadata on every row.

    python scripts/gpu_reference.py                 # cuda:0, writes bench/reference/<gpu>.csv
    python scripts/gpu_reference.py --dry-run --out /tmp/x.csv   # a few tiny models on CPU

Needs torch and stbench only (no plotly, fvcore or ptflops), so it runs on a bare GPU image.
Each measurement is capped in time (``--measure-s``) and the run stops starting new models
after ``--budget-s`` (rows not measured are written with status ``skipped: budget``), so the
default run fits in 8 minutes on an H100/H200. ``stbench sweep`` stores autocast runs only;
bf16 *weights* (``model.to(torch.bfloat16)``) are measured here.
"""

from __future__ import annotations

import argparse
import copy
import csv
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from stbench.models.layout import to_channels_last

ROOT = Path(__file__).resolve().parent.parent
# (mode, dtype of the weights, autocast dtype, memory format)
MODES = (
    ("float32", torch.float32, None, "contiguous"),
    ("float32", torch.float32, None, "channels_last_3d"),
    ("bf16-autocast", torch.float32, torch.bfloat16, "channels_last_3d"),
    ("bf16-weights", torch.bfloat16, None, "channels_last_3d"),
)
DRY_MODELS = "tam_resnet18,r2plus1d_resnet18"
COLUMNS = (
    "model",
    "frames",
    "size",
    "num_classes",
    "mode",
    "memory_format",
    "latency_ms_b1",
    "peak_mem_mb_b1",
    "throughput_batch",
    "clips_per_s",
    "peak_mem_mb_throughput",
    "status",
)


def device_metadata(device: str) -> dict[str, Any]:
    """Device name, capability, driver, CUDA, cuDNN, torch and clocks where readable."""
    meta: dict[str, Any] = {
        "device": device,
        "torch": torch.__version__,
        "cuda": torch.version.cuda or "",
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else "",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if device.startswith("cuda"):
        idx = torch.device(device).index or 0
        major, minor = torch.cuda.get_device_capability(idx)
        meta |= {"gpu": torch.cuda.get_device_name(idx), "capability": f"{major}.{minor}"}
        meta |= _nvidia_smi(idx)
    else:
        meta |= {"gpu": "cpu", "capability": "", "threads": torch.get_num_threads()}
    return meta


def _nvidia_smi(idx: int) -> dict[str, str]:
    fields = "driver_version,clocks.sm,clocks.mem,clocks.max.sm,clocks.max.mem,power.limit"
    try:
        out = subprocess.run(
            ["nvidia-smi", f"--id={idx}", f"--query-gpu={fields}", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    values = [v.strip() for v in out.strip().split(",")]
    keys = ("driver", "sm_clock", "mem_clock", "max_sm_clock", "max_mem_clock", "power_limit")
    return dict(zip(keys, values, strict=False)) if len(values) == len(keys) else {}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_forward(run: Callable[[], Any], device: str, measure_s: float, warmup: int) -> float:
    """Median seconds of one forward: `warmup` calls, then calls until `measure_s` passed."""
    for _ in range(warmup):
        run()
    _sync(device)
    samples: list[float] = []
    start = time.perf_counter()
    while not samples or (time.perf_counter() - start < measure_s and len(samples) < 200):
        t0 = time.perf_counter()
        run()
        _sync(device)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def is_oom(exc: BaseException) -> bool:
    """Out of memory, typed or by message."""
    return isinstance(exc, (torch.OutOfMemoryError, MemoryError)) or "out of memory" in str(exc)


def measure(model: torch.nn.Module, mode: tuple, shape: tuple[int, ...], device: str, args) -> dict:
    """Latency and peak memory at batch 1, clips/s at the throughput batch with OOM back-off."""
    _, weights, amp, fmt = mode
    memory_format = torch.channels_last_3d if fmt == "channels_last_3d" else None
    model = model.to(device=device, dtype=weights).eval()
    if memory_format is not None:
        model = to_channels_last(model)

    def runner(batch: int) -> Callable[[], Any]:
        x = torch.randn(batch, *shape[1:], device=device, dtype=weights)
        if memory_format is not None:
            x = x.contiguous(memory_format=memory_format)

        def run() -> Any:
            with torch.inference_mode(), _autocast(device, amp):
                return model(x)

        return run

    row: dict[str, Any] = {}
    for batch, key in ((1, "b1"), (args.throughput_batch, "throughput")):
        while batch >= 1:
            _reset_peak(device)
            try:
                seconds = time_forward(runner(batch), device, args.measure_s, args.warmup)
            except RuntimeError as exc:
                if not is_oom(exc) or batch == 1:
                    raise
                _free(device)
                batch //= 2
                continue
            peak = _peak_mb(device)
            if key == "b1":
                row |= {"latency_ms_b1": round(seconds * 1e3, 3), "peak_mem_mb_b1": peak}
            else:
                row |= {
                    "throughput_batch": batch,
                    "clips_per_s": round(batch / seconds, 2),
                    "peak_mem_mb_throughput": peak,
                }
            break
    return row


class _autocast:
    """torch.autocast for `dtype`, or nothing when `dtype` is None."""

    def __init__(self, device: str, dtype: torch.dtype | None) -> None:
        kind = "cuda" if device.startswith("cuda") else "cpu"
        self.ctx = torch.autocast(kind, dtype=dtype) if dtype is not None else None

    def __enter__(self) -> None:
        if self.ctx is not None:
            self.ctx.__enter__()

    def __exit__(self, *exc: object) -> None:
        if self.ctx is not None:
            self.ctx.__exit__(*exc)


def _reset_peak(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()


def _peak_mb(device: str) -> float | str:
    return round(torch.cuda.max_memory_allocated() / 2**20, 1) if device.startswith("cuda") else ""


def _free(device: str) -> None:
    import gc

    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


def rows(args: argparse.Namespace, deadline: float) -> Iterator[dict[str, Any]]:
    """One row per (model, mode); models not started before `deadline` are marked skipped."""
    from stbench.zoo import create_model, get_spec, list_models

    names: list[str] = []
    for pattern in args.models.split(","):
        names += [n for n in list_models(pattern.strip()) if n not in names]
    for name in names:
        spec = get_spec(name)
        frames, size = args.frames or spec.default_frames, args.size or spec.default_size
        base = {"model": name, "frames": frames, "size": size, "num_classes": spec.default_classes}
        built: torch.nn.Module | None = None
        for mode in MODES:
            row = base | {"mode": mode[0], "memory_format": mode[3]}
            if time.monotonic() > deadline:
                yield row | {"status": "skipped: budget"}
                continue
            try:
                built = built or create_model(name, frames=frames)  # built once, copied per mode
                model = copy.deepcopy(built)
                row |= measure(model, mode, (1, 3, frames, size, size), args.device, args)
                row["status"] = "ok"
            except Exception as exc:  # a model that fails is a row, not the end of the run
                row["status"] = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            finally:
                model = None
                _free(args.device)
            yield row


def default_out(meta: dict[str, Any]) -> Path:
    """bench/reference/<gpu>.csv, the GPU name as a file name."""
    slug = re.sub(r"[^a-z0-9]+", "-", str(meta["gpu"]).lower()).strip("-")
    return ROOT / "bench" / "reference" / f"{slug}.csv"


def main(argv: list[str] | None = None) -> int:
    """Measure, then write the CSV; exit 1 if any model failed."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda")
    p.add_argument("--models", default="*", help="comma-separated name patterns (default: all)")
    p.add_argument("--frames", type=int, help="clip length (default: each spec's)")
    p.add_argument("--size", type=int, help="frame size (default: each spec's)")
    p.add_argument(
        "--throughput-batch", type=int, default=32, help="first batch tried (halved on OOM)"
    )
    p.add_argument("--measure-s", type=float, default=0.2, help="seconds timed per measurement")
    p.add_argument("--warmup", type=int, default=3, help="untimed calls per measurement")
    p.add_argument("--budget-s", type=float, default=440.0, help="no new model after this")
    p.add_argument("--out", type=Path, help="CSV path (default: bench/reference/<gpu>.csv)")
    p.add_argument("--dry-run", action="store_true", help="a few tiny models on CPU, 8x32x32")
    args = p.parse_args(argv)
    if args.dry_run:
        args.device, args.models, args.frames, args.size = "cpu", DRY_MODELS, 8, 32
        args.throughput_batch, args.measure_s, args.warmup = 2, 0.0, 1
    elif args.device.startswith("cuda") and not torch.cuda.is_available():
        print(
            f"gpu_reference: error: --device {args.device}: CUDA is not available", file=sys.stderr
        )
        return 2
    meta = device_metadata(args.device)
    deadline = time.monotonic() + args.budget_s
    out = args.out or default_out(meta)
    out.parent.mkdir(parents=True, exist_ok=True)
    failed = 0
    with out.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, [*COLUMNS, *meta], restval="")
        writer.writeheader()
        for row in rows(args, deadline):
            writer.writerow(row | meta)
            fh.flush()
            failed += row["status"].startswith("failed")
            print(
                f"{row['model']:<36} {row['mode']:<14} {row['memory_format']:<17} {row['status']}"
            )
    print(f"gpu_reference: wrote {out} ({failed} failed)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
