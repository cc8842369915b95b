"""The built-in operators: 2d, 3d, r2plus1d, sep3d, p3d and gst (see ``operators.py``).

Each factory takes the :class:`~stbench.models.operators.Slot` it fills plus its own
arguments, validates them, and returns the convolution part of the slot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from stbench.models.operators import (
    Operator,
    OpSpec,
    Slot,
    default_pointwise,
    register_operator,
)
from stbench.models.validation import ArgumentError
from torch import nn


def conv3d(
    in_channels: int,
    out_channels: int,
    kernel: tuple[int, int, int],
    stride: tuple[int, int, int] = (1, 1, 1),
    *,
    groups: int = 1,
    bias: bool = False,
) -> nn.Conv3d:
    """A Conv3d with 'same' padding (kernel // 2 along each axis)."""
    padding = tuple(k // 2 for k in kernel)
    return nn.Conv3d(in_channels, out_channels, kernel, stride, padding, groups=groups, bias=bias)


class Conv2dPerFrame(nn.Module):
    """A 2-D convolution applied to every frame.

    On the folded layout (B*T, C, 1, H, W) of a frame-wise stage (``layout.py``) it is one
    Conv2d on a view; on (B, C, T, H, W) it folds T into the batch and back.
    """

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        self.conv = conv

    def runs_per_frame(self) -> bool:
        """Always frame-wise."""
        return True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        if t == 1:
            return self.conv(x.squeeze(2)).unsqueeze(2)
        y = self.conv(x.transpose(1, 2).reshape(b * t, c, h, w))
        return y.reshape(b, t, *y.shape[1:]).transpose(1, 2)


def _check_groups(groups: int, slot: Slot) -> None:
    if groups < 1 or slot.in_channels % groups or slot.out_channels % groups:
        raise ArgumentError(
            "groups",
            groups,
            f"a positive divisor of both in_channels ({slot.in_channels}) and out_channels "
            f"({slot.out_channels})",
        )


def _check_temporal_kernel(t: int) -> None:
    if not isinstance(t, int) or isinstance(t, bool) or t < 1 or t % 2 == 0:
        raise ArgumentError("temporal_kernel", t, "a positive odd integer ('same' padding)")


@register_operator("2d", temporal_stride=False)
def conv2d_operator(slot: Slot, groups: int = 1, bias: bool = False) -> nn.Module:
    """Per-frame k x k convolution (no temporal extent, so no temporal stride)."""
    _check_groups(groups, slot)
    k = slot.kernel_size
    conv = nn.Conv2d(
        slot.in_channels, slot.out_channels, k, slot.stride, k // 2, groups=groups, bias=bias
    )
    return Conv2dPerFrame(conv)


@register_operator("3d", temporal_stride=True)
def conv3d_operator(
    slot: Slot, temporal_kernel: int = 3, groups: int = 1, bias: bool = False
) -> nn.Module:
    """Full (inflated) t x k x k convolution; `groups` gives C3D with groups (Luo & Yuille)."""
    _check_groups(groups, slot)
    _check_temporal_kernel(temporal_kernel)
    k, s = slot.kernel_size, slot.stride
    return conv3d(
        slot.in_channels,
        slot.out_channels,
        (temporal_kernel, k, k),
        (slot.temporal_stride, s, s),
        groups=groups,
        bias=bias,
    )


def r2plus1d_mid_channels(in_channels: int, out_channels: int, t: int = 3, d: int = 3) -> int:
    """Tran et al. Sec. 3.5: M_i = floor(t d^2 N_{i-1} N_i / (d^2 N_{i-1} + t N_i))."""
    return (t * d * d * in_channels * out_channels) // (d * d * in_channels + t * out_channels)


class SpatialThenTemporal(nn.Module):
    """A 1 x k x k spatial conv, optional BN+ReLU, then a t x 1 x 1 temporal conv."""

    def __init__(
        self,
        slot: Slot,
        mid_channels: int,
        temporal_kernel: int,
        mid_norm: bool = True,
        temporal_bias: bool = False,
    ) -> None:
        super().__init__()
        _check_temporal_kernel(temporal_kernel)
        k, s = slot.kernel_size, slot.stride
        self.spatial = conv3d(slot.in_channels, mid_channels, (1, k, k), (1, s, s))
        self.mid = (
            nn.Sequential(nn.BatchNorm3d(mid_channels, eps=slot.norm_eps), nn.ReLU(inplace=True))
            if mid_norm
            else nn.Identity()
        )
        self.temporal = conv3d(
            mid_channels,
            slot.out_channels,
            (temporal_kernel, 1, 1),
            (slot.temporal_stride, 1, 1),
            bias=temporal_bias,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.temporal(self.mid(self.spatial(x)))


@register_operator("r2plus1d", temporal_stride=True)
def r2plus1d_operator(
    slot: Slot, temporal_kernel: int = 3, mid_channels: int | None = None
) -> nn.Module:
    """(2+1)D block of Tran et al.: M_i spatial filters, BN+ReLU, N_i temporal filters."""
    if mid_channels is None:
        mid_channels = r2plus1d_mid_channels(
            slot.in_channels, slot.out_channels, temporal_kernel, slot.kernel_size
        )
    return SpatialThenTemporal(slot, mid_channels, temporal_kernel)


def _sep3d_pointwise(operator: Operator, spec: OpSpec, branch: bool) -> OpSpec:
    # Xie et al. footnote 5: S3D's 1x1 branches get the temporal conv too (`temporal_1x1`).
    if branch and operator.resolve(spec)["temporal_1x1"]:
        return spec
    return default_pointwise(operator, spec, branch)


def _sep3d_norm_after(args: Mapping[str, Any]) -> bool:
    return bool(args["temporal_norm"])


@register_operator(
    "sep3d",
    temporal_stride=True,
    layout={"temporal_norm": True, "temporal_1x1": False},
    norm_after=_sep3d_norm_after,
    pointwise=_sep3d_pointwise,
)
def sep3d_operator(slot: Slot, temporal_kernel: int = 3, temporal_bias: bool = False) -> nn.Module:
    """Separable 3D: 1xkxk -> BN+ReLU -> tx1x1, no channel expansion.

    Chen et al. S3D-ResNet uses it as is; the InceptionV1 forms give the temporal conv a bias
    (IBM ``s3d.py``, TF ``s3dg.py``), Xie et al.'s S3D drops the BN after it
    (``temporal_norm=False``) and adds it to the 1x1 branches (``temporal_1x1=True``,
    footnote 5).
    """
    return SpatialThenTemporal(
        slot, slot.out_channels, temporal_kernel, temporal_bias=temporal_bias
    )


@register_operator("p3d", temporal_stride=True)
def p3d_operator(slot: Slot, temporal_kernel: int = 3) -> nn.Module:
    """P3D cascade as Luo & Yuille Eq. (1), w = w_t x w_s: 1xkxk then tx1x1, nothing between."""
    return SpatialThenTemporal(slot, slot.out_channels, temporal_kernel, mid_norm=False)


class GroupedSpatialTemporal(nn.Module):
    """GST (Luo & Yuille Sec. 3): a 2D path and a 3D path in parallel, outputs concatenated.

    The spatial path reads the first `in_s` input channels and writes (1 - alpha) C_o; the
    temporal path reads the last `in_t` channels and writes alpha C_o (beta = 1: both read all).
    """

    def __init__(self, slot: Slot, alpha: float, beta: float, temporal_kernel: int = 3) -> None:
        super().__init__()
        if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
            raise ArgumentError("alpha", alpha, "a fraction 0 < alpha < 1 (e.g. 1/2, 1/4, 1/8)")
        if beta not in (1, 0.5):
            raise ArgumentError("beta", beta, "1 (GST-Large) or 1/2 (GST)")
        _check_temporal_kernel(temporal_kernel)
        cin, cout = slot.in_channels, slot.out_channels
        out_t = alpha * cout
        if abs(out_t - round(out_t)) > 1e-9 or round(out_t) == 0:
            raise ArgumentError(
                "alpha",
                alpha,
                f"a fraction with alpha * out_channels ({cout}) a positive integer (the temporal "
                "share of the output channels)",
            )
        out_t = round(out_t)
        if beta == 0.5 and cin % 2:
            raise ArgumentError(
                "beta", beta, "an even input channel count", f" with {cin} input channels"
            )
        self.in_split = cin if beta == 1 else cin // 2
        self.beta = beta
        k, s, t = slot.kernel_size, slot.stride, temporal_kernel
        self.spatial = conv3d(self.in_split, cout - out_t, (1, k, k), (1, s, s))
        self.temporal = conv3d(self.in_split, out_t, (t, k, k), (1, s, s))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.beta == 1:
            xs = xt = x
        else:
            xs, xt = x[:, : self.in_split], x[:, self.in_split :]
        return torch.cat([self.spatial(xs), self.temporal(xt)], dim=1)


@register_operator("gst", temporal_stride=False)
def gst_operator(
    slot: Slot, alpha: float = 0.25, beta: float = 0.5, temporal_kernel: int = 3
) -> nn.Module:
    """Grouped spatial-temporal aggregation with temporal share alpha and input split beta."""
    return GroupedSpatialTemporal(slot, alpha, beta, temporal_kernel)
