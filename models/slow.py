"""Slow-only, C2D and R(2+1)D ResNets as PySlowFast and pytorchvideo build them (Feichtenhofer et al.,
SlowFast, ICCV 2019, arXiv:1812.03982, Table 1 and Sec. 4).

Slow-only (``configs/Kinetics/c2/SLOW_8x8_R50.yaml``; pytorchvideo ``create_slow``): the
SlowFast network's slow pathway alone: a 1x7x7 stem with its 1x3x3 max-pool, ResNet-50
bottlenecks whose 3x3 conv stays 2-D and whose first 1x1 conv is 3x1x1 in stages 4-5 (res4,
res5), no temporal striding. C2D (``C2D_8x8_R50.yaml``; pytorchvideo ``create_resnet`` with
a 2x1x1 stage-1 pool): every conv 2-D, and a 2x1x1 max-pool (stride 2) after res2 halving T.
R(2+1)D-50 (pytorchvideo ``models/r2plus1d.py`` create_r2plus1d; Tran et al. 2018's
factorisation in a ResNet-50 bottleneck, without the M_i parameter-matching rule): a 1x7x7
stem without pooling, conv_b a 3x1x1 conv (temporal stride 2 in stages 3-4), BN, ReLU and a
1x3x3 conv (spatial stride 2 in every stage's first block), all at the bottleneck width.
All end in a global average pool, dropout 0.5 and the classifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from stbench.models.heads import ClassifierHead
from stbench.models.operators import op
from stbench.models.resnet import (
    DEPTHS,
    STAGE_PLANES,
    BlockPlan,
    Bottleneck,
    StemPlan,
    VideoResNet,
    make_stage,
    stage_label,
)
from stbench.models.summary import ArchSummary
from stbench.models.validation import ArgumentError, check_input, check_min_frames
from torch import nn

TWO_D = op("2d")


@dataclass(frozen=True)
class SlowPlan:
    """A ResNet with t x 1 x 1 conv_a per stage (`conv_a_t`) and an optional 2x1x1 pool."""

    depth: int = 50
    conv_a_t: tuple[int, ...] = (1, 1, 3, 3)
    pool_after_res2: bool = False
    dropout: float = 0.5

    def stages(self) -> tuple[tuple[BlockPlan, ...], ...]:
        """Block plans: stride 2 entering stages 2-4, conv_a of the stage's temporal size."""
        return tuple(
            tuple(
                BlockPlan(
                    TWO_D,
                    f"stage {i + 1}",
                    stride=(1 if i == 0 else 2) if j == 0 else 1,
                    conv_a_kernel=kt,
                )
                for j in range(n)
            )
            for i, (n, kt) in enumerate(zip(DEPTHS[self.depth][1], self.conv_a_t, strict=True))
        )

    def build(self, num_classes: int, frames: int) -> VideoResNet:
        """The module for `num_classes` classes and clips of `frames` frames."""
        if self.pool_after_res2:
            check_min_frames(frames, 2, "the 2x1x1 pool after res2 halves T")
        in_ch, stages = 64, []
        for planes, plans in zip(STAGE_PLANES, self.stages(), strict=True):
            stage, in_ch = make_stage(Bottleneck, in_ch, planes, plans)
            stages.append(stage)
        pools = {0: nn.MaxPool3d((2, 1, 1), stride=(2, 1, 1))} if self.pool_after_res2 else {}
        head = ClassifierHead(in_ch, num_classes, self.dropout)
        return VideoResNet(StemPlan(TWO_D, 64).build(frames), stages, pools, head, frames, 32)

    def summary(self) -> ArchSummary:
        """Stem, per-stage operators (with their t x 1 x 1 conv_a) and where T is halved."""
        stages = self.stages()
        return ArchSummary(
            stem=str(TWO_D),
            operators=tuple(stage_label(s) for s in stages),
            temporal_pool="2x1x1 max-pool after stage 1" if self.pool_after_res2 else None,
            slots=tuple((s[0].where, s[0].op) for s in stages),
        )


SLOW_OPTIONS = ("depth", "conv_a_t", "pool_after_res2", "dropout")


def slow_resnet(
    *,
    depth: int = 50,
    conv_a_t: tuple[int, ...] = (1, 1, 3, 3),
    pool_after_res2: bool = False,
    dropout: float = 0.5,
    **unknown: Any,
) -> SlowPlan:
    """Plan a Slow-only (default) or, with ``conv_a_t=(1, 1, 1, 1), pool_after_res2=True``,
    a C2D ResNet of `depth` 50 or 101."""
    for name, value in unknown.items():
        raise ArgumentError(
            name, value, "an option of slow_resnet (" + ", ".join(SLOW_OPTIONS) + ")"
        )
    if depth not in (50, 101):
        raise ArgumentError("depth", depth, "50, 101")
    if len(conv_a_t) != 4:
        raise ArgumentError("conv_a_t", conv_a_t, "one temporal kernel per stage (4)")
    return SlowPlan(depth, tuple(conv_a_t), bool(pool_after_res2), dropout)


