"""The formulations the zoo ran before frame folding, kept as slow references.

Each takes the same weights (same state_dict keys) as its fast counterpart in
``stbench.models``; ``reference_forward`` runs a whole zoo model the old way: every layer on
(B, C, T, H, W), a per-frame 2-D conv folding and unfolding around itself, TAM as three
depthwise convs with two pads and two adds, TSM as a zero tensor with sliced copies.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from stbench.models.inception import InceptionV1
from stbench.models.resnet import VideoResNet
from stbench.models.slowfast import SlowFast
from stbench.models.temporal import (
    TemporalAggregationModule,
    TemporalNeighbourPool,
    TemporalShift,
)
from torch import nn


class ReferenceTAM(nn.Module):
    """TAM as three depthwise 1x1 convs, shifted by padding, summed, ReLU."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.prev = nn.Conv3d(channels, channels, 1, groups=channels, bias=False)
        self.curr = nn.Conv3d(channels, channels, 1, groups=channels, bias=False)
        self.next = nn.Conv3d(channels, channels, 1, groups=channels, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        prev = F.pad(self.prev(x), (0, 0, 0, 0, 1, 0))[:, :, :-1]
        nxt = F.pad(self.next(x), (0, 0, 0, 0, 0, 1))[:, :, 1:]
        return F.relu(prev + self.curr(x) + nxt)


class ReferenceTSM(nn.Module):
    """TSM as a zero tensor and three sliced copies."""

    def __init__(self, fold: int) -> None:
        super().__init__()
        self.fold = fold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.fold
        out = torch.zeros_like(x)
        out[:, :f, :-1] = x[:, :f, 1:]
        out[:, f : 2 * f, 1:] = x[:, f : 2 * f, :-1]
        out[:, 2 * f :] = x[:, 2 * f :]
        return out


class ReferencePool(nn.Module):
    """tavg/tmax as the 3-D pool on (B, C, T, H, W)."""

    def __init__(self, pool: nn.Module) -> None:
        super().__init__()
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)


def reference_module(module: nn.Module) -> nn.Module | None:
    """The slow reference of a fast temporal module (same weights), None for other modules."""
    if isinstance(module, TemporalAggregationModule):
        ref = ReferenceTAM(module.curr.in_channels).to(module.curr.weight)
        ref.load_state_dict(module.state_dict())
        return ref
    if isinstance(module, TemporalShift):
        return ReferenceTSM(module.fold)
    if isinstance(module, TemporalNeighbourPool):
        return ReferencePool(module.pool)
    return None


def with_references(model: nn.Module) -> nn.Module:
    """`model` (changed in place) with every fast temporal module replaced by its reference."""
    for name, child in list(model.named_children()):
        ref = reference_module(child)
        if ref is not None:
            setattr(model, name, ref)
        else:
            with_references(child)
    return model


def reference_forward(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """`model`'s output computed the old way (every layer on (B, C, T, H, W))."""
    if isinstance(model, VideoResNet):
        x = model.stem(x)
        for i, stage in enumerate(model.stages):
            x = stage(x)
            if str(i) in model.pools:
                x = model.pools[str(i)](x)
        return model.head(x)
    if isinstance(model, InceptionV1):
        return model.head(model.features(x))
    if isinstance(model, SlowFast):
        s = model.slow_stem(x[:, :, :: model.alpha])
        f = model.fast_stem(x)
        s = torch.cat([s, model.laterals[0](f)], dim=1)
        for i in range(4):
            s, f = model.slow[i](s), model.fast[i](f)
            if i < 3:
                s = torch.cat([s, model.laterals[i + 1](f)], dim=1)
        pooled = [p.mean(dim=(2, 3, 4), keepdim=True) for p in (s, f)]
        return model.head(torch.cat(pooled, dim=1))
    raise TypeError(f"model: got {type(model).__name__}; allowed: a zoo skeleton")
