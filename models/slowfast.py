"""SlowFast (Feichtenhofer et al., ICCV 2019) on the shared ResNet bottleneck.

Input is one clip (B, 3, T, H, W) at the fast pathway's frame rate; the slow pathway reads
every `alpha`-th frame (T / alpha frames). Fast width is 1/beta_inv of the slow width; lateral
connections (t x 1 x 1 conv, stride alpha, 2x fast channels) join fast into slow after the stem
and after stages 1-3. Configuration follows facebookresearch/SlowFast configs/Kinetics/c2.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from stbench.models.heads import ClassifierHead
from stbench.models.resnet import DEPTHS, STAGE_PLANES, Bottleneck, make_stem
from stbench.models.validation import check_divisible, check_input
from torch import nn

SLOW_CONV_A_T = (1, 1, 3, 3)  # slow pathway: temporal conv_a only in stages 3-4 (res4, res5)
FAST_CONV_A_T = (3, 3, 3, 3)


class Lateral(nn.Module):
    """Time-strided t x 1 x 1 conv + BN + ReLU mapping fast features to slow's frame rate."""

    def __init__(self, channels: int, alpha: int, kernel: int, ratio: int = 2) -> None:
        super().__init__()
        self.conv = nn.Conv3d(
            channels,
            channels * ratio,
            (kernel, 1, 1),
            (alpha, 1, 1),
            (kernel // 2, 0, 0),
            bias=False,
        )
        self.bn = nn.BatchNorm3d(channels * ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x)))


def _stage(
    in_ch: int, planes: int, n: int, stride: int, kernel_t: int, n_temporal: int
) -> nn.Sequential:
    blocks = []
    for j in range(n):
        blocks.append(
            Bottleneck(
                in_ch,
                planes,
                "2d",
                stride if j == 0 else 1,
                a_kernel_t=kernel_t if j < n_temporal else 1,
            )
        )
        in_ch = planes * Bottleneck.expansion
    return nn.Sequential(*blocks)


class SlowFast(nn.Module):
    """Two-pathway ResNet with lateral fusion and a joint classifier head."""

    def __init__(
        self,
        num_classes: int,
        frames: int,
        depth: int = 50,
        alpha: int = 4,
        beta_inv: int = 8,
        fusion_kernel: int = 5,
        temporal_blocks: Sequence[int] | None = None,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if depth not in DEPTHS or DEPTHS[depth][0] != "bottleneck":
            raise ValueError(f"depth: got {depth!r}; allowed: 50, 101")
        check_divisible("frames", frames, alpha, f"the slow pathway takes every alpha={alpha}th")
        counts = DEPTHS[depth][1]
        temporal_blocks = tuple(temporal_blocks or counts)
        self.frames, self.alpha, self.min_size = frames, alpha, 32
        fw = 64 // beta_inv
        self.slow_stem = make_stem("2d", frames // alpha, 64)
        self.fast_stem = make_stem("3d", frames, fw, temporal_kernel=5)
        self.laterals = nn.ModuleList([Lateral(fw, alpha, fusion_kernel)])
        slow, fast = [], []
        s_in, f_in = 64 + 2 * fw, fw
        for i, (planes, n) in enumerate(zip(STAGE_PLANES, counts, strict=True)):
            stride = 1 if i == 0 else 2
            nt = temporal_blocks[i]
            slow.append(_stage(s_in, planes, n, stride, SLOW_CONV_A_T[i], nt))
            fast.append(_stage(f_in, planes // beta_inv, n, stride, FAST_CONV_A_T[i], nt))
            f_out = planes // beta_inv * 4
            if i < 3:
                self.laterals.append(Lateral(f_out, alpha, fusion_kernel))
                s_in, f_in = planes * 4 + 2 * f_out, f_out
            else:
                s_in = planes * 4 + f_out
        self.slow, self.fast = nn.ModuleList(slow), nn.ModuleList(fast)
        self.head = ClassifierHead(s_in, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.frames, self.min_size)
        s = self.slow_stem(x[:, :, :: self.alpha])
        f = self.fast_stem(x)
        s = torch.cat([s, self.laterals[0](f)], dim=1)
        for i in range(4):
            s, f = self.slow[i](s), self.fast[i](f)
            if i < 3:
                s = torch.cat([s, self.laterals[i + 1](f)], dim=1)
        pooled = [p.mean(dim=(2, 3, 4), keepdim=True) for p in (s, f)]
        return self.head(torch.cat(pooled, dim=1))


def build_slowfast(*, num_classes: int, frames: int, **kwargs) -> SlowFast:
    """Build a SlowFast network; `frames` is the fast pathway's T (slow gets frames/alpha)."""
    return SlowFast(num_classes=num_classes, frames=frames, **kwargs)
