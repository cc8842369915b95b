"""`stbench sweep`: profile a name pattern x frames x sizes x batches into the store."""

from __future__ import annotations

import argparse
import sys

from stbench.cli.options import (
    add_measure,
    add_models,
    add_protocol,
    add_store,
    command,
    expand_names,
    protocol_options,
)

from stbench.errors import EXIT_FAILED, EXIT_LEFT, UserError
from stbench.values import integer, positive_int, positive_number, store_path

# Options passed to `build_tasks` under their own names.
TASK_OPTIONS = (
    "device",
    "dtype",
    "channels_last",
    "compile",
    "time",
    "memory",
    "throughput_batch",
    "counters",
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `sweep` subcommand."""
    p = command(
        sub,
        "sweep",
        "profile many models/configurations into the results store (resumable)",
        (
            "Profile every selected MODEL at every frames x size x batch, one "
            "task at a time (in its own process when it times, measures memory or uses a "
            "GPU; see --isolate/--no-isolate), committing "
            "each row to the store as it completes. Every option and every model's input is "
            "checked before the first task runs. Tasks already stored are skipped, so "
            "re-running an interrupted sweep resumes it; failed tasks are retried (up to 3 "
            "failed attempts); concurrent sweeps on one store share the tasks. Exit status: "
            "0 all tasks done, 1 some failed (listed), 2 bad input (nothing created), "
            "75 some tasks left to another live sweep holding them (run again later), "
            "130 interrupted (Ctrl-C), 143 terminated (SIGTERM; claims released). MACs are "
            "multiply-accumulates; FLOPs = 2 x MACs."
        ),
    )
    add_models(p, "*")
    p.add_argument("--frames", nargs="+", help="clip lengths T (default: spec's)")
    p.add_argument("--sizes", nargs="+", help="frame sizes H=W (default: spec's)")
    p.add_argument("--batches", nargs="+", default=["1"], help="batch sizes (default 1)")
    p.add_argument("--classes", help="number of classes (default: spec's)")
    add_measure(p)
    p.add_argument("--counters", nargs="+", default=["meta"], help="counters (default: meta)")
    iso = p.add_mutually_exclusive_group()
    iso.add_argument(
        "--isolate",
        dest="isolate",
        action="store_const",
        const=True,
        help="run every task in its own process (default: only tasks that time, measure "
        "memory or use a GPU)",
    )
    iso.add_argument(
        "--no-isolate",
        dest="isolate",
        action="store_const",
        const=False,
        help="run in this process",
    )
    p.add_argument(
        "--timeout",
        metavar="S",
        help="seconds per task before failing it (applied to tasks in their own process; "
        "a task run in this process, see --no-isolate, cannot be stopped: refused with it)",
    )
    retry = p.add_mutually_exclusive_group()
    retry.add_argument(
        "--no-retry", action="store_true", help="skip tasks that failed before (default: retry)"
    )
    retry.add_argument(
        "--retry-failed",
        action="store_true",
        help="retry failed tasks even after 3 failed attempts",
    )
    add_protocol(p)
    add_store(p)
    p.add_argument(
        "--for-records",
        nargs="*",
        metavar="CSV",
        help="profile the (model, frames, size, classes) the accuracy records need (default: "
        "the shipped records; MODEL selects the models) so the rows join the frontier",
    )
    p.add_argument(
        "--preset",
        metavar="NAME",
        help="run every input in each mode of a preset (gpu-reference: batch-1 latency, "
        "throughput with OOM back-off and peak memory in float32, float32 channels_last_3d "
        "and bfloat16 autocast channels_last_3d); --dtype/--channels-last are the preset's",
    )
    p.add_argument("--list-tasks", action="store_true", help="print the task JSON lines, run none")
    p.add_argument(
        "--task",
        help="run one task given as JSON (from --list-tasks), or '-' for JSON lines on stdin",
    )
    p.add_argument("--shard", help="run only shard I/N of the tasks (stable hash of task ids)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--predict",
        metavar="GPU",
        help="store device-model predictions for GPU (see `stbench predict --list-gpus`) of "
        "every task's configuration instead of profiling it (no timing; already predicted "
        "ones are skipped)",
    )
    p.add_argument("--jobs", help="processes that predict at once (only with --predict; default 1)")
    add_executor(p)
    p.set_defaults(func=run)


def add_executor(p: argparse.ArgumentParser) -> None:
    """Add --executor, --address, --ray-cpus and --ray-resource."""
    p.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="where tasks run: this machine one after another (local, default) or a Ray "
        "cluster, each task in its own worker (ray; needs pip install 'stbench[ray]')",
    )
    p.add_argument(
        "--address",
        help="Ray cluster to join: HOST:PORT, ray://HOST:PORT or auto (default: a new "
        "local Ray on this machine)",
    )
    p.add_argument(
        "--ray-cpus",
        metavar="N",
        help="CPUs each timed CPU task reserves on Ray (default: --threads, else 1)",
    )
    p.add_argument(
        "--ray-resource",
        action="append",
        default=[],
        metavar="NAME=AMOUNT",
        help="custom Ray resource every measuring task asks for, e.g. "
        "accelerator_type:H100=0.001 to pin a GPU type (repeatable)",
    )


def _executor(args: argparse.Namespace) -> object | None:
    """The executor the flags ask for (None: run_sweep's local default)."""
    if args.executor == "local":
        if args.address or args.ray_cpus or args.ray_resource:
            raise UserError("--address/--ray-cpus/--ray-resource: only with --executor ray")
        return None
    from stbench.bench.sweep.executors import RayExecutor

    if args.ray_cpus is not None:
        args.ray_cpus = positive_number("ray_cpus", args.ray_cpus)
    resources = {}
    for item in args.ray_resource:
        name, _, amount = item.rpartition("=")
        try:
            resources[name] = positive_number("ray_resource", amount)
        except ValueError:
            name = ""
        if not name:
            raise UserError(f"--ray-resource: got {item!r}; allowed: NAME=AMOUNT, AMOUNT > 0")
    executor = RayExecutor(
        args.address,
        isolate_all=bool(args.isolate),
        timeout_s=args.timeout,
        cpus_per_task=args.ray_cpus,
        resources=resources,
    )
    executor.connect()  # a cluster that cannot be joined is refused before the store exists
    return executor


def _tasks(args: argparse.Namespace) -> list:
    from stbench.bench.sweep.driver import Task, build_tasks, check_named_code, shard

    if args.task:
        lines = sys.stdin.read().splitlines() if args.task == "-" else [args.task]
        tasks = [check_named_code(Task.from_json(line)) for line in lines if line.strip()]
    elif args.for_records is not None:
        tasks = _record_tasks(args)
    elif args.names:
        options = {k: getattr(args, k) for k in TASK_OPTIONS} | protocol_options(args)
        modes = [options]
        if getattr(args, "preset", None):
            from stbench.bench.sweep.presets import get_preset, preset_options

            try:
                modes = preset_options(get_preset(args.preset), options)
            except ValueError as exc:
                raise UserError(str(exc)) from None
        tasks = []
        for opts in modes:
            tasks += build_tasks(
                ",".join(expand_names(args.names)),
                args.frames,
                args.sizes,
                args.batches,
                num_classes=args.classes,
                device_here=args.executor == "local",
                **opts,
            )
    else:
        raise UserError("MODEL: got nothing; allowed: model names or patterns, or --task JSON")
    if args.shard:
        try:
            i, n = args.shard.split("/")
            i, n = integer("shard", i, low=0), positive_int("shard", n)
        except ValueError:
            raise UserError(f"--shard: got {args.shard!r}; allowed: I/N, e.g. 0/4") from None
        tasks = shard(tasks, i, n)
    return tasks


def _record_tasks(args: argparse.Namespace) -> list:
    from stbench.bench.sweep.record_tasks import load_for_records, record_tasks
    from stbench.zoo.records import RecordsError

    if args.frames or args.sizes or args.classes:
        raise UserError(
            "--for-records: got --frames/--sizes/--classes; allowed: none (the records give them)"
        )
    try:
        records = load_for_records(args.for_records)
    except RecordsError as exc:  # the first problem, naming its file and line
        more = len(exc.problems) - 1
        tail = f" (and {more} more; `stbench records validate` lists them all)" if more else ""
        raise UserError(f"--for-records: {exc.problems[0]}{tail}") from None
    options = {k: getattr(args, k) for k in TASK_OPTIONS} | protocol_options(args)
    try:
        selected = ",".join(expand_names(args.names)) if args.names else None
        return record_tasks(records, selected, args.batches, **options)
    except ValueError as exc:
        raise UserError(str(exc)) from None


def check_options(args: argparse.Namespace) -> None:
    """Every option checked by its one rule before anything is created or run."""
    if args.timeout is not None:
        args.timeout = positive_number("timeout_s", args.timeout)
        if args.isolate is False:
            raise UserError(
                "--timeout: got --no-isolate; allowed: tasks in their own process (a task "
                "running in this process cannot be stopped)"
            )
    if args.jobs is not None:
        if not args.predict:
            raise UserError("--jobs: got no --predict; allowed: only with --predict GPU")
        args.jobs = positive_int("jobs", args.jobs)
    if args.store is not None:
        store_path(args.store)


def run(args: argparse.Namespace) -> int:
    """List or run the sweep's tasks and print a one-line summary."""
    from stbench.bench.sweep.driver import run_sweep

    check_options(args)
    tasks = _tasks(args)
    if args.list_tasks:
        for t in tasks:
            print(t.to_json())
        return 0
    if args.predict:
        return _predict(args, tasks)
    # --timeout applies to every task: each runs in its own process, where it can be stopped
    isolate = True if args.timeout is not None and args.isolate is None else args.isolate
    executor = _executor(args)
    try:
        summary = run_sweep(
            ",".join(args.names) or None,
            args.frames,
            args.sizes,
            args.batches,
            tasks=tasks,
            store=store_path(args.store) if args.store is not None else None,
            isolate=isolate,
            retry=not args.no_retry,
            retry_failed=args.retry_failed,
            timeout_s=args.timeout,
            progress=not args.no_progress,
            executor=executor,
        )
    finally:
        if executor is not None:
            executor.close()
    print(summary_line(summary, summary.store))
    for row in summary.failures:
        print(f"  failed {row.get('task_id')}: {row.get('error')}")
    if summary.failed:
        return EXIT_FAILED
    return EXIT_LEFT if summary.claimed_elsewhere else 0


def _predict(args: argparse.Namespace, tasks: list) -> int:
    from stbench.bench.predict.predictions import predict_sweep
    from stbench.bench.predict.predictor import check_request
    from stbench.bench.store.results import ResultsStore

    try:  # an unknown GPU creates no store
        check_request(args.predict, "float32", 1)
    except ValueError as exc:
        raise UserError(f"--predict: {str(exc).partition(': ')[2]}") from None
    with ResultsStore(args.store) as store:
        s = predict_sweep(tasks, store, args.predict, jobs=args.jobs or 1)
        path = store.path
    print(
        f"sweep --predict {args.predict}: {s.total} task(s): predicted {s.ran} "
        f"({len(s.failures)} failed), skipped {s.skipped} already predicted, "
        f"in {s.seconds:.1f} s; store: {path}"
    )
    for name, error in s.failures:
        print(f"  failed {name}: {error}")
    return 1 if s.failures else 0


def summary_line(summary: object, path: object) -> str:
    """One line: what ran, failed, was skipped and why, and where it is stored."""
    parts = [f"ran {summary.ran} ({summary.failed} failed)"]
    parts.append(f"skipped {summary.skipped} already stored")
    if summary.claimed_elsewhere:
        parts.append(f"{summary.claimed_elsewhere} left to another sweep holding them")
    if summary.gave_up:
        parts.append(
            f"{summary.gave_up} not retried after failing (--retry-failed runs them again)"
        )
    return f"sweep: {summary.total} task(s): " + ", ".join(parts) + f"; store: {path}"
