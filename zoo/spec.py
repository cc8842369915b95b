"""A zoo spec as data: `ModelSpec` (one named variant, its plan and citation) and the
specs each `specs_*.py` table declares (`declare`). The registry (`registry`) registers
the declared specs on its first lookup; this module imports nothing from the registry, so
the tables sit below it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from stbench.models.summary import ArchSummary, Plan
from stbench.zoo.usercode import check_module, user_code
from torch import nn

DECLARED: list[ModelSpec] = []  # every spec a `specs_*.py` table declared, in order
CURVE_ROLES = ("", "curve", "mark")  # `ModelSpec.curve`: off the curves, on one, marked


@dataclass(frozen=True)
class ModelSpec:
    """Everything the zoo knows about one named model variant.

    `plan(**kwargs)` is the architecture (a ``stbench.models`` plan); the display fields
    `operators`, `stem`, `temporal_pool`, `gst_alpha`, `gst_beta` and `transition` are read
    from it, never written by hand.
    """

    name: str
    family: str
    paper: str
    backbone: str
    plan: Callable[..., Plan]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    default_frames: int = 8
    default_size: int = 224
    default_classes: int = 400
    citation: str = ""
    description: str = ""
    # the dashboard's paper views that show this model (`plots.views`: "xie", "tran", "gst")
    views: tuple[str, ...] = ()
    # its place on the cost curves of the "xie" view (`plots.curves`): "curve" (a point of
    # its family's curve over the transition points) or "mark" (a reference, marked by family)
    curve: str = ""

    def __post_init__(self) -> None:
        if self.curve not in CURVE_ROLES:
            raise ValueError(
                f"curve: got {self.curve!r}; allowed: {', '.join(map(repr, CURVE_ROLES))}"
            )
        # The form before plans, ModelSpec(name, family, paper, backbone, operators, builder),
        # still works: a model built by any `builder(num_classes=, frames=, **kwargs)`.
        if not callable(self.plan) and callable(self.kwargs):
            plan = functools.partial(builder_plan, self.kwargs, tuple(self.plan))
            object.__setattr__(self, "plan", plan)
            object.__setattr__(self, "kwargs", {})

    @cached_property
    def architecture(self) -> Plan:
        """The plan this spec builds (its kwargs, no overrides)."""
        return self.plan(**self.kwargs)

    @cached_property
    def summary(self) -> ArchSummary:
        """The architecture in words."""
        return self.architecture.summary()

    @property
    def operators(self) -> tuple[str, ...]:
        """Operator of each k x k slot (ResNet stages, InceptionV1 conv_2c and blocks)."""
        return self.summary.operators

    @property
    def stem(self) -> str:
        """The stem's operator (with its own arguments)."""
        return self.summary.stem

    @property
    def temporal_pool(self) -> str | None:
        """Where the architecture halves T (temporal pooling or striding); None: nowhere."""
        return self.summary.temporal_pool

    @property
    def gst_alpha(self) -> float | None:
        """GST's temporal share of the output channels (Luo & Yuille), None without GST."""
        return self.summary.operator_arg("gst", "alpha")

    @property
    def gst_beta(self) -> float | None:
        """GST's input split (1: GST-Large, 1/2: GST), None without GST."""
        return self.summary.operator_arg("gst", "beta")

    @property
    def transition(self) -> str | None:
        """The slot where the operator changes once (top-/bottom-heavy, MCx), else None."""
        return self.summary.transition

    def build(self, num_classes: int, frames: int, **overrides: Any) -> nn.Module:
        """Instantiate the module with the spec's kwargs updated by `overrides`."""
        plan = self.plan(**{**self.kwargs, **overrides}) if overrides else self.architecture
        return plan.build(num_classes, frames)


@dataclass(frozen=True)
class BuilderPlan:
    """A plan for a model from outside ``stbench.models``: `builder` makes the module, the
    display fields are given (nothing to derive them from)."""

    builder: Callable[..., nn.Module]
    operators: tuple[str, ...]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    stem: str = ""
    name: str = ""  # a user's model: the builder runs in the box (`zoo.usercode`)

    def build(self, num_classes: int, frames: int) -> nn.Module:
        """The builder's module (a user's builder boxed, its result checked)."""
        if not self.name:
            return self.builder(num_classes=num_classes, frames=frames, **self.kwargs)
        who = f"model {self.name}"
        with user_code(who, "builder"):
            module = self.builder(num_classes=num_classes, frames=frames, **self.kwargs)
        return check_module(module, who)

    def summary(self) -> ArchSummary:
        """The given operators; no temporal pooling or slots are known."""
        return ArchSummary(self.stem, self.operators, None, ())


def builder_plan(
    builder: Callable[..., nn.Module], operators: tuple[str, ...], stem: str = "", **kwargs: Any
) -> BuilderPlan:
    """`ModelSpec.plan` for a model made by `builder`; `kwargs` (and overrides) go to it."""
    return BuilderPlan(builder, operators, kwargs, stem)


def user_plan(
    name: str, builder: Callable[..., nn.Module], operators: tuple[str, ...], **kwargs: Any
) -> BuilderPlan:
    """`ModelSpec.plan` of a user's model `name`: its builder runs in the box."""
    return BuilderPlan(builder, operators, kwargs, name=name)


def declare(spec: ModelSpec) -> ModelSpec:
    """Declare one zoo spec (a `specs_*.py` row); the registry registers it on first lookup."""
    DECLARED.append(spec)
    return spec
