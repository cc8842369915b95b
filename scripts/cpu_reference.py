"""CPU reference run: every (model, frames, size, classes) the accuracy records need, at batch
1, float32 then bfloat16 autocast, timed with the suite's own protocol by ``stbench sweep``
into a results store (resumable: re-running skips what is stored, and inputs the reference
CSV already holds), then exported with the run metadata of every row to
``bench/reference/cpu-<cpu>.csv`` for the dashboard (its earlier rows are kept).

    python scripts/cpu_reference.py --store results/cpu_reference.sqlite   # measure (resumes)
    python scripts/cpu_reference.py --store results/cpu_reference.sqlite --export
    python scripts/cpu_reference.py --dry-run --store /tmp/x.sqlite --export --out /tmp/x.csv
    python scripts/cpu_reference.py --models 'tam_*,*inception*' --export   # re-measure these

Inputs run smallest first (by GMACs) so that an interrupted run covers every dataset. Inputs
above ``--big-gmacs`` get a shorter protocol (one warm-up call, exactly ``--big-iters``
timed calls); each row records the protocol it ran under (``protocol_overrides``) and is
marked noisy when its spread or drift says so (``stbench.bench.store.history.noisy_reason``).
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from stbench.bench.store.schema import KEY_FIELDS

from stbench.output import write_atomic

ROOT = Path(__file__).resolve().parent.parent
STBENCH = [sys.executable, "-m", "stbench.cli"]
DRY_MODELS = "tsn_resnet18,tam_resnet18"
# Columns of the shipped file: the key, the counts, the latency summary, the protocol and
# the environment of the run that measured the row.
COLUMNS = (
    *KEY_FIELDS,
    "status",
    "params",
    "macs",
    "latency_ms_median",
    "latency_ms_iqr",
    "latency_ms_p90",
    "latency_ms_min",
    "latency_ms_max",
    "latency_rel_iqr",
    "latency_drift_rel",
    "latency_gmacs_per_s",
    "latency_gemm_gmacs_per_s",
    "latency_gemm_fraction",
    "latency_gemm_probe",
    "iterations",
    "warmup_iterations",
    "warmup_stable",
    "stop_reason",
    "noisy",
    "noisy_reason",
    "protocol_overrides",
    "threads",
    "device_name",
    "run_cpu_model",
    "run_cpu_count",
    "run_torch_version",
    "run_threads",
    "run_stbench_version",
    "run_git_commit",
    "run_git_dirty",
    "run_started_at",
    "stored_at",
)


def task_lines(args: argparse.Namespace, dtype: str) -> list[dict[str, Any]]:
    """The sweep's record tasks for `dtype`, each with its protocol."""
    cmd = [*STBENCH, "sweep", "--for-records", "--list-tasks", "--time", "--dtype", dtype]
    if args.dry_run:
        cmd.insert(4, DRY_MODELS)
    out = subprocess.run(cmd + ["--store", args.store], check=True, capture_output=True, text=True)
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def gmacs_of(tasks: list[dict[str, Any]]) -> None:
    """Set each task's ``_gmacs``: GMACs per clip of its input, counted once per input on the
    meta device (no compute), whatever the task's dtype."""
    from stbench.bench.config import ProfileConfig
    from stbench.bench.count.static import count_static, static_fields

    out: dict[str, float] = {}
    for t in tasks:
        key = f"{t['model']}/{t['frames']}/{t['size']}/{t['num_classes']}"
        if key not in out:
            cfg = ProfileConfig(
                t["model"], frames=t["frames"], size=t["size"], num_classes=t["num_classes"]
            )
            out[key] = static_fields(count_static(cfg))["total_macs"] / 1e9
        t["_gmacs"] = out[key]


