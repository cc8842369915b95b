"""X3D (Feichtenhofer, CVPR 2020, arXiv:2004.04730): a ResNet expanded along width and depth.

The skeleton is the paper's Table 1 as the authors' PySlowFast release builds it (read in
``slowfast/models/video_model_builder.py`` X3D and ``resnet_helper.py`` X3DTransform, and
pytorchvideo ``models/x3d.py`` create_x3d): a stem of a 1x3x3 conv (stride 1x2x2) and a
channel-wise 5x1x1 conv; four stages of bottlenecks 1x1x1 -> channel-wise 3x3x3 (spatial
stride 2 in each stage's first block, no temporal stride) -> 1x1x1, squeeze-excitation after
the 3x3x3 of every other block (the 1st, 3rd, ...), swish after it, ReLU elsewhere; the
head is conv5 (1x1x1 to the last bottleneck width), global pool, a 1x1x1 conv to 2048 and
the classifier. Widths: the stem and stage widths 12, 12, 24, 48, 96 scaled by
``width`` (gamma_w) and rounded to multiples of 8; bottleneck inner width ``bottleneck``
(gamma_b) times the stage width; stage depths 1, 2, 5, 3 scaled by ``depth`` (gamma_d),
rounded up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from stbench.models.operators import op
from stbench.models.summary import ArchSummary
from stbench.models.validation import ArgumentError, check_input, plan_from_options
from torch import nn

BASE_DEPTHS = (1, 2, 5, 3)
STAGE_EXPANSION = 2.0  # each stage doubles the base width (12, 24, 48, 96 before gamma_w)
CHANNELWISE = op("channelwise_3d")


def round_width(width: float, multiplier: float, divisor: int = 8) -> int:
    """`width * multiplier` to the nearest multiple of `divisor` (>= 8, not < 90 %)."""
    width *= multiplier
    out = max(divisor, int(width + divisor / 2) // divisor * divisor)
    return out + divisor if out < 0.9 * width else out


def round_repeats(repeats: int, multiplier: float) -> int:
    """Blocks of a stage after depth expansion: rounded up."""
    return int(math.ceil(multiplier * repeats))


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation on a 5-D tensor: pool, 1x1x1 down, ReLU, 1x1x1 up, sigmoid."""

    def __init__(self, channels: int, reduced: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv3d(channels, reduced, 1, bias=True)
        self.fc2 = nn.Conv3d(reduced, channels, 1, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean(dim=(2, 3, 4), keepdim=True)
        return x * torch.sigmoid(self.fc2(torch.relu(self.fc1(s))))


class X3DBlock(nn.Module):
    """Bottleneck 1x1x1 -> channel-wise 3x3x3 (+SE, swish) -> 1x1x1, with a residual."""

    def __init__(self, dim_in: int, inner: int, dim_out: int, stride: int, se: int) -> None:
        super().__init__()
        self.a = nn.Conv3d(dim_in, inner, 1, bias=False)
        self.a_bn = nn.BatchNorm3d(inner)
        self.b = nn.Conv3d(
            inner, inner, 3, stride=(1, stride, stride), padding=1, groups=inner, bias=False
        )
        self.b_bn = nn.BatchNorm3d(inner)
        self.se = SqueezeExcite(inner, se) if se else nn.Identity()
        self.c = nn.Conv3d(inner, dim_out, 1, bias=False)
        self.c_bn = nn.BatchNorm3d(dim_out)
        self.shortcut: nn.Module = nn.Identity()
        if dim_in != dim_out or stride != 1:
            conv = nn.Conv3d(dim_in, dim_out, 1, stride=(1, stride, stride), bias=False)
            self.shortcut = nn.Sequential(conv, nn.BatchNorm3d(dim_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.a_bn(self.a(x)))
        y = nn.functional.silu(self.se(self.b_bn(self.b(y))))
        return torch.relu(self.shortcut(x) + self.c_bn(self.c(y)))


class X3DHead(nn.Module):
    """conv5 (1x1x1, BN, ReLU), global average pool, 1x1x1 conv to `hidden`, ReLU, FC."""

    def __init__(self, dim_in: int, inner: int, hidden: int, classes: int, dropout: float):
        super().__init__()
        self.conv5 = nn.Conv3d(dim_in, inner, 1, bias=False)
        self.conv5_bn = nn.BatchNorm3d(inner)
        self.lin5 = nn.Conv3d(inner, hidden, 1, bias=False)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv5_bn(self.conv5(x))).mean(dim=(2, 3, 4), keepdim=True)
        return self.fc(self.dropout(torch.relu(self.lin5(x)).flatten(1)))


class X3D(nn.Module):
    """Stem -> four stages of X3D blocks -> X3D head; input (B, 3, T, H, W)."""

    def __init__(self, stem: nn.Module, stages: list[nn.Module], head: nn.Module, frames: int):
        super().__init__()
        self.frames = frames
        self.min_size = 32
        self.stem = stem
        self.stages = nn.ModuleList(stages)
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.frames, self.min_size)
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
        return self.head(x)


@dataclass(frozen=True)
class X3DPlan:
    """An X3D network: expansion factors gamma_w, gamma_d, gamma_b and the fixed head."""

    width: float = 2.0
    depth: float = 2.2
    bottleneck: float = 2.25
    stem_width: int = 12
    head_width: int = 2048
    se_ratio: float = 0.0625
    dropout: float = 0.5

    def widths(self) -> list[tuple[int, int, int]]:
        """(blocks, width, inner width) per stage."""
        base, out = self.stem_width, []
        for i, n in enumerate(BASE_DEPTHS):
            dim = round_width(base if i == 0 else base * STAGE_EXPANSION**i, self.width)
            out.append((round_repeats(n, self.depth), dim, int(self.bottleneck * dim)))
        return out

    def build(self, num_classes: int, frames: int) -> X3D:
        """The module for `num_classes` classes and clips of `frames` frames."""
        stem_w = round_width(self.stem_width, self.width)
        stem = nn.Sequential(
            nn.Conv3d(3, stem_w, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1), bias=False),
            nn.Conv3d(stem_w, stem_w, (5, 1, 1), padding=(2, 0, 0), groups=stem_w, bias=False),
            nn.BatchNorm3d(stem_w),
            nn.ReLU(inplace=True),
        )
        stages, dim_in = [], stem_w
        for n, dim, inner in self.widths():
            se = round_width(inner, self.se_ratio) if self.se_ratio else 0
            blocks = [
                X3DBlock(
                    dim_in if j == 0 else dim, inner, dim, 2 if j == 0 else 1, se * (j % 2 == 0)
                )
                for j in range(n)
            ]
            stages.append(nn.Sequential(*blocks))
            dim_in = dim
        head = X3DHead(dim_in, inner, self.head_width, num_classes, self.dropout)
        return X3D(stem, stages, head, frames)

    def summary(self) -> ArchSummary:
        """Channel-wise 3x3x3 in every stage; no temporal down-sampling."""
        slots = tuple((f"stage {i + 1}", CHANNELWISE) for i in range(len(BASE_DEPTHS)))
        label = f"{CHANNELWISE.name}+se"
        return ArchSummary("1x3x3 + channel-wise 5x1x1", (label,) * len(slots), None, slots)


def x3d(**options: Any) -> X3DPlan:
    """Plan an X3D: options width, depth, bottleneck (gamma_w, gamma_d, gamma_b), head_width,
    se_ratio, dropout (X3D-M's by default)."""
    plan = plan_from_options(X3DPlan, "x3d", options, fixed=("stem_width",))
    for name in ("width", "depth", "bottleneck"):
        value = getattr(plan, name)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
            raise ArgumentError(name, value, "a number > 0 (an X3D expansion factor)")
    return plan
