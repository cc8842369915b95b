"""Where a sweep's tasks run: this process (`LocalExecutor`) or a Ray cluster (`RayExecutor`).

`run_sweep` stays the driver: it validates every task before the first runs, decides what
is to do, claims each task in the store, and is the only writer of the store. An executor
only runs what the driver admits and hands back `(task, row)` pairs as they finish:

    executor.prepare(tasks)          # refuse what cannot run here (one line), before any runs
    for task, row in executor.run(tasks, hooks): ...

`hooks.admit(task)` claims a task just before it is started (False: skip it), `hooks.renew`
renews the claim of a task still running, `hooks.note` sets the progress line. Every row
records where it ran (`run_node`, the host name; `run_gpu`, the GPU ids a CUDA task saw).
Ray is imported only by `RayExecutor` (the optional extra `stbench[ray]`).
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import io
import math
import os
import platform
import re
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from stbench.bench.sweep.tasks import (
    HEARTBEAT_S,
    MAX_ATTEMPTS,
    Task,
    failure_row,
    needs_isolation,
    run_isolated,
    run_task,
)

EXECUTORS = ("local", "ray")
RAY_RETRIES = MAX_ATTEMPTS - 1  # a task whose worker dies runs at most MAX_ATTEMPTS times
CHUNK_MAX = 64  # cheap (static) tasks per Ray task, at most
INSTALL_HINT = "install it with: pip install 'stbench[ray]'"
AUTH_WORDS = re.compile(r"RAY_AUTH|auth(entication)?[ _-]token|unauthenticated", re.IGNORECASE)
TOKEN_HINT = (
    "the Ray cluster wants an auth token; set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (or "
    "RAY_AUTH_TOKEN_PATH) to the cluster's token before running stbench"
)


class NeedsToken(RuntimeError):
    """Joining a Ray cluster that requires an auth token this process does not have."""


@dataclasses.dataclass
class Hooks:
    """What the driver lends an executor: claims, renewals, the static counts, progress."""

    admit: Callable[[Task], bool]
    renew: Callable[[Task], None] = lambda task: None
    static: Mapping[tuple, Any] = dataclasses.field(default_factory=dict)
    note: Callable[[str], None] = lambda text: None

    def count(self, task: Task) -> Any:
        """The static count `validate_inputs` already made for `task`, or None."""
        return self.static.get(task.config().static().key)


class Executor(Protocol):
    """Runs admitted tasks and yields `(task, row)` as each finishes."""

    name: str

    def prepare(self, tasks: Sequence[Task]) -> None:
        """Refuse (ValueError, one line) what cannot run here, before any task runs."""

    def run(self, tasks: Sequence[Task], hooks: Hooks) -> Iterator[tuple[Task, dict]]:
        """Admit, run and yield each task's row; stopping the iterator stops what runs."""

    def close(self) -> None:
        """Release what the executor started."""


def placement(task: Task) -> dict[str, Any]:
    """Where this process ran `task`: host name, and for a CUDA task the GPU ids it saw
    (`CUDA_VISIBLE_DEVICES`) and, when this process initialised CUDA, the GPU's name."""
    where: dict[str, Any] = {"run_node": platform.node(), "run_gpu": None}
    if task.device.startswith("cuda"):
        where["run_gpu"] = os.environ.get("CUDA_VISIBLE_DEVICES") or task.device
        torch = sys.modules.get("torch")
        if torch is not None and torch.cuda.is_initialized():
            where["run_gpu_name"] = torch.cuda.get_device_name(torch.device(task.device))
    return where


class LocalExecutor:
    """Today's loop: one task after another in this process, or each in its own child."""

    name = "local"

    def __init__(self, *, isolate: bool = True, timeout_s: float | None = None) -> None:
        self.isolate = isolate
        self.timeout_s = timeout_s

    def prepare(self, tasks: Sequence[Task]) -> None:
        """Nothing to check: this machine is where `build_tasks` checked the device."""

    def run(self, tasks: Sequence[Task], hooks: Hooks) -> Iterator[tuple[Task, dict]]:
        """Run each admitted task in turn (isolated: in a child renewing its claim)."""
        for task in tasks:
            if not hooks.admit(task):
                continue
            hooks.note(task.task_id)
            if self.isolate:
                renew = lambda t=task: hooks.renew(t)  # noqa: E731
                row = run_isolated(task, timeout_s=self.timeout_s, heartbeat=renew)
            else:
                row = run_task(task, hooks.count(task))
            yield task, {**row, **placement(task)}

    def close(self) -> None:
        """Nothing to release."""


# ---------------------------------------------------------------- Ray


