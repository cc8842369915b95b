"""Temporal modules that sit beside the convolutions: TAM, TSM, avg/max aggregation and
non-local blocks. All map (B, C, T, H, W) to (B, C, T, H, W); those registered with
``folds=True`` and built with a known frame count also map the folded layout
(B*T, C, 1, H, W) to itself (see ``layout.py``), so a 2-D network need not unfold for them.

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
from stbench.models.formulations import compute_dtype, shifted
from stbench.models.layout import fold, frames_view, is_folded, unfold
from stbench.models.pooling import temporal_pool
from stbench.models.registry import Registry
from stbench.models.validation import check_choice
from torch import nn

PLACEMENTS = ("branch", "after")
CHANNELS_LAST = torch.channels_last_3d


@dataclass(frozen=True)
class TemporalModule:
    """A registered temporal module: `factory(channels)` and where a skeleton puts it.

    `folds`: the factory also takes `frames` and the module then runs on folded input too.
    """

    name: str
    factory: Callable[..., nn.Module]
    placement: str
    folds: bool = False


TEMPORAL_MODULES: Registry[TemporalModule] = Registry("temporal")


def register_temporal(name: str, placement: str = "branch", folds: bool = False) -> Callable:
    """Decorator: register a temporal module factory `f(channels)` under `name`
    (`f(channels, frames=T)` when `folds`: it then also runs on the folded layout)."""
    check_choice("placement", placement, PLACEMENTS)

    def deco(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        TEMPORAL_MODULES.add(name, TemporalModule(name, fn, placement, folds))
        return fn

    return deco


def get_temporal(name: str) -> TemporalModule:
    """The registered temporal module `name` (ArgumentError naming the known ones otherwise)."""
    return TEMPORAL_MODULES[name]


def make_temporal(name: str, channels: int, frames: int | None = None) -> nn.Module:
    """Build the temporal module `name` for `channels` channels; `frames` (the T it will
    see) lets a module registered with ``folds=True`` run on the folded layout."""
    entry = get_temporal(name)
    if entry.folds and frames is not None:
        return entry.factory(channels, frames=frames)
    return entry.factory(channels)


class FoldingTemporal(nn.Module):
    """Base of temporal modules that also run folded once they know their frame count."""

    def __init__(self, frames: int | None = None) -> None:
        super().__init__()
        self.frames = frames

    def runs_per_frame(self) -> bool:
        """Frame-wise for a skeleton: given its T, it takes the folded layout."""
        return self.frames is not None

    def folded(self, x: torch.Tensor) -> bool:
        """Whether `x` is the folded layout of this module's T frames."""
        return self.frames is not None and is_folded(x, self.frames)


