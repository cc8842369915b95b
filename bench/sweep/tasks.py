"""One sweep task and how it runs: the `Task` (plain data with a stable id), its
failure row, running it in this process (`run_task`) or in a child process
(`run_isolated`, `python -m stbench.bench.sweep.isolate`). The driver (`driver`) and the
executors (`executors`) both build on this module; it imports neither.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from stbench.bench.config import MEMORY_FORMATS, PROTOCOL_FIELDS, ProfileConfig
from stbench.bench.measure.fit import OutOfMemory, is_oom_error
from stbench.bench.store.results import KEY_FIELDS
from stbench.zoo.usercode import UserCodeError, user_code

from stbench.values import positive_int

DEFAULT_PROFILER = "stbench.bench.measure.profiler:profile"
MAX_ATTEMPTS = 3  # failed attempts of one key before a sweep stops retrying it
LEASE_S = 600.0  # claim lease; renewed every HEARTBEAT_S while an isolated task runs
HEARTBEAT_S = 30.0
RESULT_MARKER = "@@stbench-result@@ "
_REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True)
class Task:
    """One (model, configuration) to profile; its `key` is the store's row key."""

    model: str
    frames: int
    size: int
    batch: int = 1
    num_classes: int = 400
    device: str = "cpu"
    dtype: str = "float32"
    channels_last: bool = False
    compile: bool = False
    time: bool = False
    memory: bool = False
    throughput_batch: int | None = None
    counters: tuple[str, ...] = ("meta",)
    profiler: str = DEFAULT_PROFILER
    # timing-protocol overrides and threads, as (ProfileConfig field, value) pairs
    protocol: tuple[tuple[str, Any], ...] = ()
    # modules that register a user model (`--module`): imported again where the task runs
    modules: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for f in ("frames", "size", "batch", "num_classes", "throughput_batch"):
            if getattr(self, f) is not None or f != "throughput_batch":
                object.__setattr__(self, f, positive_int(f, getattr(self, f)))
        object.__setattr__(self, "counters", tuple(self.counters))
        extra = profiler_modules(self.profiler)  # a worker registers the profiler too
        object.__setattr__(self, "modules", tuple(dict.fromkeys((*self.modules, *extra))))
        pairs = self.protocol.items() if isinstance(self.protocol, Mapping) else self.protocol
        object.__setattr__(self, "protocol", tuple(sorted((str(k), v) for k, v in pairs)))

    def config(self) -> ProfileConfig:
        """The profile configuration this task runs (its key is the store key)."""
        return ProfileConfig(
            self.model,
            self.frames,
            self.size,
            self.batch,
            self.num_classes,
            self.device,
            self.dtype,
            MEMORY_FORMATS[1] if self.channels_last else MEMORY_FORMATS[0],
            self.compile,
            self.counters,
            timing=self.time,
            memory=self.memory,
            throughput_batch=self.throughput_batch,
            **self._protocol_fields(),
        )

    @property
    def threads(self) -> int | None:
        """The intra-op threads the task measures with (None: torch's default)."""
        return dict(self.protocol).get("threads")

    def _protocol_fields(self) -> dict[str, Any]:
        fields = dict(self.protocol)
        allowed = (*PROTOCOL_FIELDS, "threads")
        unknown = sorted(set(fields) - set(allowed))
        if unknown:
            raise ValueError(f"protocol: unknown {unknown}; allowed: {', '.join(allowed)}")
        return fields

    @property
    def key(self) -> tuple[Any, ...]:
        """The store key: (model, frames, size, batch, num_classes, device, dtype, mf, compile)."""
        return self.config().key

    @property
    def task_id(self) -> str:
        """A stable, readable id of the key, e.g. `r3d_resnet18/f8/s112/b1/c400/cpu/float32/...`."""
        m, f, s, b, c, dev, dt, mf, comp = self.key
        return f"{m}/f{f}/s{s}/b{b}/c{c}/{dev}/{dt}/{mf}/{'compiled' if comp else 'eager'}"

    def stub(self) -> dict[str, Any]:
        """The key fields as a row (plus task_id), the start of every result row."""
        row = dict(zip(KEY_FIELDS, self.key, strict=True))
        row["compile"] = bool(row["compile"])
        row["task_id"] = self.task_id
        return row

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict of every field plus the task_id."""
        d = dataclasses.asdict(self)
        d["counters"] = list(self.counters)
        d["protocol"] = dict(self.protocol)
        d["modules"] = list(self.modules)
        if not self.modules:  # a zoo task's JSON stays as it was
            del d["modules"]
        d["task_id"] = self.task_id
        return d

    def to_json(self) -> str:
        """One-line JSON of the task (what `--list-tasks` prints and `--task` reads)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, data: str | Mapping[str, Any]) -> Task:
        """Parse a task from JSON text or a dict; unknown fields are an error."""
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except json.JSONDecodeError as exc:
                raise ValueError(f"task: not valid JSON ({exc})") from None
        if not isinstance(data, Mapping):
            raise ValueError("task: expected a JSON object")
        d = {k: v for k, v in data.items() if k != "task_id"}
        allowed = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(d) - set(allowed))
        if unknown:
            raise ValueError(f"task: unknown field(s) {unknown}; allowed: {', '.join(allowed)}")
        missing = [
            f.name
            for f in dataclasses.fields(cls)
            if f.name not in d
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            raise ValueError(f"task: missing required field(s) {missing}")
        try:
            return cls(**d)
        except TypeError as exc:
            raise ValueError(f"task: {exc}") from None


# ---------------------------------------------------------------- running one task


# Profilers a task may name: name -> (function, module spec that registers it). A task
# (from a file, stdin or another process) names one of these, never a function to import;
# register one in a module given with --module (workers import that module again). A task
# read as data may list only modules this process loaded (--module) or that register its
# model or profiler.
_PROFILERS: dict[str, tuple[Callable[..., Any] | None, str | None]] = {
    DEFAULT_PROFILER: (None, None)
}


def register_profiler(fn: Callable[..., Any], *, name: str | None = None) -> Callable[..., Any]:
    """Register `fn(model, **options) -> row` as a profiler tasks may name ('module:function')."""
    from stbench.zoo.plugins import registering_module

    key = name or f"{fn.__module__}:{fn.__qualname__}"
    if key == DEFAULT_PROFILER:
        raise ValueError(f"profiler: got {key!r}; allowed: a name other than stbench's own")
    _PROFILERS[key] = (fn, registering_module(fn))
    return fn


def profiler_modules(name: str) -> tuple[str, ...]:
    """The module spec a worker imports so that profiler `name` is registered there."""
    from stbench.zoo.plugins import MAIN

    module = _PROFILERS.get(name, (None, None))[1]
    return () if module in (None, MAIN) else (module,)


def load_callable(name: str) -> Callable[..., Any]:
    """The registered profiler `name` (see `register_profiler`); any other name is refused."""
    if name not in _PROFILERS:
        raise ValueError(
            f"profiler: got {name!r}; allowed: a registered profiler ({', '.join(_PROFILERS)}; "
            "add one with stbench.register_profiler in a --module file)"
        )
    fn = _PROFILERS[name][0]
    if fn is None:
        from stbench.bench.measure.profiler import profile

        return profile
    return fn


def check_named_code(task: Task) -> Task:
    """A task read as data, refused unless its profiler and modules are registered here."""
    from stbench.zoo.plugins import loaded_modules, model_modules

    load_callable(task.profiler)
    allowed = {*loaded_modules(), *model_modules(task.model), *profiler_modules(task.profiler)}
    stray = [m for m in task.modules if m not in allowed]
    if stray:
        raise ValueError(
            f"task: modules: got {stray!r}; allowed: modules given with --module "
            f"({', '.join(sorted(allowed)) or 'none'})"
        )
    return task


def failure_row(task: Task, error: str, *, oom: bool = False, error_type: str = "") -> dict:
    """A failed row for `task` with a one-line error (kept short)."""
    first = (error.strip().splitlines() or [""])[0][:500]
    return {**task.stub(), "status": "failed", "error": first, "error_type": error_type, "oom": oom}


def run_task(task: Task, static: Any = None) -> dict[str, Any]:
    """Profile one task in this process; any exception becomes a failure row. `static`: a
    count `validate_inputs` already made for it (used by the default profiler)."""
    try:
        if task.modules:  # a user model: register it in this process first
            from stbench.zoo.plugins import load_modules

            load_modules(task.modules)
        profiler = load_callable(task.profiler)  # a registered profiler, or a failure row
        if task.profiler == DEFAULT_PROFILER:
            from stbench.bench.measure.profiler import run_profile

            row = run_profile(task.config(), static=static)
        else:  # a user's profiler: state kept, stdout to stderr, its errors as they are
            with user_code(f"profiler {task.profiler}", "profile", passing=(Exception,)):
                row = profiler(task.model, **task.config().options())
    except Exception as exc:  # noqa: BLE001 - one task's failure is data, not the end
        if isinstance(exc, OutOfMemory):  # already one line with the size asked for
            return failure_row(task, str(exc), oom=True, error_type="OutOfMemory")
        if isinstance(exc, UserCodeError):  # already one line naming model, phase, exception
            return failure_row(task, str(exc), error_type="UserCodeError")
        msg = f"{type(exc).__name__}: {exc}"
        return failure_row(task, msg, oom=is_oom_error(exc), error_type=type(exc).__name__)
    return {**dict(row), **task.stub(), "status": "ok", "error": None}


def _death_message(returncode: int, stderr: str) -> str:
    if returncode < 0:
        try:
            how = f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            how = f"killed by signal {-returncode}"
    else:
        how = f"exit code {returncode}"
    tail = [ln for ln in stderr.strip().splitlines() if ln.strip()][-1:] or [""]
    return f"isolated run died ({how}) without a result" + (f": {tail[0]}" if tail[0] else "")


def parse_isolated_output(task: Task, returncode: int, stdout: str, stderr: str) -> dict:
    """The result row from a `stbench.bench.sweep.isolate` child's output, or a failure row."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            try:
                return json.loads(line[len(RESULT_MARKER) :])
            except json.JSONDecodeError as exc:
                return failure_row(task, f"isolated run returned bad JSON ({exc})")
    if returncode in (130, -signal.SIGINT):
        raise KeyboardInterrupt
    return failure_row(task, _death_message(returncode, stderr), error_type="ProcessDied")


def die_with_parent() -> None:
    """In a child before exec: ask Linux to SIGKILL it when the parent dies (even by
    `kill -9`), so no task outlives its sweep; elsewhere a no-op."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0)


def run_isolated(
    task: Task,
    *,
    timeout_s: float | None = None,
    heartbeat: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Run one task in a fresh `python -m stbench.bench.sweep.isolate` process; returns its row.

    The child dies with this process; `heartbeat` is called every `HEARTBEAT_S` while the
    child runs (the sweep renews its claim on the task)."""
    from stbench.zoo.plugins import runs_here_only, script_model_error

    if runs_here_only([task.model]):
        return failure_row(task, script_model_error(task.model), error_type="UserError")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(_REPO_ROOT), os.getcwd(), env.get("PYTHONPATH", "")) if p
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "stbench.bench.sweep.isolate"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=die_with_parent,
    )
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    data: str | None = task.to_json()
    try:
        while True:
            wait = HEARTBEAT_S
            if deadline is not None:
                wait = max(0.0, min(wait, deadline - time.monotonic()))
            try:
                out, err = proc.communicate(data, timeout=wait)
                break
            except subprocess.TimeoutExpired:
                data = None  # sent with the first call; later calls only collect output
                if deadline is not None and time.monotonic() >= deadline:
                    proc.kill()
                    proc.communicate()
                    return failure_row(
                        task, f"timed out after {timeout_s:g} s", error_type="Timeout"
                    )
                if heartbeat is not None:
                    heartbeat()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return parse_isolated_output(task, proc.returncode, out, err)


def needs_isolation(task: Task) -> bool:
    """Whether a task runs real forwards (timing, memory, throughput) or touches a GPU."""
    return task.time or task.memory or task.throughput_batch is not None or task.device != "cpu"