def with_protocol(task: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """`task` with the small- or big-input protocol and the thread count."""
    small = {"warmup_s": 0.3, "min_iters": 5, "max_iters": 30, "max_time_s": 5.0}
    big = {
        "warmup_s": 0.01,
        "max_warmup_s": 0.01,
        "min_iters": args.big_iters,
        "max_iters": args.big_iters,
        "max_time_s": 600.0,
    }
    protocol = big if task["_gmacs"] > args.big_gmacs else small
    out = {k: v for k, v in task.items() if not k.startswith("_")}
    out["protocol"] = {**protocol, "threads": args.threads}
    return out


def measure(args: argparse.Namespace) -> int:
    """Run the tasks, smallest first, float32 before bfloat16; returns the sweep's status."""
    tasks: list[dict[str, Any]] = []
    shipped = shipped_keys(_target(args))
    patterns = args.models.split(",") if args.models else None
    for dtype in args.dtypes:
        lines = task_lines(args, dtype)
        if patterns:  # these models are measured again, whatever the CSV holds
            lines = [t for t in lines if any(fnmatch.fnmatchcase(t["model"], p) for p in patterns)]
            shipped = {
                k for k in shipped if not any(fnmatch.fnmatchcase(k[0], p) for p in patterns)
            }
        tasks += [t for t in lines if _key(t) not in shipped]
    gmacs_of(tasks)
    tasks.sort(key=lambda t: (args.dtypes.index(t["dtype"]), t["_gmacs"]))
    lines = "".join(json.dumps(with_protocol(t, args)) + "\n" for t in tasks)
    print(
        f"cpu reference: {len(tasks)} task(s) into {args.store} "
        f"({len(shipped)} already in {_target(args).name}: kept)",
        flush=True,
    )
    cmd = [*STBENCH, "sweep", "--task", "-", "--no-isolate", "--store", args.store]
    try:
        return subprocess.run(cmd, input=lines, text=True).returncode
    except KeyboardInterrupt:
        print("cpu reference: interrupted; run again to resume (stored rows are kept)")
        return 130


def timed_rows(rows: Any, columns: tuple[str, ...]) -> Any:
    """The exported rows with a latency, in `columns` (None where absent), overrides as JSON."""
    rows = rows[rows["latency_ms_median"].notna()] if "latency_ms_median" in rows else rows[:0]
    for col in columns:
        if col not in rows:
            rows[col] = None
    rows = rows[list(columns)].copy()
    rows["protocol_overrides"] = rows["protocol_overrides"].map(
        lambda v: json.dumps(v, sort_keys=True) if isinstance(v, dict) else v
    )
    return rows


def export(args: argparse.Namespace) -> Path:
    """Write the store's ok CPU rows, COLUMNS only, to the reference CSV."""
    import pandas as pd

    cmd = [*STBENCH, "export", "--store", args.store, "--status", "ok", "--device", "cpu"]
    out = subprocess.run([*cmd, "--format", "json"], check=True, capture_output=True, text=True)
    rows = pd.DataFrame(json.loads(out.stdout))
    rows = timed_rows(rows, COLUMNS)
    path = _target(args)
    if path.exists():  # rows of earlier sessions that this store did not measure again
        old = pd.read_csv(path)
        fresh = set(rows.apply(_key, axis=1))
        rows = pd.concat([old[[_key(r) not in fresh for _, r in old.iterrows()]], rows])
    rows = rows.sort_values(["dtype", "model", "frames", "size", "num_classes"])
    write_atomic(path, rows.to_csv(index=False, float_format="%.6g"))
    print(f"cpu reference: wrote {len(rows)} row(s) to {path}")
    return path


def _target(args: argparse.Namespace) -> Path:
    """The reference CSV this run extends."""
    return Path(args.out) if args.out else ROOT / "bench" / "reference" / f"cpu-{_slug()}.csv"


def _key(row: Any) -> tuple[str, int, int, int, str]:
    """(model, frames, size, num_classes, dtype) of a task or a CSV row."""
    return tuple(
        (str if f in ("model", "dtype") else int)(row[f])
        for f in ("model", "frames", "size", "num_classes", "dtype")
    )


def shipped_keys(path: Path) -> set[tuple[str, int, int, int, str]]:
    """The inputs the reference CSV already holds (a later session measures only the rest)."""
    if not path.exists():
        return set()
    import pandas as pd

    return {_key(r) for _, r in pd.read_csv(path).iterrows()}


def _slug() -> str:
    from stbench.bench.environment import cpu_model

    return re.sub(r"[^a-z0-9]+", "-", cpu_model().lower()).strip("-") or "cpu"


def main(argv: list[str] | None = None) -> int:
    """Measure (resumable) and/or export the CPU reference rows."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--store", default=str(ROOT / "results" / "cpu_reference.sqlite"))
    p.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    p.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1)")
    p.add_argument(
        "--big-gmacs", type=float, default=10.0, help="GMACs above which the short protocol applies"
    )
    p.add_argument("--big-iters", type=int, default=5, help="timed calls of a big input")
    p.add_argument("--dry-run", action="store_true", help=f"only {DRY_MODELS}")
    p.add_argument(
        "--models",
        help="comma list of name patterns: measure only these, again even if the CSV has them "
        "(their new rows replace the old ones on --export)",
    )
    p.add_argument("--export", action="store_true", help="write the reference CSV")
    p.add_argument("--no-measure", action="store_true", help="export only")
    p.add_argument("--out", help="CSV to write (default bench/reference/cpu-<cpu>.csv)")
    args = p.parse_args(argv)
    status = 0 if args.no_measure else measure(args)
    if args.export:
        export(args)
    return status


if __name__ == "__main__":
    sys.exit(main())
