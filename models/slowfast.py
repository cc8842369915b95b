"""SlowFast (Feichtenhofer et al., ICCV 2019) on the shared ResNet bottleneck.

Input is one clip (B, 3, T, H, W) at the fast pathway's frame rate; the slow pathway reads
every `alpha`-th frame (T / alpha frames). Fast width is 1/beta_inv of the slow width; lateral
connections (t x 1 x 1 conv, stride alpha, 2x fast channels) join fast into slow after the stem
and after stages 1-3. Configuration follows facebookresearch/SlowFast configs/Kinetics/c2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from stbench.models.convs import conv3d
from stbench.models.heads import ClassifierHead
from stbench.models.layout import frame_wise_flags, run_chain, unfolded
from stbench.models.operators import OpSpec, checked, op, route_args
from stbench.models.resnet import (
    DEPTHS,
    STAGE_PLANES,
    BlockPlan,
    Bottleneck,
    StemPlan,
    make_stage,
    stage_label,
)
from stbench.models.summary import ArchSummary
from stbench.models.validation import (
    ArgumentError,
    check_divisible,
    check_input,
    check_positive_int,
)
from torch import nn

SLOW_CONV_A_T = (1, 1, 3, 3)  # slow pathway: temporal conv_a only in stages 3-4 (res4, res5)
FAST_CONV_A_T = (3, 3, 3, 3)
FAST_STEM = op("3d", temporal_kernel=5)  # configs/Kinetics/c2: fast pathway stem 5x7x7


class Lateral(nn.Module):
    """Time-strided t x 1 x 1 conv + BN + ReLU mapping fast features to slow's frame rate."""

    def __init__(self, channels: int, alpha: int, kernel: int, ratio: int = 2) -> None:
        super().__init__()
        self.conv = conv3d(channels, channels * ratio, (kernel, 1, 1), (alpha, 1, 1))
        self.bn = nn.BatchNorm3d(channels * ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x)))


@dataclass(frozen=True)
class SlowFastPlan:
    """A SlowFast network: depth, frame-rate ratio `alpha`, fast width 1/`beta_inv`, specs."""

    depth: int
    alpha: int
    beta_inv: int
    fusion_kernel: int
    temporal_blocks: tuple[int, ...]
    operator: OpSpec
    slow_stem: OpSpec
    fast_stem: OpSpec
    dropout: float = 0.5

    def pathway(self, conv_a_t: Sequence[int]) -> tuple[tuple[BlockPlan, ...], ...]:
        """Block plans of one pathway; the first `temporal_blocks` blocks get a t x 1 x 1 conv_a."""
        counts = DEPTHS[self.depth][1]
        return tuple(
            tuple(
                BlockPlan(
                    self.operator,
                    f"stage {i + 1}",
                    stride=(1 if i == 0 else 2) if j == 0 else 1,
                    conv_a_kernel=kt if j < nt else 1,
                )
                for j in range(n)
            )
            for i, (n, kt, nt) in enumerate(
                zip(counts, conv_a_t, self.temporal_blocks, strict=True)
            )
        )

    def build(self, num_classes: int, frames: int) -> SlowFast:
        """The module for `num_classes` classes; `frames` is the fast pathway's T."""
        return SlowFast(self, num_classes, frames)

    def summary(self) -> ArchSummary:
        """Stems of both pathways and the slow pathway's stages, in words."""
        slow = self.pathway(SLOW_CONV_A_T)
        return ArchSummary(
            stem=f"{self.slow_stem} (slow), {self.fast_stem} (fast)",
            operators=tuple(stage_label(s) for s in slow),
            temporal_pool=None,
            slots=tuple((s[0].where, s[0].op) for s in slow),
        )