class TemporalAggregationModule(FoldingTemporal):
    """TAM (IBM "TAM-b3-sum"): depthwise 1x1 weights for frames t-1, t, t+1, summed, ReLU.

    Shifted formulation (``formulations.py``): ``out = w_curr*x[t]; out[t] += w_prev*x[t-1];
    out[t] += w_next*x[t+1]`` as fused multiply-adds over shifted frame views, in the layout
    it is given (no layout copy). Reference formulation: the three weights as one depthwise
    t=3 convolution. Both do the same MACs as three depthwise 1x1 convolutions and the same sum.
    """

    def __init__(self, channels: int, frames: int | None = None) -> None:
        super().__init__(frames)
        self.prev = nn.Conv3d(channels, channels, 1, groups=channels, bias=False)
        self.curr = nn.Conv3d(channels, channels, 1, groups=channels, bias=False)
        self.next = nn.Conv3d(channels, channels, 1, groups=channels, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        folded = self.folded(x)
        if shifted(x, "tam"):
            if folded:
                return shifted_tam(frames_view(x, self.frames), self._weights(), 1).view_as(x)
            return shifted_tam(x, self._weights(), 2)
        weight = torch.cat([self.prev.weight, self.curr.weight, self.next.weight], dim=2)
        if folded:
            # Depthwise convs are fastest with C innermost: the clip goes channels_last_3d,
            # whose fold is a view, so the folded layers after it stay channels-last.
            x = unfold(x, x.shape[0] // self.frames).contiguous(memory_format=CHANNELS_LAST)
            return fold(self._conv(x, weight))
        return self._conv(x, weight)

    def _weights(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.prev.weight, self.curr.weight, self.next.weight

    @staticmethod
    def _conv(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return F.conv3d(x, weight, None, 1, (1, 0, 0), 1, weight.shape[0]).relu_()


def shifted_tam(
    x: torch.Tensor, weights: tuple[torch.Tensor, torch.Tensor, torch.Tensor], dim: int
) -> torch.Tensor:
    """TAM on `x` with frames along `dim` and channels along ``dim + 1`` (dim 1: frames
    (B, T, C, H, W); dim 2: (B, C, T, H, W), channels on dim 1): ``relu(w_prev*x[t-1] +
    w_curr*x[t] + w_next*x[t+1])`` (zero beyond the edges), as one multiply and two fused
    multiply-adds over shifted views, in the dtype a conv would compute in (autocast)."""
    dtype = compute_dtype(x)
    x = x.to(dtype)
    channel_dim = 2 if dim == 1 else 1
    shape = [1] * (x.dim() - channel_dim)
    shape[0] = x.shape[channel_dim]
    prev, curr, nxt = (w.to(dtype).reshape(shape) for w in weights)
    t = x.shape[dim]
    out = x * curr
    out.narrow(dim, 1, t - 1).addcmul_(x.narrow(dim, 0, t - 1), prev)
    out.narrow(dim, 0, t - 1).addcmul_(x.narrow(dim, 1, t - 1), nxt)
    return out.relu_()


def _shift(x: torch.Tensor, width: int, channel_dim: int, time_dim: int) -> torch.Tensor:
    """Out-of-place TSM shift of `x`: channels [0, f) one frame back, [f, 2f) one forward."""
    out = torch.empty_like(x)
    n, c = x.shape[time_dim], x.shape[channel_dim]

    def part(t: torch.Tensor, c0: int, cn: int, t0: int, tn: int) -> torch.Tensor:
        return t.narrow(channel_dim, c0, cn).narrow(time_dim, t0, tn)

    part(out, 0, width, 0, n - 1).copy_(part(x, 0, width, 1, n - 1))
    part(out, 0, width, n - 1, 1).zero_()
    part(out, width, width, 1, n - 1).copy_(part(x, width, width, 0, n - 1))
    part(out, width, width, 0, 1).zero_()
    rest = c - 2 * width
    out.narrow(channel_dim, 2 * width, rest).copy_(x.narrow(channel_dim, 2 * width, rest))
    return out


class TemporalShift(FoldingTemporal):
    """TSM: shift `1/fold_div` of the channels one frame back and as many one frame forward."""

    def __init__(self, channels: int, fold_div: int = 8, frames: int | None = None) -> None:
        super().__init__(frames)
        if channels < fold_div:
            raise ValueError(
                f"channels: got {channels}; allowed: >= fold_div ({fold_div}) for a temporal shift"
            )
        self.fold = channels // fold_div

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.folded(x):
            return _shift(frames_view(x, self.frames), self.fold, 2, 1).view_as(x)
        return _shift(x, self.fold, 1, 2)


class TemporalNeighbourPool(FoldingTemporal):
    """Parameter-free aggregation of frames t-1, t, t+1 by average or max (stride 1)."""

    def __init__(self, mode: str, frames: int | None = None) -> None:
        super().__init__(frames)
        self.mode = mode
        # The 3-D pool it equals; run only for T < 3, where it refuses as before.
        self.pool = temporal_pool(stride=1, count_include_pad=False).make(mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.folded(x):
            batch = x.shape[0] // self.frames
            if self.frames < 3:
                return fold(self.pool(unfold(x, batch)))
            frames = x.unflatten(0, (batch, self.frames))
            return neighbour_pool(frames, 1, self.mode).flatten(0, 1)
        if x.shape[2] < 3:
            return self.pool(x)
        return neighbour_pool(x, 2, self.mode)


def neighbour_pool(x: torch.Tensor, dim: int, mode: str) -> torch.Tensor:
    """Max or average of frames t-1, t, t+1 along `dim` (edges: of the two frames there), as
    elementwise ops on shifted views: equal to the kernel-3, padding-1 pool along T
    (``count_include_pad=False``) but 5-30x faster on CPU than ``max_pool3d``/``avg_pool3d``
    (benchmarks/test_bench_operators.py), with no index tensor and no layout copy. Needs T >= 3."""
    t = x.shape[dim]
    pairs_a, pairs_b = x.narrow(dim, 0, t - 1), x.narrow(dim, 1, t - 1)
    out = torch.empty_like(x)
    first, last, inner = out.narrow(dim, 0, 1), out.narrow(dim, t - 1, 1), out.narrow(dim, 1, t - 2)
    if mode == "max":
        pair = torch.maximum(pairs_a, pairs_b)
        first.copy_(pair.narrow(dim, 0, 1))
        last.copy_(pair.narrow(dim, t - 2, 1))
        torch.maximum(pair.narrow(dim, 0, t - 2), pair.narrow(dim, 1, t - 2), out=inner)
        return out
    pair = pairs_a + pairs_b
    torch.div(pair.narrow(dim, 0, 1), 2, out=first)
    torch.div(pair.narrow(dim, t - 2, 1), 2, out=last)
    torch.add(pair.narrow(dim, 0, t - 2), x.narrow(dim, 2, t - 2), out=inner).div_(3)
    return out


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


register_temporal("tam", folds=True)(TemporalAggregationModule)
register_temporal("tsm", folds=True)(TemporalShift)
register_temporal("nonlocal", "after")(NonLocalBlock)


@register_temporal("tavg", folds=True)
def _temporal_avg(channels: int, frames: int | None = None) -> nn.Module:
    """Average of neighbouring frames in the residual branch (Chen et al. Table 5 "Avg.")."""
    return TemporalNeighbourPool("avg", frames)


@register_temporal("tmax", folds=True)
def _temporal_max(channels: int, frames: int | None = None) -> nn.Module:
    """Max over neighbouring frames in the residual branch (Chen et al. Table 5 "Max.")."""
    return TemporalNeighbourPool("max", frames)
