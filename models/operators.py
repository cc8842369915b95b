"""Spatio-temporal operators: drop-in replacements for a backbone's k x k convolution.

Every operator maps a 5-D tensor ``(B, C, T, H, W)`` to ``(B, C', T', H', W')``. An
operator is the *convolution part only* (no trailing BatchNorm/ReLU), as in
torchvision's video ResNet conv builders, so a backbone block reads
``conv -> bn -> relu`` whatever sits in the conv slot.

A skeleton's conv slot holds an :class:`OpSpec`: an operator name plus that operator's own
arguments. Each registered :class:`Operator` declares those arguments (with defaults), its
stride rule (whether it accepts a temporal stride) and how a skeleton lays it out (whether
the skeleton's BatchNorm follows it, which 1x1 conv accompanies it). Skeletons ask the
operator; they never branch on its name. The operators themselves live in
``stbench.models.convs``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from stbench.models.registry import Registry
from stbench.models.validation import ArgumentError
from torch import nn


@dataclass(frozen=True)
class Slot:
    """Where an operator sits: channels, spatial kernel, strides and the skeleton's BN eps."""

    in_channels: int
    out_channels: int
    kernel_size: int = 3
    stride: int = 1
    temporal_stride: int = 1
    norm_eps: float = 1e-5


@dataclass(frozen=True)
class OpSpec:
    """What one conv slot holds: an operator name plus that operator's own arguments."""

    name: str
    args: tuple[tuple[str, Any], ...] = ()

    @property
    def kwargs(self) -> dict[str, Any]:
        """The arguments given (not the operator's defaults) as a dict."""
        return dict(self.args)

    def with_args(self, **args: Any) -> OpSpec:
        """This spec with `args` set (replacing given values of the same name)."""
        return op(self.name, **{**self.kwargs, **args})

    def __str__(self) -> str:
        if not self.args:
            return self.name
        return f"{self.name}({', '.join(f'{k}={v!r}' for k, v in self.args)})"


def op(name: str, **args: Any) -> OpSpec:
    """An operator spec, e.g. ``op("gst", alpha=0.25, beta=0.5)``; checked where it is used."""
    return OpSpec(name, tuple(sorted(args.items())))


def as_op(spec: str | OpSpec) -> OpSpec:
    """An OpSpec from an operator name or an OpSpec."""
    if isinstance(spec, OpSpec):
        return spec
    if isinstance(spec, str):
        return OpSpec(spec)
    raise ArgumentError("operator", spec, "an operator name or an OpSpec (stbench.models.op)")


Pointwise = Callable[["Operator", OpSpec, bool], OpSpec]


def default_pointwise(operator: Operator, spec: OpSpec, branch: bool) -> OpSpec:
    """The 1x1 conv beside an operator: a 1x1x1 Conv3d if it is temporal, else itself."""
    return op("3d", temporal_kernel=1) if operator.temporal_kernel(spec) > 1 else spec


@dataclass(frozen=True)
class Operator:
    """A registered operator: factory, own arguments with defaults, stride and layout rules.

    `layout` holds arguments that shape what a skeleton puts around the operator rather than
    the operator's module; `norm_after` and `pointwise` read them.
    """

    name: str
    factory: Callable[..., nn.Module]
    defaults: Mapping[str, Any]
    temporal_stride: bool
    layout: Mapping[str, Any] = field(default_factory=dict)
    norm_after_rule: Callable[[Mapping[str, Any]], bool] | None = None
    pointwise_rule: Pointwise = default_pointwise

    def resolve(self, spec: OpSpec) -> dict[str, Any]:
        """Every argument of `spec`, defaults filled in."""
        return {**self.defaults, **spec.kwargs}

    def temporal_kernel(self, spec: OpSpec) -> int:
        """The operator's temporal extent (1 for operators without a temporal kernel)."""
        return int(self.resolve(spec).get("temporal_kernel", 1))

    def norm_after(self, spec: OpSpec) -> bool:
        """Whether the skeleton's BatchNorm follows this operator."""
        return self.norm_after_rule is None or self.norm_after_rule(self.resolve(spec))

    def pointwise(self, spec: OpSpec, branch: bool) -> OpSpec:
        """The 1x1 conv beside this operator in a block; `branch`: a branch's only conv."""
        return self.pointwise_rule(self, spec, branch)

    def check(self, spec: OpSpec) -> None:
        """Raise ArgumentError for an argument this operator does not take."""
        for key, value in spec.args:
            if key not in self.defaults:
                taken = ", ".join(sorted(self.defaults)) or "none"
                raise ArgumentError(key, value, f"the arguments of {self.name!r}: {taken}")


