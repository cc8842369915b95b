"""What an architecture plan builds, in words: the display fields of the zoo come from here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from stbench.models.operators import OpSpec, get_operator
from torch import nn


@dataclass(frozen=True)
class ArchSummary:
    """Stem, per-slot operators and temporal down-sampling of a plan, plus its slot specs.

    `operators` labels each k x k slot by its operator name, with ``+name`` for an attached
    temporal module; `slots` maps slot names to their operator specs; `temporal_pool` says
    where T is halved (None: nowhere).
    """

    stem: str
    operators: tuple[str, ...]
    temporal_pool: str | None
    slots: tuple[tuple[str, OpSpec], ...]

    def operator_arg(self, operator: str, arg: str) -> Any:
        """The value of `arg` shared by every slot holding `operator`; None if none or mixed."""
        values = [get_operator(s.name).resolve(s)[arg] for _, s in self.slots if s.name == operator]
        return values[0] if values and all(v == values[0] for v in values) else None

    @property
    def transition(self) -> str | None:
        """The slot where the operator changes, when it changes exactly once."""
        changes = [
            where
            for (_, a), (where, b) in zip(self.slots, self.slots[1:], strict=False)
            if a.name != b.name
        ]
        return changes[0] if len(changes) == 1 else None


class Plan(Protocol):
    """An architecture: built into a module, summarised for display."""

    def build(self, num_classes: int, frames: int) -> nn.Module:
        """The module for `num_classes` classes and clips of `frames` frames."""

    def summary(self) -> ArchSummary:
        """The plan in words."""


def span(indices: Sequence[int]) -> str:
    """1-based stage numbers in words: "stage 2", "stages 2-4", "stages 1, 3"."""
    nums = [i + 1 for i in indices]
    if len(nums) == 1:
        return f"stage {nums[0]}"
    if nums == list(range(nums[0], nums[-1] + 1)):
        return f"stages {nums[0]}-{nums[-1]}"
    return "stages " + ", ".join(map(str, nums))


def join_places(items: Sequence[tuple[str, str]]) -> str | None:
    """("what", "where") pairs as "what in a, b; other in c", grouping equal whats in order."""
    groups: dict[str, list[str]] = {}
    for what, where in items:
        groups.setdefault(what, []).append(where)
    return "; ".join(f"{what} in {', '.join(wh)}" for what, wh in groups.items()) or None
