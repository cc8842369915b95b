"""One ResNet skeleton for video: per-stage conv operators, temporal modules, temporal
pooling/striding and a classifier head. Every variant is a plan made by `video_resnet`.

The skeleton asks each stage's operator for its stride rule (does it take a temporal
stride?) and layout (does BatchNorm follow it?); it never branches on an operator's name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from stbench.models.convs import conv3d
from stbench.models.heads import ClassifierHead
from stbench.models.layout import children_frame_wise, frame_wise_flags, run_chain, unfolded
from stbench.models.operators import OpSpec, checked, get_operator, make_operator, route_args
from stbench.models.pooling import POOL_MODES, Pool, temporal_pool
from stbench.models.summary import ArchSummary, span
from stbench.models.temporal import get_temporal, make_temporal
from stbench.models.validation import (
    ArgumentError,
    check_choice,
    check_input,
    check_min_frames,
)
from torch import nn

STAGE_PLANES = (64, 128, 256, 512)
DEPTHS: dict[int, tuple[str, tuple[int, ...]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
}
STEM_POOL = Pool((1, 3, 3), (1, 2, 2), (0, 1, 1), mode="max")
# Chen et al./IBM ResNets: max (or avg, count_include_pad=False) pooling k3 s2 along T.
RESNET_TEMPORAL_POOL = temporal_pool(count_include_pad=False)


def conv_bn(in_ch: int, out_ch: int, kernel: tuple[int, int, int], stride=(1, 1, 1)) -> nn.Module:
    """A bias-free Conv3d with 'same' padding followed by BatchNorm3d."""
    return nn.Sequential(conv3d(in_ch, out_ch, kernel, stride), nn.BatchNorm3d(out_ch))


def shortcut(in_ch: int, out_ch: int, stride: int, t_stride: int) -> nn.Module | None:
    """Projection shortcut (1x1x1 conv + BN) when shape changes, else None (identity)."""
    if stride == 1 and t_stride == 1 and in_ch == out_ch:
        return None
    return conv_bn(in_ch, out_ch, (1, 1, 1), (t_stride, stride, stride))


@dataclass(frozen=True)
class BlockPlan:
    """One residual block: its k x k operator, strides and attached temporal modules.

    `conv_a_kernel` gives a bottleneck's first 1x1 conv a temporal extent (SlowFast's
    t x 1 x 1 conv_a); `branch` is a temporal module at the head of the residual branch,
    `after` one that follows the block.
    """

    op: OpSpec
    where: str
    stride: int = 1
    temporal_stride: int = 1
    conv_a_kernel: int = 1
    branch: str | None = None
    after: str | None = None

    def conv(self, in_ch: int, out_ch: int, strided: bool = True) -> nn.Module:
        """The block's operator for one k x k slot (`strided`: the slot that strides)."""
        s, ts = (self.stride, self.temporal_stride) if strided else (1, 1)
        return make_operator(self.op, in_ch, out_ch, 3, s, ts, where=self.where)

    def norm(self, channels: int) -> nn.Module:
        """BatchNorm after the operator, unless the operator's layout drops it."""
        keep = get_operator(self.op.name).norm_after(self.op)
        return nn.BatchNorm3d(channels) if keep else nn.Identity()

    def branch_module(self, channels: int, frames: int | None = None) -> nn.Module:
        """The residual branch's temporal module (identity when there is none); `frames` is
        the T it sees (lets it run on the folded layout)."""
        return make_temporal(self.branch, channels, frames) if self.branch else nn.Identity()

    def frames_after(self, frames: int | None) -> int | None:
        """T after this block (its temporal stride, 'same' padding), None if unknown."""
        return None if frames is None else (frames - 1) // self.temporal_stride + 1


class ResidualBlock(nn.Module):
    """Base of the residual blocks: frame-wise when every part is (see ``layout.py``)."""

    runs_per_frame = children_frame_wise


