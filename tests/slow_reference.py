"""The formulations the zoo ran before frame folding, kept as slow references.

Each takes the same weights (same state_dict keys) as its fast counterpart in
``stbench.models``; ``reference_forward`` runs a whole zoo model the old way: every layer on
(B, C, T, H, W), a per-frame 2-D conv folding and unfolding around itself, TAM as three
depthwise convs with two pads and two adds, TSM as a zero tensor with sliced copies (those
two are the paper formulations the operator benchmarks also time: ``benchmarks/baselines.py``).
"""

from __future__ import annotations

import torch
from baselines import ThreeConvTAM, ZeroFillTSM
from stbench.models.inception import InceptionV1
from stbench.models.resnet import VideoResNet
from stbench.models.slowfast import SlowFast
from stbench.models.temporal import (
    TemporalAggregationModule,
    TemporalNeighbourPool,
    TemporalShift,
)
from torch import nn


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
        return ThreeConvTAM(module)
    if isinstance(module, TemporalShift):
        return ZeroFillTSM.of(module)
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
