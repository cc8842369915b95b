"""Cost of the store's history and claims on a whole sweep: a 768-task static sweep, before
vs after, as a ratio of interleaved runs (A B A B ...), median [min, max].

Each run is a fresh process and a fresh store: `run_sweep` over 768 in-process static tasks
(128 models x 6 configurations) whose profiler returns a fixed row at once, so the sweep's
own work (planning, claims, history, current view) is all that is timed. A is the
`--before` Python (an environment whose `stbench` is the revision to compare with, e.g. a
venv with `pip install --no-deps -e <checkout of 3445930>`), B is this checkout's.

Usage: python scripts/sweep_overhead.py --before /path/to/python [--pairs 3] [--tasks 768]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

FAKE = """
def profile(model, **options):
    return {"model": model, "params": 1000, "macs": 2000, "flops": 4000}
"""

CHILD = """
import sys, time
from stbench.bench.sweep.driver import Task, run_sweep
try:  # tasks name only registered profilers (where stbench has the registry)
    from stbench.bench.sweep.driver import register_profiler
    import sweep_fake
    register_profiler(sweep_fake.profile, name="sweep_fake:profile")
except ImportError:
    pass
n, store = int(sys.argv[1]), sys.argv[2]
tasks = [Task(f"m{i // 6:03d}", 8 + i % 6, 112, profiler="sweep_fake:profile") for i in range(n)]
t0 = time.perf_counter()
s = run_sweep(tasks=tasks, store=store, isolate=False, progress=False, env={"host": "bench"})
dt = time.perf_counter() - t0
assert s.ran == n, s
print(dt)
"""


def one_run(python: str, n: int, folder: Path, tag: str) -> float:
    """Seconds of one sweep of `n` tasks in a fresh process and store."""
    store = folder / f"{tag}.sqlite"
    out = subprocess.run(
        [python, "-c", CHILD, str(n), str(store)],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(folder), "PATH": "/usr/bin:/bin"},
    )
    store.unlink()
    return float(out.stdout.strip().splitlines()[-1])


def main() -> int:
    """Run the pairs and print each time and the B/A ratios."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--before", required=True, help="python of the environment to compare with")
    p.add_argument("--pairs", type=int, default=3)
    p.add_argument("--tasks", type=int, default=768)
    args = p.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="stbench-sweep-overhead-"))
    (folder / "sweep_fake.py").write_text(FAKE)
    ratios = []
    for i in range(args.pairs):
        a = one_run(args.before, args.tasks, folder, f"a{i}")
        b = one_run(sys.executable, args.tasks, folder, f"b{i}")
        ratios.append(b / a)
        print(f"pair {i + 1}: before {a:.2f} s, after {b:.2f} s, after/before {b / a:.2f}")
    med = statistics.median(ratios)
    print(f"after/before: median {med:.2f} [min {min(ratios):.2f}, max {max(ratios):.2f}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
