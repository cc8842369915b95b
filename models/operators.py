"""Spatio-temporal operators: drop-in replacements for a backbone's k x k convolution.

Every operator maps a 5-D tensor ``(B, C, T, H, W)`` to ``(B, C', T', H', W')``. An
operator is the *convolution part only* (no trailing BatchNorm/ReLU), as in
torchvision's video ResNet conv builders, so a backbone block reads
``conv -> bn -> relu`` whatever sits in the conv slot. Operators are looked up by name
with :func:`make_operator`; adding a design means adding one entry to ``OPERATORS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

OperatorFactory = Callable[..., nn.Module]
OPERATORS: dict[str, OperatorFactory] = {}


def register_operator(name: str) -> Callable[[OperatorFactory], OperatorFactory]:
    """Decorator: register an operator factory under `name`."""

    def deco(fn: OperatorFactory) -> OperatorFactory:
        if name in OPERATORS:
            raise ValueError(f"operator {name!r} registered twice")
        OPERATORS[name] = fn
        return fn

    return deco


def make_operator(
    name: str,
    in_channels: int,
    out_channels: int,
    kernel_size: int = 3,
    stride: int = 1,
    temporal_stride: int = 1,
    **kwargs: Any,
) -> nn.Module:
    """Build the operator `name` for one conv slot of a backbone."""
    try:
        factory = OPERATORS[name]
    except KeyError:
        raise ValueError(
            f"operator: unknown operator {name!r}; allowed: {', '.join(sorted(OPERATORS))}"
        ) from None
    return factory(
        in_channels,
        out_channels,
        kernel_size=kernel_size,
        stride=stride,
        temporal_stride=temporal_stride,
        **kwargs,
    )


class Conv2dPerFrame(nn.Module):
    """A 2-D convolution applied to every frame: folds T into the batch."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.conv = conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        y = self.conv(x.transpose(1, 2).reshape(b * t, c, h, w))
        return y.reshape(b, t, *y.shape[1:]).transpose(1, 2)


@register_operator("2d")
def conv2d_operator(
    in_channels: int,
    out_channels: int,
    kernel_size: int = 3,
    stride: int = 1,
    temporal_stride: int = 1,
    groups: int = 1,
    bias: bool = False,
) -> nn.Module:
    """Per-frame k x k convolution (no temporal extent); temporal stride must be 1."""
    if temporal_stride != 1:
        raise ValueError(f"temporal_stride: got {temporal_stride}; the 2d operator allows only 1")
    conv = nn.Conv2d(
        in_channels, out_channels, kernel_size, stride, kernel_size // 2, groups=groups, bias=bias
    )
    return Conv2dPerFrame(conv)


@register_operator("3d")
def conv3d_operator(
    in_channels: int,
    out_channels: int,
    kernel_size: int = 3,
    stride: int = 1,
    temporal_stride: int = 1,
    temporal_kernel: int = 3,
    groups: int = 1,
    bias: bool = False,
) -> nn.Module:
    """Full (inflated) t x k x k convolution."""
    return nn.Conv3d(
        in_channels,
        out_channels,
        (temporal_kernel, kernel_size, kernel_size),
        (temporal_stride, stride, stride),
        (temporal_kernel // 2, kernel_size // 2, kernel_size // 2),
        groups=groups,
        bias=bias,
    )
