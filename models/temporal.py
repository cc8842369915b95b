"""Temporal modules that sit beside the convolutions: TAM, TSM, avg/max aggregation,
non-local blocks and temporal pooling. All map (B, C, T, H, W) to (B, C, T', H, W)."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

TemporalFactory = Callable[[int], nn.Module]
TEMPORAL_MODULES: dict[str, TemporalFactory] = {}


def register_temporal(name: str) -> Callable[[TemporalFactory], TemporalFactory]:
    """Decorator: register a residual-branch temporal module factory `f(channels)`."""

    def deco(fn: TemporalFactory) -> TemporalFactory:
        if name in TEMPORAL_MODULES:
            raise ValueError(f"temporal module {name!r} registered twice")
        TEMPORAL_MODULES[name] = fn
        return fn

    return deco


def make_temporal(name: str, channels: int) -> nn.Module:
    """Build the residual-branch temporal module `name` for `channels` channels."""
    try:
        factory = TEMPORAL_MODULES[name]
    except KeyError:
        raise ValueError(
            f"block_temporal: unknown temporal module {name!r}; "
            f"allowed: {', '.join(sorted(TEMPORAL_MODULES))}"
        ) from None
    return factory(channels)


class TemporalAggregationModule(nn.Module):
    """TAM (IBM "TAM-b3-sum"): depthwise 1x1 weights for frames t-1, t, t+1, summed, ReLU."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.prev = nn.Conv3d(channels, channels, 1, groups=channels, bias=False)
        self.curr = nn.Conv3d(channels, channels, 1, groups=channels, bias=False)
        self.next = nn.Conv3d(channels, channels, 1, groups=channels, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        prev = F.pad(self.prev(x), (0, 0, 0, 0, 1, 0))[:, :, :-1]
        nxt = F.pad(self.next(x), (0, 0, 0, 0, 0, 1))[:, :, 1:]
        return F.relu(prev + self.curr(x) + nxt)


class TemporalShift(nn.Module):
    """TSM: shift `1/fold_div` of the channels one frame back and as many one frame forward."""

    def __init__(self, channels: int, fold_div: int = 8) -> None:
        super().__init__()
        if channels < fold_div:
            raise ValueError(
                f"channels: got {channels}; allowed: >= fold_div ({fold_div}) for a temporal shift"
            )
        self.fold = channels // fold_div

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.fold
        out = torch.zeros_like(x)
        out[:, :f, :-1] = x[:, :f, 1:]
        out[:, f : 2 * f, 1:] = x[:, f : 2 * f, :-1]
        out[:, 2 * f :] = x[:, 2 * f :]
        return out


class TemporalNeighbourPool(nn.Module):
    """Parameter-free aggregation of frames t-1, t, t+1 by average or max (stride 1)."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.pool = make_temporal_pool(mode, stride=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)


def make_temporal_pool(mode: str, kernel: int = 3, stride: int = 2) -> nn.Module:
    """Temporal pooling of kernel `kernel` (padding kernel//2) and stride `stride`."""
    k, p = (kernel, 1, 1), (kernel // 2, 0, 0)
    s = (stride, 1, 1)
    if mode == "max":
        return nn.MaxPool3d(k, s, p)
    if mode == "avg":
        return nn.AvgPool3d(k, s, p, count_include_pad=False)
    raise ValueError(f"tp_pool: got {mode!r}; allowed: 'avg', 'max'")


class NonLocalBlock(nn.Module):
    """Embedded-Gaussian non-local block (Wang et al. 2018) with 1x2x2 max-pool sub-sampling."""

    def __init__(self, channels: int, sub_sample: bool = True) -> None:
        super().__init__()
        inner = max(channels // 2, 1)
        self.theta = nn.Conv3d(channels, inner, 1)
        self.phi = nn.Conv3d(channels, inner, 1)
        self.g = nn.Conv3d(channels, inner, 1)
        self.out = nn.Conv3d(inner, channels, 1)
        self.bn = nn.BatchNorm3d(channels)
        nn.init.zeros_(self.bn.weight)
        self.pool = nn.MaxPool3d((1, 2, 2)) if sub_sample else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, t, h, w = x.shape
        q = self.theta(x).flatten(2).transpose(1, 2)
        k = self.pool(self.phi(x)).flatten(2)
        v = self.pool(self.g(x)).flatten(2).transpose(1, 2)
        attn = torch.softmax(q @ k, dim=-1)
        y = (attn @ v).transpose(1, 2).reshape(b, -1, t, h, w)
        return x + self.bn(self.out(y))


register_temporal("tam")(TemporalAggregationModule)
register_temporal("tsm")(TemporalShift)


@register_temporal("tavg")
def _temporal_avg(channels: int) -> nn.Module:
    """Average of neighbouring frames in the residual branch (Chen et al. Table 5 "Avg.")."""
    return TemporalNeighbourPool("avg")


@register_temporal("tmax")
def _temporal_max(channels: int) -> nn.Module:
    """Max over neighbouring frames in the residual branch (Chen et al. Table 5 "Max.")."""
    return TemporalNeighbourPool("max")