class SlowFast(nn.Module):
    """Two-pathway ResNet with lateral fusion and a joint classifier head."""

    def __init__(self, plan: SlowFastPlan, num_classes: int, frames: int) -> None:
        super().__init__()
        alpha = plan.alpha
        check_divisible("frames", frames, alpha, f"the slow pathway takes every alpha={alpha}th")
        self.frames, self.alpha, self.min_size = frames, alpha, 32
        fw = 64 // plan.beta_inv
        self.slow_stem = StemPlan(plan.slow_stem, 64).build(frames // alpha)
        self.fast_stem = StemPlan(plan.fast_stem, fw).build(frames)
        self.laterals = nn.ModuleList([Lateral(fw, alpha, plan.fusion_kernel)])
        slow, fast = [], []
        s_in, f_in = 64 + 2 * fw, fw
        pathways = (plan.pathway(SLOW_CONV_A_T), plan.pathway(FAST_CONV_A_T))
        for i, (planes, s_plans, f_plans) in enumerate(zip(STAGE_PLANES, *pathways, strict=True)):
            s_stage, s_out = make_stage(Bottleneck, s_in, planes, s_plans)
            f_stage, f_out = make_stage(Bottleneck, f_in, planes // plan.beta_inv, f_plans)
            slow.append(s_stage)
            fast.append(f_stage)
            if i < 3:
                self.laterals.append(Lateral(f_out, alpha, plan.fusion_kernel))
                s_in, f_in = s_out + 2 * f_out, f_out
            else:
                s_in = s_out + f_out
        self.slow, self.fast = nn.ModuleList(slow), nn.ModuleList(fast)
        self.head = ClassifierHead(s_in, num_classes, plan.dropout)
        # frame-wise runs of each pathway go folded (layout.py); laterals join unfolded
        self._folds = [tuple(frame_wise_flags(stage) for stage in p) for p in (slow, fast)]

    def _stage(self, pathway: int, i: int, x: torch.Tensor, batch: int) -> torch.Tensor:
        stage = (self.slow, self.fast)[pathway][i]
        return unfolded(run_chain(stage, self._folds[pathway][i], x, batch), batch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.frames, self.min_size)
        batch = x.shape[0]
        s = self.slow_stem(x[:, :, :: self.alpha])
        f = self.fast_stem(x)
        s = torch.cat([s, self.laterals[0](f)], dim=1)
        for i in range(4):
            s, f = self._stage(0, i, s, batch), self._stage(1, i, f, batch)
            if i < 3:
                s = torch.cat([s, self.laterals[i + 1](f)], dim=1)
        pooled = [p.mean(dim=(2, 3, 4), keepdim=True) for p in (s, f)]
        return self.head(torch.cat(pooled, dim=1))


def slowfast(
    *,
    depth: int = 50,
    alpha: int = 4,
    beta_inv: int = 8,
    fusion_kernel: int = 5,
    temporal_blocks: Sequence[int] | None = None,
    operator: str | OpSpec = "2d",
    slow_stem: str | OpSpec = "2d",
    fast_stem: str | OpSpec = FAST_STEM,
    dropout: float = 0.5,
    **operator_args: Any,
) -> SlowFastPlan:
    """Plan a SlowFast network; `temporal_blocks` counts, per stage, the blocks (from the
    first) whose conv_a is t x 1 x 1 (default: all; slow pathway only in stages 3-4)."""
    if depth not in DEPTHS or DEPTHS[depth][0] != "bottleneck":
        raise ArgumentError("depth", depth, "50, 101")
    check_positive_int("alpha", alpha, "the fast/slow frame-rate ratio")
    check_positive_int("beta_inv", beta_inv, "the slow/fast channel ratio")
    if 64 % beta_inv:
        raise ArgumentError("beta_inv", beta_inv, "a divisor of 64 (the slow stem's width)")
    counts = DEPTHS[depth][1]
    blocks = tuple(counts if temporal_blocks is None else temporal_blocks)
    if len(blocks) != len(counts) or any(
        not 0 <= b <= n for b, n in zip(blocks, counts, strict=True)
    ):
        raise ArgumentError("temporal_blocks", temporal_blocks, f"per stage 0 to {counts}")
    k_by_k = route_args({"stages": checked(operator, "stages")}, operator_args, slowfast)
    return SlowFastPlan(
        depth,
        alpha,
        beta_inv,
        fusion_kernel,
        blocks,
        k_by_k["stages"],
        checked(slow_stem, "slow stem"),
        checked(fast_stem, "fast stem"),
        dropout,
    )
