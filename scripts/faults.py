"""Fault injection for the results store: damage, double merges, races and killed writers.

Each fault is one function registered with `@fault`; it builds its own store files in a
fresh temporary folder, injects the fault, and returns a `Tally` of the rows it expected
to survive and the rows it found. The table lists faults tried, rows expected, rows found,
rows lost (must be 0) and duplicates (must be 0); the exit status is 1 if any fault lost
or duplicated a row or failed its own check. Child processes (writers to race or kill)
run this file again as `faults.py child NAME ARGS...` (see `CHILDREN`).

Usage: python scripts/faults.py [--only NAME ...] [--keep DIR]
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from stbench.bench.store.results import ResultsStore, StoreError, default_owner, row_key

from stbench.errors import EXIT_LEFT

FAULTS: dict[str, Callable[[Path], Tally]] = {}
CHILDREN: dict[str, Callable[..., None]] = {}


@dataclasses.dataclass
class Tally:
    """What one fault expected to survive and what it found (ids compared as multisets)."""

    expected: list[Any]
    found: list[Any]
    check: str = "ok"
    passed: bool = True

    @property
    def lost(self) -> int:
        """Expected ids not found."""
        return len(set(self.expected) - set(self.found))

    @property
    def duplicates(self) -> int:
        """Found ids beyond their first occurrence."""
        return sum(n - 1 for n in collections.Counter(self.found).values() if n > 1)

    @property
    def ok(self) -> bool:
        """No loss, no duplicate, own check passed."""
        return self.passed and self.lost == 0 and self.duplicates == 0


def fault(fn: Callable[[Path], Tally]) -> Callable[[Path], Tally]:
    """Register a fault (its name is the function name)."""
    FAULTS[fn.__name__] = fn
    return fn


def child(fn: Callable[..., None]) -> Callable[..., None]:
    """Register a child-process body, run as `faults.py child NAME ARGS...`."""
    CHILDREN[fn.__name__] = fn
    return fn


# ---------------------------------------------------------------- helpers


def key_row(i: int, model: str = "m", **fields: Any) -> dict[str, Any]:
    """A small valid row whose key differs by `frames` (i >= 0)."""
    row = dict(model=model, frames=i + 1, size=112, batch=1, num_classes=400)
    row.update(params=1000 + i, macs=10_000 + i, flops=20_000 + 2 * i, flags=[])
    row.update(fields)
    return row


def timed(i: int, model: str = "m") -> dict[str, Any]:
    """A row with a latency and a peak memory that identify it."""
    return key_row(i, model, latency_ms_median=100.0 + i, latency_ms_iqr=1.0, peak_mem_mib=50.0 + i)


def measurements(store: ResultsStore) -> list[tuple[Any, ...]]:
    """(key, latency, peak memory) of every current row that carries a measurement."""
    return [
        (row_key(r), r.get("latency_ms_median"), r.get("peak_mem_mib"))
        for r in store.rows()
        if r.get("latency_ms_median") is not None
    ]


def entry_ids(store: ResultsStore) -> list[tuple[Any, ...]]:
    """An id per history entry by content (key, source, time, outcome): copies collide."""
    return [(row_key(h), h["source"], h["stored_at"], h["status"]) for h in store.history()]


def run_ids(store: ResultsStore) -> list[tuple[Any, ...]]:
    """An id per run by content (start time, host, flags): copies collide."""
    return [("run", r["started_at"], r["host"], r["flags_json"]) for r in store.runs()]


def wait_for_go(go: str) -> None:
    """In a child: say it is ready, then wait until the parent creates the file `go`."""
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.005)


def start_together(procs: list[subprocess.Popen[str]], go: Path) -> None:
    """Wait until every child said ready, then let them all go at once."""
    for p in procs:
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    go.touch()


def spawn(name: str, *args: Any) -> subprocess.Popen[str]:
    """Start a registered child in a new process, its stdout a pipe of text lines."""
    argv = [sys.executable, __file__, "child", name, *map(str, args)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)


def kill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL one child we started and reap it."""
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def finish(procs: Iterable[subprocess.Popen[str]], timeout: float = 120.0) -> list[str]:
    """Wait for children; their output lines; raise if one failed."""
    out = []
    for p in procs:
        text, _ = p.communicate(timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError(f"child exited {p.returncode}")
        out.extend(text.splitlines())
    return out


# ---------------------------------------------------------------- children


@child
def write_rows(path: str, go: str, start: str, count: str) -> None:
    """Append rows one transaction each, printing each index once it is committed."""
    with ResultsStore(path, timeout=60) as s:
        run = s.start_run({"host": f"writer-{os.getpid()}"})
        wait_for_go(go)
        for i in range(int(start), int(start) + int(count)):
            s.add_row(timed(i), run_id=run)
            print(i, flush=True)


@child
def write_batch_and_hang(path: str, start: str, count: str, hang_after: str) -> None:
    """Append many rows in one transaction; after `hang_after` of them say so and hang."""
    rows = [key_row(i, pad="x" * 2000) for i in range(int(start), int(start) + int(count))]
    refresh, done = ResultsStore._refresh, []

    def refresh_then_hang(conn: Any, key_source: Any) -> None:
        refresh(conn, key_source)
        done.append(1)
        if len(done) == int(hang_after):
            print("inside", flush=True)
            time.sleep(600)

    ResultsStore._refresh = staticmethod(refresh_then_hang)  # type: ignore[method-assign]
    with ResultsStore(path, timeout=60) as s:
        s.add_rows(rows, env={"host": "batch"})


@child
def claim_and_work(path: str, go: str, count: str) -> None:
    """Work through shared keys: skip stored ones, claim, re-check, work, write, release."""
    owner = default_owner()
    with ResultsStore(path, timeout=60) as s:
        wait_for_go(go)
        for i in range(int(count)):
            row = timed(i, model="shared")
            if s.has(row):
                continue
            if not s.claim(row, owner, lease_s=30):
                continue
            try:
                if not s.has(row):  # finished by another claimant meanwhile
                    time.sleep(0.01)  # the task's work
                    s.add_row({**row, "owner": owner}, release=owner)
                    print(i, flush=True)
            finally:
                s.release(row, owner)  # a no-op after add_row(release=...)


@child
def claim_and_hang(path: str, count: str, lease_s: str) -> None:
    """Claim keys with a short lease, say so, then hang until killed."""
    with ResultsStore(path, timeout=60) as s:
        for i in range(int(count)):
            assert s.claim(timed(i, model="shared"), "doomed", lease_s=float(lease_s))
    print("claimed", flush=True)
    time.sleep(600)


# ---------------------------------------------------------------- faults


def _damage(path: Path, pages: int = 2) -> None:
    """Overwrite pages in the middle of a file with fixed bytes."""
    data = bytearray(path.read_bytes())
    page = 4096
    middle = max(1, len(data) // page // 2)
    data[middle * page : (middle + pages) * page] = bytes(range(256)) * (pages * page // 256)
    path.write_bytes(bytes(data))


@fault
def damaged_pages(tmp: Path) -> Tally:
    """A host store with overwritten middle pages: no write lands in it, and merging it
    into a good store is refused without touching the good one."""
    good, host = tmp / "good.sqlite", tmp / "host.sqlite"
    with ResultsStore(good) as s:
        s.add_rows([timed(i) for i in range(50)], env={"host": "good"})
    with ResultsStore(host) as s:
        s.add_rows([key_row(i, pad="x" * 300) for i in range(300)], env={"host": "host"})
    _damage(host)
    damaged = host.read_bytes()
    refused = 0
    for attempt in (
        lambda: ResultsStore(host).add_row(key_row(999)),
        lambda: ResultsStore(host, readonly=True).rows(),
        lambda: ResultsStore(good).merge_from(host),
    ):
        try:
            attempt()
        except StoreError as exc:
            refused += "is damaged" in str(exc)
    untouched = host.read_bytes() == damaged
    with ResultsStore(good, readonly=True) as s:
        found = measurements(s)
    expected = [(row_key(timed(i)), 100.0 + i, 50.0 + i) for i in range(50)]
    passed = refused == 3 and untouched
    return Tally(
        expected, found, f"refused {refused}/3, damaged file untouched: {untouched}", passed
    )


@fault
def static_after_timed(tmp: Path) -> Tally:
    """`profile --store` (static only) over timed rows: every measurement stays."""
    with ResultsStore(tmp / "s.sqlite") as s:
        s.add_rows([timed(i) for i in range(100)], env={"host": "timer"})
        s.add_rows([key_row(i, params=7) for i in range(100)], env={"host": "static"})
        found = measurements(s)
        newer_static = all(r["params"] == 7 for r in s.rows())
    expected = [(row_key(timed(i)), 100.0 + i, 50.0 + i) for i in range(100)]
    return Tally(expected, found, f"newer params kept: {newer_static}", newer_static)


@fault
def failure_after_success(tmp: Path) -> Tally:
    """A timed-out task over a good row: the row stays ok, the failure is an attempt."""
    with ResultsStore(tmp / "s.sqlite") as s:
        s.add_rows([timed(i) for i in range(100)], env={"host": "ok"})
        run = s.start_run({"host": "failing"})
        for i in range(100):
            s.add_row(key_row(i), run_id=run, status="failed", error="Timeout: after 3 s")
        found = measurements(s)
        attempts = all(r["status"] == "ok" and r["failed_attempts"] == 1 for r in s.rows())
    expected = [(row_key(timed(i)), 100.0 + i, 50.0 + i) for i in range(100)]
    return Tally(expected, found, f"ok with 1 failed attempt each: {attempts}", attempts)


@fault
def merge_twice(tmp: Path) -> Tally:
    """Two host stores merged A, B, A, B (B static-only and newer): nothing doubles, no
    measurement is replaced by less."""
    a, b, target = tmp / "a.sqlite", tmp / "b.sqlite", tmp / "all.sqlite"
    with ResultsStore(a) as s:
        s.add_rows([timed(i) for i in range(100)], env={"host": "A"})
    with ResultsStore(b) as s:
        s.add_rows([key_row(i) for i in range(150)], env={"host": "B"})
    expected = []
    for f in (a, b):
        with ResultsStore(f, readonly=True) as s:
            expected += entry_ids(s) + run_ids(s)
    with ResultsStore(target) as s:
        counts = [s.merge_from(f) for f in (a, b, a, b)]
        found = entry_ids(s) + run_ids(s)
        kept = measurements(s) == [(row_key(timed(i)), 100.0 + i, 50.0 + i) for i in range(100)]
    passed = counts[2:] == [(0, 0), (0, 0)] and kept
    return Tally(expected, found, f"merge counts {counts}; measurements kept: {kept}", passed)


@fault
def concurrent_writers(tmp: Path) -> Tally:
    """Four processes append rows to one store at once (one transaction per row)."""
    path = tmp / "s.sqlite"
    ResultsStore(path).close()
    procs = [spawn("write_rows", path, tmp / "go", 100 * w, 25) for w in range(4)]
    start_together(procs, tmp / "go")
    acked = finish(procs)
    with ResultsStore(path, readonly=True) as s:
        found = [row_key(h) for h in s.history()]
    expected = [row_key(timed(int(i))) for i in acked]
    return Tally(expected, found, f"{len(acked)} commits acknowledged", len(acked) == 100)


@fault
def concurrent_claimants(tmp: Path) -> Tally:
    """Four processes share 40 keys through claims: each key written exactly once."""
    path = tmp / "s.sqlite"
    ResultsStore(path).close()
    procs = [spawn("claim_and_work", path, tmp / "go", 40) for _ in range(4)]
    start_together(procs, tmp / "go")
    acked = finish(procs)
    with ResultsStore(path, readonly=True) as s:
        found = [row_key(h) for h in s.history()]
        owners = {h["owner"] for h in s.history()}
        left = s.claims()
    expected = [row_key(timed(i, model="shared")) for i in range(40)]
    note = f"{len(owners)} claimant(s) did work, {len(left)} lease(s) left"
    return Tally(expected, found, note, not left and len(acked) == 40)


@fault
def killed_claimant(tmp: Path) -> Tally:
    """A claimant killed while holding leases: its keys are blocked until the leases
    expire, then another claimant takes them over."""
    path = tmp / "s.sqlite"
    ResultsStore(path).close()
    proc = spawn("claim_and_hang", path, 20, 1.0)
    assert proc.stdout is not None
    proc.stdout.readline()
    kill(proc)
    with ResultsStore(path) as s:
        blocked = not any(s.claim(timed(i, model="shared"), "heir", 30) for i in range(20))
        time.sleep(1.1)
        taken = all(s.claim(timed(i, model="shared"), "heir", 30) for i in range(20))
        for i in range(20):
            s.add_row(timed(i, model="shared"))
            s.release(timed(i, model="shared"), "heir")
        found = [row_key(h) for h in s.history()]
    expected = [row_key(timed(i, model="shared")) for i in range(20)]
    return Tally(
        expected, found, f"blocked while leased: {blocked}; taken after: {taken}", blocked and taken
    )


@fault
def killed_writer_between_rows(tmp: Path) -> Tally:
    """kill -9 of a writer committing one row at a time: every acknowledged row is there."""
    path = tmp / "s.sqlite"
    ResultsStore(path).close()
    proc = spawn("write_rows", path, tmp / "go", 0, 10_000)
    start_together([proc], tmp / "go")
    assert proc.stdout is not None
    acked = [proc.stdout.readline().strip() for _ in range(30)]
    kill(proc)
    acked += [line.strip() for line in proc.stdout if line.strip()]
    with ResultsStore(path) as s:  # opens with an integrity check
        found = [row_key(h) for h in s.history()]
    expected = [row_key(timed(int(i))) for i in acked]
    extra = len(found) - len(set(expected))
    return Tally(
        expected, found, f"{len(acked)} acknowledged, {extra} committed unacknowledged", extra <= 1
    )


@fault
def killed_writer_mid_transaction(tmp: Path) -> Tally:
    """kill -9 inside a 3,000-row transaction (2,000 rows in): none of it lands, every
    earlier row is kept, and a read-only open right after works (journal rolled back)."""
    path = tmp / "s.sqlite"
    with ResultsStore(path) as s:
        s.add_rows([timed(i) for i in range(50)], env={"host": "before"})
    proc = spawn("write_batch_and_hang", path, 1000, 3000, 2000)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "inside"
    journal = Path(f"{path}-journal").exists()
    kill(proc)
    with ResultsStore(path, readonly=True) as s:
        found = measurements(s)
        batch = len(s.history()) - 50
    expected = [(row_key(timed(i)), 100.0 + i, 50.0 + i) for i in range(50)]
    note = f"killed with a journal: {journal}; batch rows after: {batch} (must be 0)"
    return Tally(expected, found, note, journal and batch == 0)


# ---------------------------------------------------------------- sweeps

ROOT = Path(__file__).resolve().parents[1]
SWEEP_PROFILER = "scripts.faults:sweep_profile"


def sweep_profile(model: str, **options: Any) -> dict[str, Any]:
    """A sweep task's stand-in profile: writes its pid, may hang, returns a static row."""
    pid_dir = os.environ.get("STBENCH_FAULTS_PIDS")
    if pid_dir:
        Path(pid_dir, f"{model}.pid").write_text(str(os.getpid()))
    if model == os.environ.get("STBENCH_FAULTS_HANG"):
        time.sleep(600)
    time.sleep(float(os.environ.get("STBENCH_FAULTS_WORK_S", "0")))
    return {"model": model, "params": 1000, "macs": 2000, "flops": 4000}


def _register_sweep_profile() -> None:
    """Tasks name only registered profilers: `--module scripts.faults` registers this one."""
    from stbench.bench.sweep.driver import register_profiler

    register_profiler(sweep_profile, name=SWEEP_PROFILER)


_register_sweep_profile()


def sweep_tasks(models: Iterable[str]) -> str:
    """JSON lines of static tasks for `stbench sweep --task -`."""
    from stbench.bench.sweep.driver import Task

    return "".join(Task(m, 8, 112, profiler=SWEEP_PROFILER).to_json() + "\n" for m in models)


def start_sweep(store: Path, tasks: str, *extra: str, **env: str) -> subprocess.Popen[str]:
    """`stbench sweep --task -` on `store` in a new process, tasks written to its stdin."""
    argv = [sys.executable, "-m", "stbench.cli", "sweep", "--task", "-", "--store", str(store)]
    argv += ["--module", "scripts.faults"]  # registers SWEEP_PROFILER there
    environ = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    task_file = store.with_name(f"tasks-{time.monotonic_ns()}.jsonl")
    task_file.write_text(tasks)
    with task_file.open() as stdin:
        return subprocess.Popen(
            [*argv, "--no-progress", *extra],
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=environ,
        )


def ok_entries(store: Path) -> list[str]:
    """The model of every successful history entry (a task run twice appears twice)."""
    with ResultsStore(store, readonly=True) as s:
        return [h["model"] for h in s.history() if h["status"] == "ok"]


def _gone(pid: int, within_s: float) -> bool:
    """Whether process `pid` is gone (or a zombie) within `within_s` seconds."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False


@fault
def killed_sweep_mid_task(tmp: Path) -> Tally:
    """SIGKILL an isolated sweep while its 4th task runs: the task's child dies with it,
    the resumed sweep takes over the dead sweep's claim, redoes nothing finished."""
    store, pids = tmp / "s.sqlite", tmp / "pids"
    pids.mkdir()
    models = [f"t{i}" for i in range(6)]
    env = {"STBENCH_FAULTS_PIDS": str(pids)}
    sweep = start_sweep(store, sweep_tasks(models), "--isolate", STBENCH_FAULTS_HANG="t3", **env)
    deadline = time.monotonic() + 120
    while not (pids / "t3.pid").exists():
        if time.monotonic() > deadline or sweep.poll() is not None:
            raise RuntimeError("the sweep never reached its 4th task")
        time.sleep(0.05)
    child_pid = int((pids / "t3.pid").read_text())
    kill(sweep)
    no_orphan = _gone(child_pid, 10)
    before = ok_entries(store)
    resumed = start_sweep(store, sweep_tasks(models), "--isolate", **env)
    out, err = resumed.communicate(timeout=300)
    found = ok_entries(store)
    passed = no_orphan and before == ["t0", "t1", "t2"] and resumed.returncode == 0
    note = f"orphan child gone: {no_orphan}; stored before kill {len(before)}; resumed: "
    note += (out.strip().splitlines() or [err.strip()])[0]
    return Tally(models, found, note, passed)


@fault
def concurrent_sweeps(tmp: Path) -> Tally:
    """Two sweeps of the same 20 static tasks on one store, started together: every task
    runs once, shared between them."""
    store = tmp / "s.sqlite"
    ResultsStore(store).close()
    models = [f"c{i:02d}" for i in range(20)]
    tasks = sweep_tasks(models)
    procs = [
        start_sweep(store, tasks, "--no-isolate", STBENCH_FAULTS_WORK_S="0.2") for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    found = ok_entries(store)
    firsts = [(o.strip().splitlines() or [e.strip()])[0] for o, e in outs]
    both = all("left to another sweep" in f for f in firsts)
    # a sweep that left tasks to the other exits EXIT_LEFT (75), not 0 ("all done")
    want = [EXIT_LEFT if "left to another sweep" in f else 0 for f in firsts]
    passed = [p.returncode for p in procs] == want
    return Tally(models, found, f"both sweeps shared the work: {both}", passed)


# ---------------------------------------------------------------- main


def run(names: Iterable[str], keep: Path | None = None) -> list[tuple[str, Tally | Exception]]:
    """Run the named faults, each in its own temporary folder."""
    results: list[tuple[str, Tally | Exception]] = []
    for name in names:
        tmp = Path(tempfile.mkdtemp(prefix=f"stbench-fault-{name}-", dir=keep))
        t0 = time.perf_counter()
        try:
            results.append((name, FAULTS[name](tmp)))
        except Exception as exc:  # a crashed fault is a failed fault, reported in the table
            results.append((name, exc))
        finally:
            print(f"{name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
            if keep is None:
                shutil.rmtree(tmp, ignore_errors=True)
    return results


def table(results: list[tuple[str, Tally | Exception]]) -> str:
    """The results as a plain-text table with a verdict column."""
    head = ("fault", "expected", "found", "lost", "duplicates", "verdict", "check")
    lines = []
    for name, t in results:
        if isinstance(t, Exception):
            lines.append((name, "-", "-", "-", "-", "CRASHED", f"{type(t).__name__}: {t}"))
            continue
        verdict = "ok" if t.ok else "FAILED"
        cells = (len(t.expected), len(t.found), t.lost, t.duplicates)
        lines.append((name, *map(str, cells), verdict, t.check))
    widths = [max(len(str(r[i])) for r in [head, *lines]) for i in range(len(head) - 1)]
    fmt = "  ".join(f"{{:{'<' if i == 0 else '>'}{w}}}" for i, w in enumerate(widths)) + "  {}"
    return "\n".join(fmt.format(*r) for r in [head, *lines])


def main(argv: list[str] | None = None) -> int:
    """Run the faults (or one child body) and print the table; 1 if any fault failed."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["child"]:
        CHILDREN[argv[1]](*argv[2:])
        return 0
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", nargs="+", choices=sorted(FAULTS), help="run only these faults")
    p.add_argument("--keep", type=Path, help="leave the store files in this folder")
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    results = run(args.only or list(FAULTS), args.keep)
    print(table(results))
    failed = [n for n, t in results if not (isinstance(t, Tally) and t.ok)]
    summary = {
        "faults": len(results),
        "failed": failed,
        "seconds": round(time.perf_counter() - t0, 1),
    }
    print(json.dumps(summary))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
