"""The current view of one profile key, derived from its append-only history of attempts.

Every write to the store appends an entry (a row plus its outcome); nothing is updated in
place. The view per `(key, source)` is a pure function of the entries, oldest first:

- a field *group* (static counts, latency, throughput, memory) comes whole from the newest
  successful entry that carries it, so a static-only profile never erases a measured
  latency, throughput or peak memory of the same key, and a newer latency measurement
  never mixes its median with an older run's IQR;
- other fields (input shape, timer, device name, ...) take the newest non-null value among
  the successful entries;
- a failure contributes only an attempt record (`attempts`, `failed_attempts`,
  `last_error`, `last_failed_at`) and never blanks a field; only where no attempt
  succeeded is the view `status='failed'` with the newest failure's row and error.

A latency measurement is `noisy` when its relative IQR (IQR / median) exceeds
`NOISY_REL_IQR`, when the timing protocol stopped on its time cap (`stop_reason ==
"max_time"`), when it has fewer than `MIN_TIMED_ITERS` timed calls, or when its warm-up
never stabilised and the timed samples drift by more than `MAX_DRIFT`: the median of such
a run is not a settled number.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any

# Twice the timing protocol's default target (`bench.measure.timing.Protocol.target_rel_iqr`,
# 0.05): a run that reached its target sits at or below 0.05, so a spread above 0.10 did
# not settle. Applies to every timed row, whichever tool measured it.
NOISY_REL_IQR = 0.10
NOISY_PREFIX = "noisy: "


@dataclasses.dataclass(frozen=True)
class Group:
    """Fields measured together: present when any `anchors` field is not None."""

    name: str
    anchors: tuple[str, ...]
    prefixes: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    measured: bool = True

    def owns(self, field: str) -> bool:
        """Whether `field` belongs to this group."""
        return field in self.names or field.startswith(self.prefixes)

    def carried_by(self, row: Mapping[str, Any]) -> bool:
        """Whether `row` holds a value of this group."""
        return any(row.get(a) is not None for a in self.anchors)


GROUPS = (
    Group(
        "static",
        ("params", "macs"),
        names=(
            "params",
            "macs",
            "flops",
            "conv_macs",
            "linear_macs",
            "other_macs",
            "matmul_macs",
            "total_macs",
            "other_elements",
            "other",
            "other_by_category",
            "counter",
            "counter_version",
            "scope",
            "counters",
            "per_module",
            "count_input_shape",
            "macs_per",
            "flags",
        ),
        measured=False,
    ),
    Group(
        "latency",
        ("latency_ms_median",),
        prefixes=("latency_",),
        names=(
            "iterations",
            "iterations_per_round",
            "warmup_iterations",
            "warmup_stable",
            "warmup_s",
            "stop_reason",
            "samples_ms",
            "noisy",
            "noisy_reason",
        ),
    ),
    Group("throughput", ("throughput_clips_per_s",), prefixes=("throughput_",)),
    Group("memory", ("peak_mem_mib",), prefixes=("peak_mem_",), names=("weights_mib",)),
)
# Filled in by the store from its own columns, never taken from a stored row.
VIEW_FIELDS = (
    "status",
    "error",
    "run_id",
    "stored_at",
    "attempts",
    "failed_attempts",
    "last_error",
    "last_failed_at",
    "noisy",
    "provenance",
)


@functools.lru_cache(maxsize=4096)
def group_of(field: str) -> Group | None:
    """The group that owns `field`, or None for an ungrouped field."""
    return next((g for g in GROUPS if g.owns(field)), None)


# A warm-up cut short (e.g. --max-warmup on big inputs) is still trusted when the timed
# samples show a steady state: their two halves' medians within the protocol's default
# warm-up tolerance (`bench.measure.timing.Protocol.warmup_tol`).
MAX_DRIFT = 0.05

# Fewer timed iterations than this give no usable spread: the row is marked noisy.
MIN_TIMED_ITERS = 5


def noisy_reason(row: Mapping[str, Any]) -> str | None:
    """Why a timed row is noisy (relative IQR above NOISY_REL_IQR, or time cap), else None."""
    median, iqr = row.get("latency_ms_median"), row.get("latency_ms_iqr")
    if median is None:
        return None
    rel = row.get("latency_rel_iqr")
    if iqr is not None:
        rel = iqr / median if median > 0 else math.inf
    reasons = []
    if rel is not None and not rel <= NOISY_REL_IQR:
        reasons.append(f"relative IQR {rel:.2f} > {NOISY_REL_IQR:.2f}")
    if row.get("stop_reason") == "max_time":
        reasons.append("timing stopped on its time cap (stop_reason max_time)")
    drift = row.get("latency_drift_rel")
    if row.get("warmup_stable") is False and not (drift is not None and drift <= MAX_DRIFT):
        reasons.append("warm-up never stabilised (and the timed samples do not show it settled)")
    flags = row.get("timing_flags")  # a pytest-benchmark run's (`stbench_bench`)
    reasons += [str(f) for f in flags] if isinstance(flags, list) else []
    iters = row.get("iterations")
    if isinstance(iters, int) and iters < MIN_TIMED_ITERS:
        reasons.append(f"only {iters} timed iteration(s) (< {MIN_TIMED_ITERS})")
    return "; ".join(reasons) or None


def with_noise(row: Mapping[str, Any]) -> dict[str, Any]:
    """`row` with `noisy` (bool) and `noisy_reason` set when it carries a latency."""
    out = dict(row)
    if out.get("latency_ms_median") is None:
        out.pop("noisy", None)
        out.pop("noisy_reason", None)
        return out
    reason = noisy_reason(out)
    out["noisy"], out["noisy_reason"] = reason is not None, reason
    return out


@dataclasses.dataclass(frozen=True)
class Entry:
    """One attempt in the history: its row (as stored), outcome and provenance."""

    row: Mapping[str, Any]
    status: str
    stored_at: str
    run_id: int | None = None
    error: str | None = None
    uid: str = ""


def _clean_flags(flags: Any) -> list[Any]:
    if not isinstance(flags, list):
        return []
    return [f for f in flags if not (isinstance(f, str) and f.startswith(NOISY_PREFIX))]


def current_view(entries: Sequence[Entry]) -> dict[str, Any]:
    """The current row of one key from its entries (oldest first); see the module docstring."""
    if not entries:
        raise ValueError("current_view: no entries")
    ok = [e for e in entries if e.status == "ok"]
    failed = [e for e in entries if e.status != "ok"]
    last_fail = failed[-1] if failed else None
    if not ok:
        assert last_fail is not None
        view = {k: v for k, v in last_fail.row.items() if k not in VIEW_FIELDS}
        view.update(status="failed", error=last_fail.error, run_id=last_fail.run_id)
        view.update(stored_at=last_fail.stored_at, noisy=False, provenance={})
    else:
        view = {}
        for e in ok:
            view.update((k, v) for k, v in e.row.items() if v is not None and group_of(k) is None)
        provenance: dict[str, dict[str, Any]] = {}
        measured: list[Entry] = []
        for g in GROUPS:
            carrier = next((e for e in reversed(ok) if g.carried_by(e.row)), None)
            if carrier is None:
                continue
            view.update((k, v) for k, v in carrier.row.items() if g.owns(k))
            provenance[g.name] = {"run_id": carrier.run_id, "stored_at": carrier.stored_at}
            if g.measured:
                measured.append(carrier)
        # run metadata follows the newest measurement: the host and GPU that timed it
        run_source = max(measured, key=lambda e: e.stored_at) if measured else ok[-1]
        view.update(status="ok", error=None, run_id=run_source.run_id)
        view.update(stored_at=ok[-1].stored_at, provenance=provenance)
        view["noisy"] = bool(view.get("noisy")) and "latency" in provenance
    flags = _clean_flags(view.get("flags"))
    reason = view.get("noisy_reason") if view["noisy"] else None
    view["flags"] = flags + ([NOISY_PREFIX + reason] if reason else [])
    view.update(
        attempts=len(entries),
        failed_attempts=len(failed),
        last_error=last_fail.error if last_fail else None,
        last_failed_at=last_fail.stored_at if last_fail else None,
    )
    return view
