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


def _check_groups(groups: int, in_channels: int, out_channels: int) -> None:
    if groups < 1 or in_channels % groups or out_channels % groups:
        raise ValueError(
            f"groups: got {groups}; allowed: a positive divisor of both in_channels "
            f"({in_channels}) and out_channels ({out_channels})"
        )


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
    _check_groups(groups, in_channels, out_channels)
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
    """Full (inflated) t x k x k convolution; `groups` gives C3D with groups (Luo & Yuille)."""
    _check_groups(groups, in_channels, out_channels)
    return nn.Conv3d(
        in_channels,
        out_channels,
        (temporal_kernel, kernel_size, kernel_size),
        (temporal_stride, stride, stride),
        (temporal_kernel // 2, kernel_size // 2, kernel_size // 2),
        groups=groups,
        bias=bias,
    )


def r2plus1d_mid_channels(in_channels: int, out_channels: int, t: int = 3, d: int = 3) -> int:
    """Tran et al. Sec. 3.5: M_i = floor(t d^2 N_{i-1} N_i / (d^2 N_{i-1} + t N_i))."""
    return (t * d * d * in_channels * out_channels) // (d * d * in_channels + t * out_channels)


class SpatialThenTemporal(nn.Module):
    """A 1 x k x k spatial conv followed by a t x 1 x 1 temporal conv (optional BN+ReLU between)."""

    def __init__(
        self,
        in_channels: int,
        mid_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int,
        temporal_stride: int,
        temporal_kernel: int = 3,
        mid_norm: bool = True,
    ) -> None:
        super().__init__()
        k, t = kernel_size, temporal_kernel
        self.spatial = nn.Conv3d(
            in_channels,
            mid_channels,
            (1, k, k),
            (1, stride, stride),
            (0, k // 2, k // 2),
            bias=False,
        )
        self.mid = (
            nn.Sequential(nn.BatchNorm3d(mid_channels), nn.ReLU(inplace=True))
            if mid_norm
            else nn.Identity()
        )
        self.temporal = nn.Conv3d(
            mid_channels,
            out_channels,
            (t, 1, 1),
            (temporal_stride, 1, 1),
            (t // 2, 0, 0),
            bias=False,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.temporal(self.mid(self.spatial(x)))


@register_operator("r2plus1d")
def r2plus1d_operator(
    in_channels: int,
    out_channels: int,
    kernel_size: int = 3,
    stride: int = 1,
    temporal_stride: int = 1,
    temporal_kernel: int = 3,
    mid_channels: int | None = None,
) -> nn.Module:
    """(2+1)D block of Tran et al.: M_i spatial filters, BN+ReLU, N_i temporal filters."""
    if mid_channels is None:
        mid_channels = r2plus1d_mid_channels(
            in_channels, out_channels, temporal_kernel, kernel_size
        )
    return SpatialThenTemporal(
        in_channels,
        mid_channels,
        out_channels,
        kernel_size,
        stride,
        temporal_stride,
        temporal_kernel,
    )


@register_operator("sep3d")
def sep3d_operator(
    in_channels: int,
    out_channels: int,
    kernel_size: int = 3,
    stride: int = 1,
    temporal_stride: int = 1,
    temporal_kernel: int = 3,
) -> nn.Module:
    """Separable 3D of Chen et al. S3D-ResNet: 1xkxk -> BN+ReLU -> kx1x1, no channel expansion."""
    return SpatialThenTemporal(
        in_channels,
        out_channels,
        out_channels,
        kernel_size,
        stride,
        temporal_stride,
        temporal_kernel,
    )


@register_operator("p3d")
def p3d_operator(
    in_channels: int,
    out_channels: int,
    kernel_size: int = 3,
    stride: int = 1,
    temporal_stride: int = 1,
    temporal_kernel: int = 3,
) -> nn.Module:
    """P3D cascade as Luo & Yuille Eq. (1), w = w_t x w_s: 1xkxk then tx1x1, nothing between."""
    return SpatialThenTemporal(
        in_channels,
        out_channels,
        out_channels,
        kernel_size,
        stride,
        temporal_stride,
        temporal_kernel,
        mid_norm=False,
    )


def _fraction_check(name: str, value: float, allowed: str, ok: bool) -> None:
    if not ok:
        raise ValueError(f"{name}: got {value!r}; allowed: {allowed}")


class GroupedSpatialTemporal(nn.Module):
    """GST (Luo & Yuille Sec. 3): a 2D path and a 3D path in parallel, outputs concatenated.

    The spatial path reads the first `in_s` input channels and writes (1 - alpha) C_o; the
    temporal path reads the last `in_t` channels and writes alpha C_o (beta = 1: both read all).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        alpha: float,
        beta: float,
        kernel_size: int = 3,
        stride: int = 1,
        temporal_kernel: int = 3,
    ) -> None:
        super().__init__()
        _fraction_check(
            "alpha",
            alpha,
            "a fraction 0 < alpha < 1 (e.g. 1/2, 1/4, 1/8)",
            isinstance(alpha, (int, float)) and 0 < alpha < 1,
        )
        _fraction_check("beta", beta, "1 (GST-Large) or 1/2 (GST)", beta in (1, 0.5))
        out_t = alpha * out_channels
        if abs(out_t - round(out_t)) > 1e-9 or round(out_t) == 0:
            raise ValueError(
                f"alpha: got {alpha!r}; alpha * out_channels = {alpha} * {out_channels} must be a "
                "positive integer (the temporal share of the output channels)"
            )
        out_t = round(out_t)
        if beta == 0.5 and in_channels % 2:
            raise ValueError(
                f"beta: got 0.5 with {in_channels} input channels; allowed: an even channel count"
            )
        self.in_split = in_channels if beta == 1 else in_channels // 2
        self.beta = beta
        k, t = kernel_size, temporal_kernel
        self.spatial = nn.Conv3d(
            self.in_split,
            out_channels - out_t,
            (1, k, k),
            (1, stride, stride),
            (0, k // 2, k // 2),
            bias=False,
        )
        self.temporal = nn.Conv3d(
            self.in_split,
            out_t,
            (t, k, k),
            (1, stride, stride),
            (t // 2, k // 2, k // 2),
            bias=False,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.beta == 1:
            xs = xt = x
        else:
            xs, xt = x[:, : self.in_split], x[:, self.in_split :]
        return torch.cat([self.spatial(xs), self.temporal(xt)], dim=1)


@register_operator("gst")
def gst_operator(
    in_channels: int,
    out_channels: int,
    kernel_size: int = 3,
    stride: int = 1,
    temporal_stride: int = 1,
    alpha: float = 0.25,
    beta: float = 0.5,
    temporal_kernel: int = 3,
) -> nn.Module:
    """Grouped spatial-temporal aggregation with temporal share alpha and input split beta."""
    if temporal_stride != 1:
        raise ValueError(f"temporal_stride: got {temporal_stride}; the gst operator allows only 1")
    return GroupedSpatialTemporal(
        in_channels, out_channels, alpha, beta, kernel_size, stride, temporal_kernel
    )
