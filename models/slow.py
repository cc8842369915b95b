"""Slow-only and C2D ResNets as PySlowFast and pytorchvideo build them (Feichtenhofer et al.,
SlowFast, ICCV 2019, arXiv:1812.03982, Table 1 and Sec. 4).

Slow-only (``configs/Kinetics/c2/SLOW_8x8_R50.yaml``; pytorchvideo ``create_slow``): the
SlowFast network's slow pathway alone: a 1x7x7 stem with its 1x3x3 max-pool, ResNet-50
bottlenecks whose 3x3 conv stays 2-D and whose first 1x1 conv is 3x1x1 in stages 4-5 (res4,
res5), no temporal striding. C2D (``C2D_8x8_R50.yaml``; pytorchvideo ``create_resnet`` with
a 2x1x1 stage-1 pool): every conv 2-D, and a 2x1x1 max-pool (stride 2) after res2 halving T.
Both end in a global average pool, dropout 0.5 and the classifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
from stbench.models.validation import ArgumentError, check_min_frames
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