OPERATORS: Registry[Operator] = Registry("operator")


def register_operator(
    name: str,
    *,
    temporal_stride: bool,
    layout: Mapping[str, Any] | None = None,
    norm_after: Callable[[Mapping[str, Any]], bool] | None = None,
    pointwise: Pointwise | None = None,
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    """Decorator: register `factory(slot, **own_args)` as operator `name`.

    The factory's keyword parameters after `slot` are the operator's own arguments;
    `temporal_stride` is its stride rule (False: a temporal stride other than 1 is refused).
    """

    def deco(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        params = list(inspect.signature(factory).parameters.values())[1:]
        defaults = {p.name: p.default for p in params} | dict(layout or {})
        rules: dict[str, Any] = {"norm_after_rule": norm_after}
        if pointwise is not None:
            rules["pointwise_rule"] = pointwise
        OPERATORS.add(
            name, Operator(name, factory, defaults, temporal_stride, dict(layout or {}), **rules)
        )
        return factory

    return deco


def get_operator(name: str) -> Operator:
    """The registered operator `name` (ArgumentError naming the known ones otherwise)."""
    return OPERATORS[name]


def checked(spec: str | OpSpec, where: str = "") -> OpSpec:
    """`spec` as an OpSpec whose operator exists and takes every argument given."""
    spec = as_op(spec)
    _lookup(spec, where)
    return spec


def _lookup(spec: OpSpec, where: str) -> Operator:
    """The operator of `spec` after checking its arguments; errors say where it sits."""
    try:
        operator = get_operator(spec.name)
    except ArgumentError as exc:
        raise exc.at(f"in {where}") if where else exc from None
    try:
        operator.check(spec)
    except ArgumentError as exc:
        raise exc.at(_where(spec.name, where)) from None
    return operator


def _where(name: str, where: str) -> str:
    return f"for operator {name!r}" + (f" in {where}" if where else "")


def make_operator(
    spec: str | OpSpec,
    in_channels: int,
    out_channels: int,
    kernel_size: int = 3,
    stride: int = 1,
    temporal_stride: int = 1,
    *,
    where: str = "",
    norm_eps: float = 1e-5,
    **args: Any,
) -> nn.Module:
    """Build the operator of `spec` (plus `args`) for one conv slot; `where` names the slot."""
    spec = as_op(spec).with_args(**args) if args else as_op(spec)
    operator = _lookup(spec, where)
    try:
        if temporal_stride != 1 and not operator.temporal_stride:
            raise ArgumentError("temporal_stride", temporal_stride, "1 (no temporal stride)")
        slot = Slot(in_channels, out_channels, kernel_size, stride, temporal_stride, norm_eps)
        own = {k: v for k, v in operator.resolve(spec).items() if k not in operator.layout}
        return operator.factory(slot, **own)
    except ArgumentError as exc:
        raise exc.at(_where(spec.name, where)) from None


def route_args(
    slots: Mapping[str, OpSpec], args: Mapping[str, Any], owner: Callable[..., Any]
) -> dict[str, OpSpec]:
    """Give each argument in `args` to every slot whose operator takes it.

    An argument no slot's operator takes is an ArgumentError naming `owner`'s options and the
    arguments of the model's operators.
    """
    out = dict(slots)
    for key, value in args.items():
        takers = [w for w, s in out.items() if key in get_operator(s.name).defaults]
        if not takers:
            raise ArgumentError(key, value, _allowed_overrides(owner, out.values()))
        for w in takers:
            out[w] = out[w].with_args(**{key: value})
    return out


def _allowed_overrides(owner: Callable[..., Any], specs: Iterable[OpSpec]) -> str:
    options = [
        p.name
        for p in inspect.signature(owner).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    ops = sorted({s.name for s in specs})
    taken = "; ".join(f"{n}: {', '.join(sorted(get_operator(n).defaults)) or 'none'}" for n in ops)
    return f"an option of {owner.__name__} ({', '.join(options)}) or an argument of its operators ({taken})"
