"""Sweeps: independent, idempotent (model, configuration) tasks, stored row by row.

A task is plain data with a stable id, so a list of tasks can be printed
(`stbench sweep --list-tasks`), shipped to other hosts and run one at a time
(`stbench sweep --task JSON`). A sweep skips tasks already in the store, commits each
row as it completes (so an interrupted sweep resumes where it stopped), records a
crash or OOM as a failure row and goes on. With `isolate=True` each task runs in its
own Python process (`python -m stbench.bench.sweep.isolate`) so a broken CUDA context cannot
poison the tasks after it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import platform
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stbench.bench.config import ProfileConfig, canonical_device
from stbench.bench.config import dtype_name as check_dtype
from stbench.bench.store.results import KEY_FIELDS, ResultsStore
from stbench.bench.sweep.tasks import (
    DEFAULT_PROFILER,
    HEARTBEAT_S,
    LEASE_S,
    MAX_ATTEMPTS,
    RESULT_MARKER,
    Task,
    check_named_code,
    failure_row,
    load_callable,
    needs_isolation,
    parse_isolated_output,
    register_profiler,
    run_isolated,
    run_task,
)
from stbench.zoo.usercode import UserCodeError

from stbench.progress import Progress
from stbench.values import fits_int64, positive_int, positive_ints, store_path

if TYPE_CHECKING:
    from stbench.bench.sweep.executors import Executor

__all__ = [
    "DEFAULT_PROFILER",
    "HEARTBEAT_S",
    "LEASE_S",
    "MAX_ATTEMPTS",
    "RESULT_MARKER",
    "SweepSummary",
    "Task",
    "build_tasks",
    "check_model_input",
    "check_named_code",
    "claim_task",
    "failure_row",
    "is_done",
    "load_callable",
    "needs_isolation",
    "parse_isolated_output",
    "register_profiler",
    "run_isolated",
    "run_sweep",
    "run_task",
    "shard",
    "task_state",
    "validate_inputs",
]


def build_tasks(
    pattern: str,
    frames_list: Sequence[int] | None = None,
    sizes: Sequence[int] | None = None,
    batches: Sequence[int] = (1,),
    *,
    num_classes: int | None = None,
    device: str = "cpu",
    dtype: str = "float32",
    channels_last: bool = False,
    compile: bool = False,
    time: bool = False,
    memory: bool = False,
    throughput_batch: int | None = None,
    counters: Sequence[str] = ("meta",),
    profiler: str = DEFAULT_PROFILER,
    device_here: bool = True,
    **protocol: Any,
) -> list[Task]:
    """Every (model matching `pattern`, frames, size, batch); None = the spec's default.

    `pattern` is a shell-style name pattern; several may be joined by commas. `protocol`:
    timing-protocol overrides and threads (`ProfileConfig` fields). Every task's
    configuration is validated here, with `profile`'s messages. `device_here=False`: the
    tasks run elsewhere (a Ray cluster), so a CUDA device need not exist on this machine.
    """
    from stbench.bench.measure.timing import check_device
    from stbench.zoo import get_spec, list_models
    from stbench.zoo.plugins import model_modules

    frames_list = positive_ints("frames", frames_list)
    sizes = positive_ints("sizes", sizes, each="size")
    batches = positive_ints("batches", batches, each="batch") or [1]
    if num_classes is not None:
        positive_int("num_classes", num_classes)
    options = {
        "device": check_device(device) if device_here else canonical_device(device),
        "dtype": check_dtype(dtype),
        "channels_last": channels_last,
        "compile": compile,
        "time": time,
        "memory": memory,
        "throughput_batch": throughput_batch,
        "counters": tuple(counters),
        "profiler": profiler,
        "protocol": tuple(sorted(protocol.items())),
    }
    names: list[str] = []
    for pat in (p.strip() for p in pattern.split(",")):
        names.extend(n for n in list_models(pat) if n not in names)
    if not names:
        raise ValueError(f"pattern: no zoo model matches {pattern!r} (see `stbench list`)")
    tasks = []
    for name in names:
        spec = get_spec(name)
        classes = num_classes or spec.default_classes
        mods = model_modules(name)
        for frames in frames_list or [spec.default_frames]:
            for size in sizes or [spec.default_size]:
                tasks.extend(
                    Task(name, frames, size, b, classes, **options, modules=mods) for b in batches
                )
    for t in tasks:
        t.config()  # one-line ValueError naming the option, as `profile` gives
    return tasks


def shard(tasks: Sequence[Task], index: int, count: int) -> list[Task]:
    """The tasks of shard `index` of `count`, by a stable hash of the task id."""
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard: got {index}/{count}; allowed: I/N with 0 <= I < N")
    return [t for t in tasks if zlib.crc32(t.task_id.encode()) % count == index]


def check_model_input(cfg: ProfileConfig) -> None:
    """Refuse (the model's own ValueError) a clip the model cannot take, without counting:
    the model is built on meta (its construction checks frames) and, where it states them,
    the clip's frames and size are checked as its forward would."""
    import torch
    from stbench.bench.count.static import build_model
    from stbench.models.validation import check_input

    model = build_model(cfg.static())
    frames, min_size = getattr(model, "frames", None), getattr(model, "min_size", None)
    if isinstance(frames, int) and isinstance(min_size, int):
        shape = (1, 3, cfg.frames, cfg.size, cfg.size)
        check_input(torch.empty(shape, device="meta"), frames, min_size)


def validate_inputs(
    tasks: Sequence[Task], on_done: Callable[[], None] | None = None, *, fits_here: bool = True
) -> dict:
    """Check every distinct (model, frames, size, classes) of zoo tasks before any runs, so
    a model that refuses its input stops the sweep with `profile`'s one-line error (naming
    the model) and nothing stored. Static-only tasks are checked cheaply (the model built on
    meta, `check_model_input`) and counted when they run, each row stored as it finishes;
    a measuring task is counted here, for the memory check (`fits_here=False`: tasks run on
    other machines, which check their own free memory). Returns those counts by static key
    for reuse."""
    from stbench.bench.count.static import count_static
    from stbench.bench.measure.fit import check_fits

    counts: dict[tuple, Any] = {}
    checked: set[tuple] = set()
    failing: set[tuple] = set()  # a user's model that fails: its tasks become failure rows
    for task in tasks:
        if task.profiler != DEFAULT_PROFILER:
            continue
        cfg = task.config()
        key = cfg.static().key
        if key in failing:
            continue
        count = fits_here and cfg.measures and key not in counts
        if key not in checked or count:
            try:
                if count:
                    counts[key] = count_static(cfg.static())
                    for field in ("params", "macs"):  # what the store's INTEGER can hold
                        fits_int64(field, getattr(counts[key], field, None))
                else:
                    check_model_input(cfg)
            except UserCodeError:
                failing.add(key)
                continue
            except ValueError as exc:
                raise ValueError(
                    f"{task.model} at {task.frames} frames, {task.size} px: {exc}"
                ) from None
            if on_done and key not in checked:
                on_done()
            checked.add(key)
        if not (fits_here and cfg.measures):
            continue
        check_fits(cfg, counts[key])  # its one line names the model
    return counts


# ---------------------------------------------------------------- the sweep


@dataclasses.dataclass
class SweepSummary:
    """What a sweep did: counts, the run id and the rows it produced."""

    total: int = 0
    ran: int = 0
    skipped: int = 0
    failed: int = 0
    claimed_elsewhere: int = 0  # left to another sweep that holds them
    gave_up: int = 0  # failed MAX_ATTEMPTS times (or --no-retry): not run again
    run_id: int | None = None
    rows: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    store: Path | None = None  # the store's path

    @property
    def failures(self) -> list[dict[str, Any]]:
        """The failure rows of this run."""
        return [r for r in self.rows if r.get("status") == "failed"]


def task_state(
    store: ResultsStore, task: Task, *, retry: bool = True, retry_failed: bool = False
) -> str:
    """ "done" (the store answers the task), "todo", or "gave_up": it failed before and is not
    retried (`retry=False`, or MAX_ATTEMPTS failed attempts without `retry_failed`)."""
    row = store.get(task.key)
    if row is None:
        return "todo"
    if row["status"] == "ok":
        wanted = {
            "latency_ms_median": task.time,
            "peak_mem_mib": task.memory,
            "throughput_clips_per_s": task.throughput_batch is not None,
        }
        counted = set(row.get("counters") or ("meta",))
        crosschecked = set(task.config().counters) <= counted
        measured = all(row.get(field) is not None for field, asked in wanted.items() if asked)
        if measured and crosschecked:
            return "done"
    failed = row.get("failed_attempts") or (1 if row["status"] == "failed" else 0)
    if failed == 0 or retry_failed:
        return "todo"
    return "todo" if retry and failed < MAX_ATTEMPTS else "gave_up"


def is_done(store: ResultsStore, task: Task, *, retry_failed: bool = False) -> bool:
    """Whether the store already answers `task` with every measurement it asks for."""
    return task_state(store, task, retry_failed=retry_failed) == "done"


def _alive(owner: str) -> bool:
    """Whether a claim owner (`host:pid:rand`) may still be running: False only for a
    process of this host that no longer exists."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != platform.node() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim_task(store: ResultsStore, task: Task, owner: str, lease_s: float) -> bool:
    """Claim `task` for `owner`; a claim left by a dead process of this host is taken over
    at once (a lease elsewhere expires after its `lease_s`)."""
    if store.claim(task.key, owner, lease_s):
        return True
    key = dict(zip(KEY_FIELDS, task.key, strict=True))
    for c in store.claims():
        if all(c.get(f) == v for f, v in key.items()) and not _alive(c["owner"]):
            store.release(task.key, c["owner"])
            return store.claim(task.key, owner, lease_s)
    return False


def run_sweep(
    pattern: str | None = None,
    frames_list: Sequence[int] | None = None,
    sizes: Sequence[int] | None = None,
    batches: Sequence[int] = (1,),
    *,
    device: str = "cpu",
    dtype: str = "float32",
    store: ResultsStore | str | os.PathLike[str] | None = None,
    isolate: bool | None = True,
    tasks: Sequence[Task] | None = None,
    retry: bool = True,
    retry_failed: bool = False,
    timeout_s: float | None = None,
    progress: bool = True,
    env: Mapping[str, Any] | None = None,
    executor: Executor | None = None,
    **task_options: Any,
) -> SweepSummary:
    """Run every task the store does not answer yet, committing each row as it completes.

    Either `pattern` (+ frames/sizes/batches and `task_options` of `build_tasks`) or
    ready-made `tasks`. Before the first task runs, every zoo task's input is checked
    (`validate_inputs`): a bad one raises ValueError and nothing is stored. Failed tasks
    are retried (`retry`) until they failed MAX_ATTEMPTS times (`retry_failed` forces
    them). Each task is claimed in the store first, so concurrent sweeps on one store
    share the work. `isolate=None` isolates only tasks that run real forwards or use a GPU
    (`needs_isolation`); isolated children die with the sweep. KeyboardInterrupt stops
    after the last committed row, and a later sweep resumes from there. `executor` runs
    the admitted tasks (default: `LocalExecutor` in this process); this driver stays the
    only writer of the store.
    """
    from stbench.bench.store.results import default_owner, default_store_path
    from stbench.bench.sweep.executors import Hooks, LocalExecutor

    if tasks is None:
        if not pattern:
            raise ValueError("pattern: give a model name pattern or tasks")
        tasks = build_tasks(
            pattern, frames_list, sizes, batches, device=device, dtype=dtype, **task_options
        )
    own_store = not isinstance(store, ResultsStore)
    path = (default_store_path() if store is None else store_path(store)) if own_store else None
    # a new store is created only once every input has been checked
    db = store if not own_store else (ResultsStore(path) if path.exists() else None)
    summary = SweepSummary(total=len(tasks), store=path or db.path)
    owner = default_owner()
    lease_s = max(LEASE_S, 2 * (timeout_s or 0))
    try:
        states = [
            "todo" if db is None else task_state(db, t, retry=retry, retry_failed=retry_failed)
            for t in tasks
        ]
        todo = [t for t, st in zip(tasks, states, strict=True) if st == "todo"]
        summary.skipped = states.count("done")
        summary.gave_up = states.count("gave_up")
        if not todo:
            return summary
        if isolate is None:  # auto: a process per task only where a device state can break
            isolate = any(needs_isolation(t) for t in todo)
        if executor is None:
            executor = LocalExecutor(isolate=isolate, timeout_s=timeout_s)
        executor.prepare(todo)
        with Progress("sweep", len(todo), enabled=progress) as bar:
            bar.describe("checking inputs")
            here = executor.name == "local"
            counts = validate_inputs(todo, on_done=bar.advance, fits_here=here)
            if db is None:
                db = ResultsStore(path)
            if env is None:
                from stbench.bench.environment import collect_environment

                cuda_here = here and not isolate and any(t.device.startswith("cuda") for t in todo)
                env = collect_environment(init_cuda=cuda_here)
            flags = {
                "pattern": pattern,
                "frames": list(frames_list) if frames_list else None,
                "sizes": list(sizes) if sizes else None,
                "batches": list(batches),
                "isolate": isolate,
                "retry": retry,
                "retry_failed": retry_failed,
                "timeout_s": timeout_s,
                "executor": executor.name,
                "tasks": len(tasks),
                "task_options": {
                    k: v
                    for k, v in todo[0].to_dict().items()
                    if k not in ("model", "frames", "size", "batch", "num_classes", "task_id")
                },
            }
            summary.run_id = db.start_run(env, flags, source="stbench")
            bar.reset(len(todo))
            held: set[tuple] = set()

            def admit(task: Task) -> bool:
                if not claim_task(db, task, owner, lease_s):
                    summary.claimed_elsewhere += 1
                elif task_state(db, task, retry=retry, retry_failed=retry_failed) != "todo":
                    db.release(task.key, owner)
                    summary.skipped += 1  # another sweep finished it meanwhile
                else:
                    held.add(task.key)
                    return True
                bar.advance()
                return False

            hooks = Hooks(
                admit=admit,
                renew=lambda t: db.claim(t.key, owner, lease_s),
                static=counts,
                note=bar.describe,
            )
            try:
                with contextlib.closing(executor.run(todo, hooks)) as results:
                    for task, row in results:
                        db.add_row(row, run_id=summary.run_id, release=owner)
                        held.discard(task.key)
                        bar.advance()
                        summary.ran += 1
                        summary.rows.append(row)
                        if row.get("status") == "failed":
                            summary.failed += 1
                            msg = f"failed {task.task_id}: {row.get('error')}"
                            bar.print(msg)
            finally:
                for key in held:
                    db.release(key, owner)
    finally:
        if own_store and db is not None:
            db.close()
    return summary