def run_chunk(tasks: Sequence[Task], statics: Sequence[Any]) -> list[dict[str, Any]]:
    """In a Ray worker: run tasks here, one after another; rows say where they ran."""
    return [{**run_task(t, s), **placement(t)} for t, s in zip(tasks, statics, strict=True)]


def import_ray() -> Any:
    """The `ray` module, or a one-line ValueError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ValueError(f"executor ray: Ray is not installed; {INSTALL_HINT}") from None
    return ray


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """A one-line ValueError unless `host:port` (or `ray://host:port`) accepts connections."""
    if address in ("auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"address: got {address!r}; allowed: HOST:PORT, ray://HOST:PORT, auto")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ValueError(f"address: cannot reach a Ray cluster at {address} ({exc})") from None


@dataclasses.dataclass
class _Unit:
    """One Ray task: a chunk of cheap tasks, or one task that needs its own process."""

    tasks: list[Task]
    isolated: bool
    admitted: bool = False
    submitted_at: float = 0.0

    @property
    def kind(self) -> str:
        """ "gpu" or "cpu" (one isolated task), or "chunk" (cheap tasks sharing a worker)."""
        if not self.isolated:
            return "chunk"
        return "gpu" if self.tasks[0].device.startswith("cuda") else "cpu"


class RayExecutor:
    """Each task a Ray task: GPU tasks `num_gpus=1`, timed CPU tasks a stated `num_cpus`,
    both in a fresh worker process (`max_calls=1`); cheap static tasks batched per Ray task.

    A worker that dies is retried `RAY_RETRIES` times, then its tasks get failure rows;
    out-of-memory is a row and never retried. `timeout_s` counts from submission; at most
    as many isolated tasks are in flight as the cluster has room for, so they start at
    once. `isolate_all`: every task in its own worker. `gpu_resource` names the resource a
    CUDA task asks for ("GPU" means `num_gpus`, which sets `CUDA_VISIBLE_DEVICES`);
    `resources` are extra custom resources every measuring task asks for (pin GPU types,
    e.g. `{"accelerator_type:H100": 0.001}`). Connects to `address` (None: an already
    initialised Ray, else a new local one that `close` shuts down).
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        isolate_all: bool = False,
        timeout_s: float | None = None,
        cpus_per_task: float | None = None,
        gpu_resource: str = "GPU",
        resources: Mapping[str, float] | None = None,
    ) -> None:
        self.ray = import_ray()
        self.address = address
        self.isolate_all = isolate_all
        self.timeout_s = timeout_s
        self.cpus_per_task = cpus_per_task
        self.gpu_resource = gpu_resource
        self.resources = dict(resources or {})
        self.started = False
        self.by_node: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
        self.log_path = os.environ.get("STBENCH_RAY_LOG") or os.path.join(
            tempfile.gettempdir(), f"stbench-ray-{os.getpid()}.log"
        )
        self._saved_stderr: tuple[int, Any] | None = None

    # -- set-up

    def connect(self) -> None:
        """Join the cluster at `address` (or start a local one); one-line ValueError if not.

        Ray's own log lines (its C++ core and Python loggers) go to `log_path`, not to the
        terminal, while this executor is open; a cluster that wants an auth token is named
        within a second of Ray saying so."""
        ray = self.ray
        if self.address:
            check_reachable(self.address)
        if ray.is_initialized():
            return
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if not self.address and "RAY_ADDRESS" not in os.environ:  # a new local Ray
            options["_system_config"] = {"task_oom_retries": 0}  # out of memory is a result
        self._logs_to_file()
        try:
            self._init(lambda: ray.init(address=self.address, logging_level="ERROR", **options))
        except Exception as exc:  # noqa: BLE001 - any failure to join is one line for the user
            self._logs_back()
            where = self.address or "a new local cluster"
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            if isinstance(exc, NeedsToken) or AUTH_WORDS.search(first):
                raise ValueError(f"address: {where}: {TOKEN_HINT}") from None
            raise ValueError(f"address: cannot start Ray on {where} ({first})") from None
        self.started = True

    def _init(self, init: Callable[[], Any]) -> None:
        """Run `init` (ray.init) in a thread while watching the log file: a word about an
        auth token there ends the wait at once (Ray itself warns for about 20 s first)."""
        import threading

        outcome: list[BaseException | None] = []

        def target() -> None:
            try:
                init()
                outcome.append(None)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                outcome.append(exc)

        thread = threading.Thread(target=target, daemon=True, name="stbench-ray-init")
        thread.start()
        while thread.is_alive():
            thread.join(0.2)
            if AUTH_WORDS.search(self._log_text()):
                raise NeedsToken(TOKEN_HINT)
        if outcome and outcome[0] is not None:
            raise outcome[0]

    def _log_text(self) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()[-65536:]
        except OSError:
            return ""

    def _logs_to_file(self) -> None:
        """Point file descriptor 2 (where Ray's C++ core and its Python loggers write) at
        `log_path`; stbench's own messages keep the terminal through a new sys.stderr."""
        if self._saved_stderr is not None:
            return
        try:
            sys.stderr.flush()
            fd = sys.stderr.fileno()
            log = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            return  # no file descriptor behind stderr (e.g. captured): leave Ray's logs be
        if fd != 2:
            os.close(log)
            return
        saved = os.dup(2)
        self._saved_stderr = (saved, sys.stderr)
        os.dup2(log, 2)
        os.close(log)
        sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1, encoding="utf-8", errors="replace")
        print(f"ray: Ray's own logs go to {self.log_path}", file=sys.stderr)

    def _logs_back(self) -> None:
        """Give file descriptor 2 and sys.stderr back to the terminal."""
        if self._saved_stderr is None:
            return
        saved, stream = self._saved_stderr
        self._saved_stderr = None
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.flush()
            sys.stderr.close()
        os.dup2(saved, 2)
        os.close(saved)
        sys.stderr = stream

    def prepare(self, tasks: Sequence[Task]) -> None:
        """Connect, and refuse GPU tasks on a cluster without GPUs (one line, nothing run)."""
        self.connect()
        gpu_tasks = sum(t.device.startswith("cuda") for t in tasks)
        total = self.ray.cluster_resources()
        if gpu_tasks and total.get(self.gpu_resource, 0) < 1:
            have = ", ".join(f"{k} {v:g}" for k, v in sorted(total.items()) if "node:" not in k)
            raise ValueError(
                f"executor ray: {gpu_tasks} task(s) need a GPU but the Ray cluster has no "
                f"{self.gpu_resource!r} resource (it has: {have or 'nothing'})"
            )

    def close(self) -> None:
        """Shut down the local Ray this executor started (a joined cluster stays up) and
        give the terminal back."""
        try:
            if self.started:
                self.ray.shutdown()
                self.started = False
        finally:
            self._logs_back()

    # -- planning

    def cpus(self, task: Task) -> float:
        """CPUs a task reserves: the stated `cpus_per_task`, else its threads, else 1."""
        return float(self.cpus_per_task or task.threads or 1)

    def options(self, unit: _Unit) -> dict[str, Any]:
        """Ray task options of a unit: resources, a fresh process when isolated, retries."""
        task = unit.tasks[0]
        opts: dict[str, Any] = {
            "max_retries": RAY_RETRIES,
            "retry_exceptions": False,
            "num_cpus": self.cpus(task) if unit.isolated else 1,
        }
        extra = dict(self.resources) if unit.isolated else {}
        if task.device.startswith("cuda"):
            if self.gpu_resource == "GPU":
                opts["num_gpus"] = 1
            else:
                extra[self.gpu_resource] = 1
        if extra:
            opts["resources"] = extra
        return opts

    def slots(self, kind: str, tasks: Sequence[Task] = ()) -> int:
        """How many units of a kind ("gpu", "cpu": isolated; "chunk") may be in flight: the
        cluster's room for them (twice that for chunks, to keep workers busy)."""
        total = self.ray.cluster_resources()
        if kind == "gpu":
            return max(1, int(total.get(self.gpu_resource, 1)))
        if kind == "chunk":
            return max(2, 2 * int(total.get("CPU", 1)))
        need = max((self.cpus(t) for t in tasks), default=1.0)
        return max(1, int(total.get("CPU", 1) // need))

    def units(self, tasks: Sequence[Task]) -> list[_Unit]:
        """Isolated tasks one per unit; the cheap rest in chunks (about 4 per CPU slot)."""
        alone = [self.isolate_all or needs_isolation(t) for t in tasks]
        heavy = [_Unit([t], True) for t, a in zip(tasks, alone, strict=True) if a]
        cheap = [t for t, a in zip(tasks, alone, strict=True) if not a]
        if not cheap:
            return heavy
        per = max(1, min(CHUNK_MAX, math.ceil(len(cheap) / (2 * self.slots("chunk")))))
        return [_Unit(cheap[i : i + per], False) for i in range(0, len(cheap), per)] + heavy

    # -- running

    def run(self, tasks: Sequence[Task], hooks: Hooks) -> Iterator[tuple[Task, dict]]:
        """Submit units within the cluster's room, yield rows as they arrive (`ray.wait`);
        stopping the iterator (Ctrl-C) cancels every outstanding Ray task."""
        ray = self.ray
        remote = {True: ray.remote(max_calls=1)(run_chunk), False: ray.remote(run_chunk)}
        pending = collections.deque(self.units(tasks))
        inflight: dict[Any, _Unit] = {}
        room = {kind: self.slots(kind, tasks) for kind in ("gpu", "cpu", "chunk")}
        beat = time.monotonic()
        try:
            while pending or inflight:
                for unit in self._take(pending, inflight, room, hooks):
                    statics = [hooks.count(t) for t in unit.tasks]
                    ref = (
                        remote[unit.isolated]
                        .options(**self.options(unit))
                        .remote(unit.tasks, statics)
                    )
                    unit.submitted_at = time.monotonic()
                    inflight[ref] = unit
                self._note(hooks, len(inflight))
                if not inflight:
                    continue
                ready, _ = ray.wait(list(inflight), num_returns=1, timeout=1.0)
                for ref in ready:
                    yield from self._collect(ref, inflight.pop(ref), pending)
                yield from self._expire(inflight)
                if time.monotonic() - beat >= HEARTBEAT_S:
                    beat = time.monotonic()
                    for unit in inflight.values():
                        for t in unit.tasks:
                            hooks.renew(t)
            self._note(hooks, 0)
        finally:
            for ref in inflight:
                ray.cancel(ref, force=True)

    def _take(
        self, pending: collections.deque, inflight: dict, room: dict, hooks: Hooks
    ) -> Iterator[_Unit]:
        """The next units that fit, admitted (claimed) by the driver just before submission."""
        busy = collections.Counter(u.kind for u in inflight.values())
        while pending and busy[pending[0].kind] < room[pending[0].kind]:
            unit = pending.popleft()
            if not unit.admitted:
                unit.tasks = [t for t in unit.tasks if hooks.admit(t)]
                unit.admitted = True
            if unit.tasks:
                busy[unit.kind] += 1
                yield unit

    def _collect(self, ref: Any, unit: _Unit, pending: collections.deque) -> Iterator:
        """The rows of a finished unit; a dead chunk's tasks are retried one by one."""
        ray = self.ray
        try:
            rows = ray.get(ref)
        except ray.exceptions.OutOfMemoryError as exc:
            rows = [self._failed(t, exc, oom=True) for t in unit.tasks]
        except (ray.exceptions.RayError, OSError) as exc:
            if len(unit.tasks) > 1:  # find the task that kills its worker
                pending.extendleft(_Unit([t], False, True) for t in reversed(unit.tasks))
                return
            rows = [self._failed(t, exc) for t in unit.tasks]
        for task, row in zip(unit.tasks, rows, strict=True):
            node = row.get("run_node") or "?"
            self.by_node[node]["failed" if row.get("status") == "failed" else "ok"] += 1
            yield task, row

    def _expire(self, inflight: dict) -> Iterator[tuple[Task, dict]]:
        """Failure rows for isolated units past `timeout_s`; their Ray tasks are killed."""
        if self.timeout_s is None:
            return
        now = time.monotonic()
        for ref, unit in list(inflight.items()):
            if unit.isolated and now - unit.submitted_at > self.timeout_s:
                self.ray.cancel(ref, force=True)
                del inflight[ref]
                msg = f"timed out after {self.timeout_s:g} s"
                yield unit.tasks[0], failure_row(unit.tasks[0], msg, error_type="Timeout")

    def _failed(self, task: Task, exc: BaseException, *, oom: bool = False) -> dict[str, Any]:
        """A failure row for a Ray task that died (after its retries) or ran out of memory."""
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        reason = next((ln for ln in lines if "died" in ln or "memory" in ln.lower()), None)
        reason = reason or (lines[0] if lines else type(exc).__name__)
        tries = "" if oom else f" (ran {RAY_RETRIES + 1} times)"
        row = failure_row(
            task, f"Ray worker died{tries}: {reason}", oom=oom, error_type=type(exc).__name__
        )
        return {**row, "run_node": None, "run_gpu": None}

    def _note(self, hooks: Hooks, running: int) -> None:
        """Progress: tasks running, and finished/failed counts per node."""
        nodes = "; ".join(
            f"{n}: {c['ok']} done, {c['failed']} failed" for n, c in sorted(self.by_node.items())
        )
        hooks.note(f"ray: {running} running" + (f"; {nodes}" if nodes else ""))


def make_executor(
    name: str = "local",
    *,
    address: str | None = None,
    isolate: bool = True,
    timeout_s: float | None = None,
    **ray_options: Any,
) -> Executor:
    """An executor by name; `address` and `ray_options` only for "ray"."""
    if name not in EXECUTORS:
        raise ValueError(f"executor: got {name!r}; allowed: {', '.join(EXECUTORS)}")
    if name == "local":
        if address is not None:
            raise ValueError("address: only with executor ray")
        return LocalExecutor(isolate=isolate, timeout_s=timeout_s)
    return RayExecutor(address, timeout_s=timeout_s, **ray_options)
