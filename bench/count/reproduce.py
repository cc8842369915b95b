"""The reproduction report: each published params/MACs figure next to the zoo's count.

For every target of `zoo/targets.csv` the zoo model is built on the ``meta`` device at
the target's input (frames, size, classes), counted under the target's convention, and
compared: deviation % = (zoo - published) / published x 100. A row is ``met`` within
its tolerance, ``recorded`` when it deviates by exactly the amount pinned in its
``deviation_note`` (the faithful architecture cannot meet the paper; the note says why),
``deviating`` otherwise, and ``error`` when the model cannot be built or counted.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from stbench.bench.config import ProfileConfig
from stbench.bench.count.counting import StaticCount
from stbench.bench.count.static import count_static
from stbench.zoo import create_model
from stbench.zoo.papers import cite_papers
from stbench.zoo.targets import UNITS, Target

from stbench.output import Column, Table

STATUSES = ("met", "recorded", "deviating", "error")
STYLES = {"met": "green", "recorded": "yellow", "deviating": "red", "error": "red"}


@dataclass(frozen=True)
class ReportRow:
    """One line of the reproduction report: the target (`FROM_TARGET`, the published figure
    as shown and as a count) and the zoo's count against it."""

    paper: str
    model: str
    frames: int
    size: int
    classes: int
    quantity: str
    convention: str
    unit: str
    published: str
    published_count: float
    zoo_count: int | None
    zoo: str
    deviation_pct: float | None
    tolerance_pct: float
    status: str
    reason: str
    source: str


@functools.cache
def model_counts(model: str, frames: int, size: int, classes: int) -> StaticCount:
    """Params and MACs of a zoo model built on meta, for one (1, 3, frames, size, size) clip."""
    c = count_static(ProfileConfig(model, frames, size, num_classes=classes))
    return dataclasses.replace(c, records=[])  # the cache keeps the counts, not every op


# The conv slot the `block_conv_weights` convention measures: the 3x3 slot (64 -> 64
# channels) of the first bottleneck of the zoo's video ResNet-50.
BLOCK_SLOT = "stages.0.0.conv2"


@functools.cache
def block_conv_weights(model: str, slot: str = BLOCK_SLOT) -> int:
    """Conv weights (no bias/BN) of one operator slot of the zoo model, built on meta."""

    with torch.device("meta"):
        net = create_model(model)
    try:
        block = net.get_submodule(slot)
    except AttributeError:
        raise ValueError(f"model: {model!r} has no block {slot!r} to measure") from None
    return sum(p.numel() for p in block.parameters() if p.dim() > 1)


def measure(target: Target) -> int:
    """The zoo's value for a target, as an exact count under the target's convention."""
    if target.convention == "block_conv_weights":
        return block_conv_weights(target.model)
    c = model_counts(target.model, target.frames, target.size, target.classes)
    if target.convention == "all_params_with_fc":
        return c.params
    if target.convention == "conv_macs_no_fc":
        return c.conv_macs
    if target.convention == "paper_flops_as_macs":
        return c.macs
    if target.convention == "fvcore_flops_as_total_macs":
        return c.total_macs
    raise ValueError(f"convention: no measurement for {target.convention!r}")


def deviation_pct(zoo_count: float, published_count: float) -> float:
    """Signed deviation of the zoo from the published figure, in percent."""
    return (zoo_count - published_count) / published_count * 100.0


def _fmt_value(count: float, unit: str) -> str:
    """Format a count in a target's unit (formulas and counts as exact integers)."""
    if unit in ("count", "formula"):
        return f"{round(count):d}"
    return f"{count / UNITS[unit]:.4g}"


# the report fields a row takes from its target unchanged
FROM_TARGET = "paper model frames size classes quantity convention unit tolerance_pct".split()


def judge(target: Target, zoo_count: int, published: float) -> tuple[str, str]:
    """The status of a zoo count against a target's published figure, and its reason."""
    note = target.deviation_note
    if abs(deviation_pct(zoo_count, published)) <= target.tolerance_pct + 1e-9:
        return "met", note
    if note and target.recorded_measurement == zoo_count:
        return "recorded", note
    if note:
        return "deviating", f"measured {zoo_count} differs from the recorded note: {note}"
    return "deviating", "no recorded reason"


def evaluate(target: Target, zoo_count: int | None, error: str = "") -> ReportRow:
    """Compare one target with a measured zoo count (None + error when measuring failed)."""
    published = target.expected_count()
    row = {f: getattr(target, f) for f in FROM_TARGET}
    row.update(published=f"{target.value}", published_count=published, zoo_count=zoo_count)
    if zoo_count is None:
        row.update(zoo="", deviation_pct=None, status="error", reason=error or "not measured")
    else:
        status, reason = judge(target, zoo_count, published)
        row.update(zoo=_fmt_value(zoo_count, target.unit), status=status, reason=reason)
        row.update(deviation_pct=deviation_pct(zoo_count, published))
        if target.unit == "formula":
            row["published"] += f" = {_fmt_value(published, 'formula')}"
    return ReportRow(**row, source=cite_papers(target.source))


def reproduce(
    targets: Iterable[Target],
    measure_fn: Callable[[Target], int] = measure,
) -> list[ReportRow]:
    """Measure every target (errors become `error` rows) and return the report rows."""
    rows = []
    for t in targets:
        try:
            rows.append(evaluate(t, measure_fn(t)))
        except Exception as exc:  # noqa: BLE001 - a model that fails to build is a report row
            msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            rows.append(evaluate(t, None, f"{type(exc).__name__}: {msg}"))
    return rows


REPORT_COLUMNS = (
    "paper",
    "model",
    "frames",
    "size",
    "classes",
    "quantity",
    "convention",
    "published",
    "zoo",
    "unit",
    "deviation_pct",
    "tolerance_pct",
    "status",
    "reason",
    "source",
)


def summary(rows: list[ReportRow]) -> dict[str, int]:
    """Number of rows per status."""
    return {s: sum(r.status == s for r in rows) for s in STATUSES}


def _deviation(row: dict) -> str:
    v = row["deviation_pct"]
    return "" if v is None else f"{v:+.3f}"


def report_table(rows: list[ReportRow]) -> Table:
    """The report as one Table (rendered by stbench.output): people see deviation and
    tolerance in %, rows coloured by status; CSV/JSON carry every field, numbers numeric."""
    special = {
        "deviation_pct": Column("deviation_pct", "deviation (%)", get=_deviation, justify="right"),
        "tolerance_pct": Column("tolerance_pct", "tolerance (%)"),
    }
    shown = [special.get(c, Column(c)) for c in REPORT_COLUMNS if c != "convention"]
    counts = ", ".join(f"{k}: {v}" for k, v in summary(rows).items())
    return Table(
        [dataclasses.asdict(r) for r in rows],
        shown,
        title=f"stbench reproduction: {len(rows)} published figures ({counts})",
        styles=[STYLES[r.status] for r in rows],
        first=REPORT_COLUMNS,
    )