class BasicBlock(ResidualBlock):
    """Two operator convs (k x k slots) with BN; optional temporal module in the branch."""

    expansion = 1

    def __init__(self, in_ch: int, planes: int, plan: BlockPlan, frames: int | None = None) -> None:
        super().__init__()
        self.temporal = plan.branch_module(in_ch, frames)
        self.conv1 = plan.conv(in_ch, planes)
        self.bn1 = plan.norm(planes)
        self.conv2 = plan.conv(planes, planes, strided=False)
        self.bn2 = plan.norm(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = shortcut(in_ch, planes, plan.stride, plan.temporal_stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(self.temporal(x))))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(ResidualBlock):
    """1x1 (conv_a) -> operator (k x k slot, carries the stride) -> 1x1, expansion 4."""

    expansion = 4

    def __init__(self, in_ch: int, planes: int, plan: BlockPlan, frames: int | None = None) -> None:
        super().__init__()
        out_ch = planes * self.expansion
        self.temporal = plan.branch_module(in_ch, frames)
        self.conv1 = conv_bn(in_ch, planes, (plan.conv_a_kernel, 1, 1))
        self.conv2 = plan.conv(planes, planes)
        self.bn2 = plan.norm(planes)
        self.conv3 = conv_bn(planes, out_ch, (1, 1, 1))
        self.relu = nn.ReLU(inplace=True)
        self.downsample = shortcut(in_ch, out_ch, plan.stride, plan.temporal_stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.conv1(self.temporal(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.conv3(out)
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


BLOCKS = {"basic": BasicBlock, "bottleneck": Bottleneck}


def make_stage(
    block: type[BasicBlock] | type[Bottleneck],
    in_ch: int,
    planes: int,
    plans: Sequence[BlockPlan],
    frames: int | None = None,
) -> tuple[nn.Sequential, int]:
    """One stage: a block per plan, each followed by its `after` temporal module if any;
    `frames` is the stage's input T (lets temporal modules run on the folded layout)."""
    layers: list[nn.Module] = []
    for plan in plans:
        layers.append(block(in_ch, planes, plan, frames))
        in_ch = planes * block.expansion
        frames = plan.frames_after(frames)
        if plan.after:
            layers.append(make_temporal(plan.after, in_ch, frames))
    return nn.Sequential(*layers), in_ch


def stage_label(plans: Sequence[BlockPlan]) -> str:
    """A stage in words: operator, ``+module`` per attached temporal module, conv_a extent."""
    label = plans[0].op.name
    for name in dict.fromkeys(m for p in plans for m in (p.branch, p.after) if m):
        label += f"+{name}"
    temporal_a = [p.conv_a_kernel for p in plans if p.conv_a_kernel > 1]
    if temporal_a:
        part = "" if len(temporal_a) == len(plans) else f" in {len(temporal_a)} of {len(plans)}"
        label += f" (conv_a {temporal_a[0]}x1x1{part})"
    return label


class ClipAsChannels(nn.Module):
    """R2D input (Tran et al. Sec. 3.1): stack the L frames as 3L channels, T becomes 1."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        return x.reshape(b, c * t, 1, h, w)


@dataclass(frozen=True)
class StemPlan:
    """The stem: a 7x7 conv of operator `op` (stride 1x2x2), BN, ReLU, optional 1x3x3 max-pool.

    `clip_as_channels` feeds it the whole clip as 3T channels (Tran et al.'s R2D).
    """

    op: OpSpec
    width: int = 64
    clip_as_channels: bool = False
    pool: bool = True

    def build(self, frames: int) -> nn.Sequential:
        """The stem module for clips of `frames` frames."""
        layers: list[nn.Module] = []
        in_ch = 3
        if self.clip_as_channels:
            layers.append(ClipAsChannels())
            in_ch = 3 * frames
        layers += [
            make_operator(self.op, in_ch, self.width, kernel_size=7, stride=2, where="stem"),
            nn.BatchNorm3d(self.width),
            nn.ReLU(inplace=True),
        ]
        if self.pool:
            layers.append(STEM_POOL.make())
        return nn.Sequential(*layers)

    @property
    def label(self) -> str:
        """The stem in words."""
        return f"{self.op} (clip as channels)" if self.clip_as_channels else str(self.op)


def temporal_positions(n_blocks: int, count: int, where: str) -> list[int]:
    """Blocks that get a temporal module: every other one ending at the last (Wang et al.'s
    non-local placement), or the last `count` blocks when the stage is too short for that."""
    if not 0 <= count <= n_blocks:
        raise ArgumentError("temporal_blocks", count, f"0 to {n_blocks}, the blocks of {where}")
    if 2 * count - 1 <= n_blocks:
        return sorted(n_blocks - 1 - 2 * i for i in range(count))
    return list(range(n_blocks - count, n_blocks))


class VideoResNet(nn.Module):
    """Stem -> 4 stages (each with its own operator) -> optional temporal pools -> head."""

    def __init__(
        self,
        stem: nn.Module,
        stages: Sequence[nn.Module],
        pools: dict[int, nn.Module],
        head: nn.Module,
        frames: int,
        min_size: int,
    ) -> None:
        super().__init__()
        self.frames = frames
        self.min_size = min_size
        self.stem = stem
        self.stages = nn.ModuleList(stages)
        self.pools = nn.ModuleDict({str(k): v for k, v in pools.items()})
        self.head = head
        # stem, every block and pool in order: frame-wise runs of it go folded (layout.py)
        chain: list[nn.Module] = [stem]
        for i, stage in enumerate(stages):
            chain += list(stage) + ([pools[i]] if i in pools else [])
        self._chain = tuple(chain)
        self._folds = frame_wise_flags(chain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.frames, self.min_size)
        batch = x.shape[0]
        return self.head(unfolded(run_chain(self._chain, self._folds, x, batch), batch))


@dataclass(frozen=True)
class ResNetPlan:
    """A video ResNet: stem, four stages of block plans, temporal pools after stages, head."""

    depth: int
    stem: StemPlan
    stages: tuple[tuple[BlockPlan, ...], ...]
    temporal_pool: tuple[int, ...] = ()
    tp_pool: str | None = None
    dropout: float = 0.5

    def build(self, num_classes: int, frames: int) -> VideoResNet:
        """The module for `num_classes` classes and clips of `frames` frames."""
        halvings = len(self.temporal_pool) + sum(s[0].temporal_stride // 2 for s in self.stages)
        if not self.stem.clip_as_channels:
            check_min_frames(frames, 2**halvings, f"the model halves T {halvings} times")
        block = BLOCKS[DEPTHS[self.depth][0]]
        in_ch, stages = self.stem.width, []
        t = 1 if self.stem.clip_as_channels else frames
        for i, (planes, plans) in enumerate(zip(STAGE_PLANES, self.stages, strict=True)):
            stage, in_ch = make_stage(block, in_ch, planes, plans, t)
            stages.append(stage)
            t = plans[0].frames_after(t)
            if i in self.temporal_pool:
                t = RESNET_TEMPORAL_POOL.out_size(t, 0)
        pools = {i: RESNET_TEMPORAL_POOL.make(self.tp_pool or "max") for i in self.temporal_pool}
        head = ClassifierHead(in_ch, num_classes, self.dropout)
        min_size = 32 if self.stem.pool else 16
        return VideoResNet(self.stem.build(frames), stages, pools, head, frames, min_size)

    def summary(self) -> ArchSummary:
        """Stem, per-stage operators and where T is halved, in words."""
        down = []
        if self.temporal_pool:
            label = RESNET_TEMPORAL_POOL.label(self.tp_pool or "max")
            down.append(f"{label} after {span(self.temporal_pool)}")
        strided = [i for i, s in enumerate(self.stages) if s[0].temporal_stride > 1]
        if strided:
            down.append(f"temporal stride 2 in {span(strided)}")
        return ArchSummary(
            stem=self.stem.label,
            operators=tuple(stage_label(s) for s in self.stages),
            temporal_pool="; ".join(down) or None,
            slots=tuple((s[0].where, s[0].op) for s in self.stages),
        )


def video_resnet(
    *,
    depth: int,
    operators: Sequence[str | OpSpec],
    stem: str | OpSpec = "2d",
    clip_as_channels: bool = False,
    stem_pool: bool = True,
    temporal_downsample: bool = False,
    temporal_pool: Sequence[int] = (),
    tp_pool: str | None = None,
    temporal: str | None = None,
    temporal_blocks: Sequence[int] | None = None,
    dropout: float = 0.5,
    **operator_args: Any,
) -> ResNetPlan:
    """Plan a video ResNet-`depth` with one operator spec per stage.

    `temporal_downsample` halves T in the first block of stages 2-4 wherever the stage's
    operator takes a temporal stride (Tran et al. Table 1; Chen et al.'s 3-D ``-tp``);
    `temporal_pool` lists the stages (0-based) followed by a k3 s2 temporal pool of mode
    `tp_pool`; `temporal` attaches a registered temporal module to `temporal_blocks` blocks
    per stage (default: every block). Other keyword arguments go to every stage whose
    operator takes them (e.g. GST's ``alpha``/``beta``, C3D's ``groups``).
    """
    check_choice("depth", depth, DEPTHS)
    counts = DEPTHS[depth][1]
    if isinstance(operators, (str, OpSpec)) or len(operators) != len(counts):
        raise ArgumentError("operators", operators, "a sequence of 4 operators, one per stage")
    slots = {f"stage {i + 1}": checked(o, f"stage {i + 1}") for i, o in enumerate(operators)}
    slots = route_args(slots, operator_args, video_resnet)
    for i in temporal_pool:
        check_choice("temporal_pool", i, range(len(counts)))
    if tp_pool is not None:
        if not temporal_pool:
            raise ArgumentError(
                "tp_pool", tp_pool, "only for models with temporal pooling layers (None here)"
            )
        check_choice("tp_pool", tp_pool, POOL_MODES)
    placement = get_temporal(temporal).placement if temporal else None
    per_stage = tuple(counts if temporal_blocks is None else temporal_blocks)
    if len(per_stage) != len(counts):
        raise ArgumentError("temporal_blocks", temporal_blocks, "one block count per stage (4)")
    stages = []
    for i, ((where, spec), n) in enumerate(zip(slots.items(), counts, strict=True)):
        takes_t = get_operator(spec.name).temporal_stride
        t_stride = 2 if temporal_downsample and i > 0 and takes_t else 1
        at = set(temporal_positions(n, per_stage[i], where)) if temporal else set()
        stages.append(
            tuple(
                BlockPlan(
                    spec,
                    where,
                    stride=(1 if i == 0 else 2) if j == 0 else 1,
                    temporal_stride=t_stride if j == 0 else 1,
                    branch=temporal if j in at and placement == "branch" else None,
                    after=temporal if j in at and placement == "after" else None,
                )
                for j in range(n)
            )
        )
    stem_plan = StemPlan(checked(stem, "stem"), clip_as_channels=clip_as_channels, pool=stem_pool)
    return ResNetPlan(depth, stem_plan, tuple(stages), tuple(temporal_pool), tp_pool, dropout)
