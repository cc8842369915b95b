"""Channel-separated networks (Tran et al., ICCV 2019, arXiv:1904.02811): ir-CSN and ip-CSN.

As VMZ (facebookresearch/VMZ) and mmaction2 ``mmaction/models/backbones/resnet3d_csn.py``
build them: a ResNet-50/101/152 of bottlenecks whose 3x3x3 conv is channel-wise (one group
per channel); ip-CSN puts a 1x1x1 conv (with its own BatchNorm, no ReLU) before it, ir-CSN
only the channel-wise conv. Stem: 3x7x7 conv (stride 1x2x2) and a 1x3x3 max-pool (stride
1x2x2); stages 2-4 halve T, H and W in their first block (on the 3x3x3 conv and the 1x1x1
shortcut); global average pool, dropout 0.5 and the classifier (I3DHead).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from stbench.models.operators import op
from stbench.models.summary import ArchSummary
from stbench.models.validation import ArgumentError, check_input, check_min_frames
from torch import nn

CSN_DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
CSN_OPERATORS = {"ir": op("channelwise_3d"), "ip": op("pointwise_channelwise_3d")}


def _conv_bn(cin: int, cout: int, kernel: Any, stride: Any = 1, groups: int = 1) -> list:
    """A bias-free Conv3d (padding keeps the size) and its BatchNorm."""
    pad = tuple(k // 2 for k in kernel) if isinstance(kernel, tuple) else kernel // 2
    conv = nn.Conv3d(cin, cout, kernel, stride=stride, padding=pad, groups=groups, bias=False)
    return [conv, nn.BatchNorm3d(cout)]


class CSNBottleneck(nn.Module):
    """1x1x1 -> (ip: 1x1x1 + BN) channel-wise 3x3x3 -> 1x1x1, with a (strided) shortcut."""

    def __init__(self, cin: int, planes: int, stride: int, mode: str) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(*_conv_bn(cin, planes, 1), nn.ReLU(inplace=True))
        ip = _conv_bn(planes, planes, 1) if mode == "ip" else []
        dw = _conv_bn(planes, planes, 3, stride=stride, groups=planes)
        self.conv2 = nn.Sequential(*ip, *dw, nn.ReLU(inplace=True))
        self.conv3 = nn.Sequential(*_conv_bn(planes, 4 * planes, 1))
        self.downsample = None
        if stride != 1 or cin != 4 * planes:
            self.downsample = nn.Sequential(*_conv_bn(cin, 4 * planes, 1, stride=stride))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = x if self.downsample is None else self.downsample(x)
        return torch.relu(self.conv3(self.conv2(self.conv1(x))) + skip)


class CSN(nn.Module):
    """Stem -> four stages of CSN bottlenecks -> global average pool -> dropout -> FC."""

    def __init__(self, plan: CSNPlan, num_classes: int, frames: int) -> None:
        super().__init__()
        self.frames, self.min_size = frames, 32
        self.stem = nn.Sequential(
            *_conv_bn(3, 64, (3, 7, 7), stride=(1, 2, 2)),
            nn.ReLU(inplace=True),
            nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1)),
        )
        cin, stages = 64, []
        for i, n in enumerate(CSN_DEPTHS[plan.depth]):
            planes = 64 * 2**i
            blocks = []
            for j in range(n):
                stride = 2 if i > 0 and j == 0 else 1
                blocks.append(CSNBottleneck(cin, planes, stride, plan.mode))
                cin = 4 * planes
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.dropout = nn.Dropout(plan.dropout)
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.frames, self.min_size)
        x = self.stages(self.stem(x)).mean(dim=(2, 3, 4))
        return self.fc(self.dropout(x))


@dataclass(frozen=True)
class CSNPlan:
    """ir-CSN or ip-CSN on a ResNet of `depth` 50, 101 or 152."""

    depth: int = 152
    mode: str = "ir"
    dropout: float = 0.5

    def build(self, num_classes: int, frames: int) -> CSN:
        """The module for `num_classes` classes and clips of `frames` frames."""
        check_min_frames(frames, 8, "stages 2-4 halve T")
        return CSN(self, num_classes, frames)

    def summary(self) -> ArchSummary:
        """The channel-separated operator in every stage; T halved in stages 2-4."""
        spec = CSN_OPERATORS[self.mode]
        slots = tuple((f"stage {i + 1}", spec) for i in range(4))
        return ArchSummary(
            "3x7x7 conv + 1x3x3 max-pool",
            (spec.name,) * 4,
            "temporal stride 2 in stages 2-4",
            slots,
        )


CSN_OPTIONS = ("depth", "mode", "dropout")


def csn(*, depth: int = 152, mode: str = "ir", dropout: float = 0.5, **unknown: Any) -> CSNPlan:
    """Plan an ir-CSN (`mode="ir"`) or ip-CSN (`"ip"`) of ResNet `depth`."""
    for name, value in unknown.items():
        raise ArgumentError(name, value, "an option of csn (" + ", ".join(CSN_OPTIONS) + ")")
    if depth not in CSN_DEPTHS:
        raise ArgumentError("depth", depth, ", ".join(map(str, CSN_DEPTHS)))
    if mode not in CSN_OPERATORS:
        raise ArgumentError("mode", mode, "'ir' or 'ip'")
    return CSNPlan(depth, mode, dropout)
