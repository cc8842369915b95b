"""Cost of the store's history and claims: a 768-row static write, before vs after.

A (before) is `bench/store/results.py` at a git revision without the history (default 3445930),
loaded on its own (it needs only the standard library); B is the store of this checkout.
Rounds alternate A B A B in one process, each on a fresh file, and the ratio B/A of each
pair is reported as median [min, max]. Three write paths:
  batch    one `add_rows` transaction of 768 rows (`profile --store`, imports)
  per-row  768 `add_row` transactions (what a sweep does)
  claimed  B only: claim, then add_row(release=owner) per row (the phase-2 sweep: two
           transactions per row), vs A's per-row
Also reports what `PRAGMA quick_check` on open costs on the 768-row store.

Usage: python scripts/store_overhead.py [--rounds N] [--baseline REV]
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from stbench.bench.store import results as new_store
from stbench.bench.store.schema import integrity_problem

ROOT = Path(__file__).resolve().parents[1]


def baseline_module(rev: str) -> ModuleType:
    """`bench/store/results.py` at `rev`, imported under another name."""
    text = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:bench/store/results.py"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "store_before.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("store_before", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["store_before"] = mod
    spec.loader.exec_module(mod)
    return mod


def static_rows(n: int = 768) -> list[dict[str, Any]]:
    """Rows shaped like `bench.profile.profile` static output (128 models x 6 configs)."""
    rows = []
    for i in range(n):
        macs = 1_000_000_000 + i
        rows.append(
            dict(
                model=f"model_{i // 6:03d}",
                frames=(8, 16, 32)[i % 3],
                size=(112, 224)[(i // 3) % 2],
                batch=1,
                num_classes=400,
                device="cpu",
                dtype="float32",
                memory_format="contiguous",
                compile=False,
                input_shape=[1, 3, 8, 112, 112],
                count_input_shape=[1, 3, 8, 112, 112],
                macs_per="clip",
                params=30_000_000 + i,
                macs=macs,
                flops=2 * macs,
                conv_macs=macs - 500_000,
                linear_macs=500_000,
                other_macs=12_345,
                other={f"aten.op_{k}": k * 1000 for k in range(12)},
                other_by_category={"pool": 1000, "norm": 2000, "elementwise": 3000},
                counter="torch.utils.flop_counter",
                counter_version="2.13.0",
                scope="conv+linear",
                counters={"meta": {"macs": macs, "scope": "conv+linear", "version": "2.13.0"}},
                flags=[],
                status="ok",
            )
        )
    return rows


def write_batch(mod: ModuleType, path: Path, rows: list[dict[str, Any]]) -> None:
    """One transaction of all rows."""
    with mod.ResultsStore(path) as s:
        s.add_rows(rows, env={"host": "bench"})


def write_per_row(mod: ModuleType, path: Path, rows: list[dict[str, Any]]) -> None:
    """One transaction per row, like a sweep."""
    with mod.ResultsStore(path) as s:
        run = s.start_run({"host": "bench"})
        for r in rows:
            s.add_row(r, run_id=run)


def write_claimed(mod: ModuleType, path: Path, rows: list[dict[str, Any]]) -> None:
    """Claim each row, then write it and release the claim in one transaction."""
    with mod.ResultsStore(path) as s:
        run, owner = s.start_run({"host": "bench"}), mod.default_owner()
        for r in rows:
            s.claim(r, owner, lease_s=600)
            s.add_row(r, run_id=run, release=owner)


def timed(fn: Callable[..., Any], *args: Any) -> float:
    """Seconds one call takes."""
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def compare(
    name: str, a: Callable[[Path], None], b: Callable[[Path], None], rounds: int, tmp: Path
) -> str:
    """Alternate A and B `rounds` times on fresh files; B/A per pair as median [min, max]."""
    ta, tb = [], []
    for i in range(rounds):
        ta.append(timed(a, tmp / f"{name}-a{i}.sqlite"))
        tb.append(timed(b, tmp / f"{name}-b{i}.sqlite"))
    ratios = [y / x for x, y in zip(ta, tb, strict=True)]
    return (
        f"{name:8s} A {statistics.median(ta):7.3f} s  B {statistics.median(tb):7.3f} s  "
        f"B/A {statistics.median(ratios):5.2f} [{min(ratios):.2f}, {max(ratios):.2f}] "
        f"({rounds} pairs)"
    )


def main() -> int:
    """Run the comparisons and print one line each."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5, help="A/B pairs for the batch write")
    p.add_argument("--row-rounds", type=int, default=3, help="A/B pairs for per-row writes")
    p.add_argument("--baseline", default="3445930", help="git revision of the store before")
    args = p.parse_args()
    old, rows = baseline_module(args.baseline), static_rows()
    tmp = Path(tempfile.mkdtemp(prefix="stbench-overhead-"))
    print(
        compare(
            "batch",
            lambda f: write_batch(old, f, rows),
            lambda f: write_batch(new_store, f, rows),
            args.rounds,
            tmp,
        )
    )
    print(
        compare(
            "per-row",
            lambda f: write_per_row(old, f, rows),
            lambda f: write_per_row(new_store, f, rows),
            args.row_rounds,
            tmp,
        )
    )
    print(
        compare(
            "claimed",
            lambda f: write_per_row(old, f, rows),
            lambda f: write_claimed(new_store, f, rows),
            args.row_rounds,
            tmp,
        )
    )
    path = tmp / "batch-b0.sqlite"
    checks = []
    for _ in range(20):
        with new_store.ResultsStore(path, readonly=True) as s:
            checks.append(timed(integrity_problem, s._conn))
    size = path.stat().st_size / 2**20
    print(
        f"quick_check on the 768-row store ({size:.2f} MiB): median {statistics.median(checks) * 1e3:.2f} ms [{min(checks) * 1e3:.2f}, {max(checks) * 1e3:.2f}] over 20 opens"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
