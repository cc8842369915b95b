"""Temporal modules that sit beside the convolutions: TAM, TSM, avg/max aggregation and
non-local blocks. All map (B, C, T, H, W) to (B, C, T, H, W).

A skeleton attaches them by name through :func:`make_temporal`; each registered module
declares its placement: ``"branch"`` (at the head of a residual branch) or ``"after"`` (a
residual block of its own after a backbone block). A skeleton without residual branches
(InceptionV1) places either kind after each unit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from stbench.models.pooling import temporal_pool
from stbench.models.registry import Registry
from stbench.models.validation import check_choice
from torch import nn

PLACEMENTS = ("branch", "after")


@dataclass(frozen=True)
class TemporalModule:
    """A registered temporal module: `factory(channels)` and where a skeleton puts it."""

    name: str
    factory: Callable[[int], nn.Module]
    placement: str


TEMPORAL_MODULES: Registry[TemporalModule] = Registry("temporal")


def register_temporal(name: str, placement: str = "branch") -> Callable:
    """Decorator: register a temporal module factory `f(channels)` under `name`."""
    check_choice("placement", placement, PLACEMENTS)

    def deco(fn: Callable[[int], nn.Module]) -> Callable[[int], nn.Module]:
        TEMPORAL_MODULES.add(name, TemporalModule(name, fn, placement))
        return fn

    return deco


def get_temporal(name: str) -> TemporalModule:
    """The registered temporal module `name` (ArgumentError naming the known ones otherwise)."""
    return TEMPORAL_MODULES[name]


def make_temporal(name: str, channels: int) -> nn.Module:
    """Build the temporal module `name` for `channels` channels."""
    return get_temporal(name).factory(channels)


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
        self.pool = temporal_pool(stride=1, count_include_pad=False).make(mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)


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
register_temporal("nonlocal", "after")(NonLocalBlock)


@register_temporal("tavg")
def _temporal_avg(channels: int) -> nn.Module:
    """Average of neighbouring frames in the residual branch (Chen et al. Table 5 "Avg.")."""
    return TemporalNeighbourPool("avg")


@register_temporal("tmax")
def _temporal_max(channels: int) -> nn.Module:
    """Max over neighbouring frames in the residual branch (Chen et al. Table 5 "Max.")."""
    return TemporalNeighbourPool("max")