def _conv_bn(cin: int, cout: int, kernel: tuple, stride: tuple = (1, 1, 1)) -> list[nn.Module]:
    """A bias-free Conv3d with 'same' padding and its BatchNorm."""
    pad = tuple(k // 2 for k in kernel)
    return [
        nn.Conv3d(cin, cout, kernel, stride=stride, padding=pad, bias=False),
        nn.BatchNorm3d(cout),
    ]


class R2Plus1DBottleneck(nn.Module):
    """1x1x1 -> 3x1x1 (temporal stride) + BN/ReLU -> 1x3x3 (spatial stride) -> 1x1x1."""

    def __init__(self, cin: int, inner: int, cout: int, t_stride: int, stride: int) -> None:
        super().__init__()
        relu = nn.ReLU
        self.conv_a = nn.Sequential(*_conv_bn(cin, inner, (1, 1, 1)), relu(inplace=True))
        self.conv_b = nn.Sequential(
            *_conv_bn(inner, inner, (3, 1, 1), (t_stride, 1, 1)),
            relu(inplace=True),
            *_conv_bn(inner, inner, (1, 3, 3), (1, stride, stride)),
            relu(inplace=True),
        )
        self.conv_c = nn.Sequential(*_conv_bn(inner, cout, (1, 1, 1)))
        self.shortcut: nn.Module | None = None
        if cin != cout or stride > 1 or t_stride > 1:
            self.shortcut = nn.Sequential(
                *_conv_bn(cin, cout, (1, 1, 1), (t_stride, stride, stride))
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = x if self.shortcut is None else self.shortcut(x)
        return (self.conv_c(self.conv_b(self.conv_a(x))) + skip).relu()


class R2Plus1D50(nn.Module):
    """1x7x7 stem (no pool) -> four stages of (2+1)D bottlenecks -> pool -> FC."""

    def __init__(self, plan: R2Plus1DPlan, num_classes: int, frames: int) -> None:
        super().__init__()
        self.frames, self.min_size = frames, 32
        self.stem = nn.Sequential(*_conv_bn(3, 64, (1, 7, 7), (1, 2, 2)), nn.ReLU(inplace=True))
        cin, stages = 64, []
        for i, n in enumerate(DEPTHS[plan.depth][1]):
            cout, t_stride = 256 * 2**i, (1, 1, 2, 2)[i]
            blocks = [
                R2Plus1DBottleneck(
                    cin if j == 0 else cout,
                    cout // 4,
                    cout,
                    t_stride if j == 0 else 1,
                    2 if j == 0 else 1,
                )
                for j in range(n)
            ]
            stages.append(nn.Sequential(*blocks))
            cin = cout
        self.stages = nn.Sequential(*stages)
        self.head = ClassifierHead(cin, num_classes, plan.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.frames, self.min_size)
        return self.head(self.stages(self.stem(x)))


@dataclass(frozen=True)
class R2Plus1DPlan:
    """pytorchvideo's R(2+1)D ResNet: (2+1)D bottlenecks, T halved in stages 3-4."""

    depth: int = 50
    dropout: float = 0.5

    def build(self, num_classes: int, frames: int) -> R2Plus1D50:
        """The module for `num_classes` classes and clips of `frames` frames."""
        check_min_frames(frames, 4, "stages 3-4 halve T")
        return R2Plus1D50(self, num_classes, frames)

    def summary(self) -> ArchSummary:
        """(2+1)D (3x1x1 then 1x3x3, no M_i rule) in every stage; T halved in stages 3-4."""
        spec = op("r2plus1d_bottleneck")
        slots = tuple((f"stage {i + 1}", spec) for i in range(4))
        return ArchSummary(
            "1x7x7 (no pool)", (spec.name,) * 4, "temporal stride 2 in stages 3-4", slots
        )


def r2plus1d_resnet(*, depth: int = 50, dropout: float = 0.5, **unknown: Any) -> R2Plus1DPlan:
    """Plan pytorchvideo's R(2+1)D-`depth` (``create_r2plus1d``)."""
    for name, value in unknown.items():
        raise ArgumentError(name, value, "an option of r2plus1d_resnet (depth, dropout)")
    if depth not in (50, 101):
        raise ArgumentError("depth", depth, "50, 101")
    return R2Plus1DPlan(depth, dropout)
