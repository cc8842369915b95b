"""Input and argument checks shared by every backbone: one place for the ValueError wording."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, TypeVar

import torch

P = TypeVar("P")


class ArgumentError(ValueError):
    """A bad argument, worded `name: got X; allowed: Y`; `at` says where it was given."""

    def __init__(self, name: str, value: Any, allowed: str, detail: str = "") -> None:
        super().__init__(f"{name}: got {value!r}{detail}; allowed: {allowed}")
        self.name, self.value, self.allowed, self.detail = name, value, allowed, detail

    def at(self, where: str) -> ArgumentError:
        """The same error, saying where the argument was given (e.g. "for operator 'gst'")."""
        return ArgumentError(self.name, self.value, self.allowed, f"{self.detail} {where}")


def plan_from_options(
    plan: type[P], fn: str, options: dict[str, Any], fixed: Iterable[str] = ()
) -> P:
    """The dataclass `plan` built from the keyword `options` of plan function `fn`: every
    field but the `fixed` ones is an option, defaulting to the field's default."""
    fixed = set(fixed)
    allowed = [f.name for f in dataclasses.fields(plan) if f.name not in fixed]  # type: ignore[arg-type]
    for name, value in options.items():
        if name not in allowed:
            raise ArgumentError(name, value, f"an option of {fn} ({', '.join(allowed)})")
    return plan(**options)


def check_choice(name: str, value: Any, allowed: Iterable[Any]) -> None:
    """Raise ArgumentError unless `value` is one of `allowed`."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ArgumentError(name, value, ", ".join(repr(a) for a in allowed))


def check_input(x: torch.Tensor, frames: int, min_size: int, name: str = "x") -> None:
    """Raise ValueError unless `x` is (B, 3, frames, H, W) with H, W >= min_size."""
    if x.dim() != 5:
        raise ValueError(
            f"{name}: got a tensor of rank {x.dim()} with shape {tuple(x.shape)}; "
            "allowed: rank 5, (B, 3, T, H, W)"
        )
    _, c, t, h, w = x.shape
    if c != 3:
        raise ValueError(f"{name}: got {c} channels (shape {tuple(x.shape)}); allowed: 3 (RGB)")
    if t != frames:
        raise ValueError(
            f"{name}: got T={t} frames (shape {tuple(x.shape)}); allowed: T == frames == {frames}, "
            "the value the model was built with"
        )
    if h < min_size or w < min_size:
        raise ValueError(
            f"{name}: got spatial size {h}x{w}; allowed: H and W >= {min_size} for this model's strides"
        )


def check_min_frames(frames: int, min_frames: int, why: str) -> None:
    """Raise ValueError when `frames` is below what the model's temporal striding needs."""
    if frames < min_frames:
        raise ValueError(f"frames: got {frames}; allowed: >= {min_frames} ({why})")


def check_divisible(name: str, value: int, divisor: int, why: str) -> None:
    """Raise ValueError unless `divisor` divides `value`."""
    if divisor <= 0 or value % divisor != 0:
        raise ValueError(f"{name}: got {value}; allowed: a multiple of {divisor} ({why})")


def check_positive_int(name: str, value: Any, what: str) -> None:
    """Raise ArgumentError unless `value` is an int >= 1 (bools are not ints here)."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ArgumentError(name, value, f"a positive integer ({what})")
