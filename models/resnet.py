"""One ResNet skeleton for video: per-stage conv operators, optional temporal modules,
temporal pooling/striding and a classifier head. Every variant is a set of arguments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from stbench.models.heads import ClassifierHead
from stbench.models.operators import make_operator
from stbench.models.temporal import NonLocalBlock, make_temporal, make_temporal_pool
from stbench.models.validation import check_input, check_min_frames
from torch import nn

STAGE_PLANES = (64, 128, 256, 512)
DEPTHS: dict[int, tuple[str, tuple[int, ...]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
}
STEMS = ("2d", "3d", "r2plus1d", "clip2d")


def conv_bn(in_ch: int, out_ch: int, kernel: tuple[int, int, int], stride=(1, 1, 1)) -> nn.Module:
    """A bias-free Conv3d with 'same' padding followed by BatchNorm3d."""
    pad = tuple(k // 2 for k in kernel)
    return nn.Sequential(
        nn.Conv3d(in_ch, out_ch, kernel, stride, pad, bias=False), nn.BatchNorm3d(out_ch)
    )


def shortcut(in_ch: int, out_ch: int, stride: int, t_stride: int) -> nn.Module | None:
    """Projection shortcut (1x1x1 conv + BN) when shape changes, else None (identity)."""
    if stride == 1 and t_stride == 1 and in_ch == out_ch:
        return None
    return conv_bn(in_ch, out_ch, (1, 1, 1), (t_stride, stride, stride))


class BasicBlock(nn.Module):
    """Two operator convs (k x k slots) with BN; optional temporal module in the branch."""

    expansion = 1

    def __init__(
        self,
        in_ch: int,
        planes: int,
        op: str,
        stride: int = 1,
        t_stride: int = 1,
        op_kwargs: dict[str, Any] | None = None,
        temporal: str | None = None,
    ) -> None:
        super().__init__()
        kw = op_kwargs or {}
        self.temporal = make_temporal(temporal, in_ch) if temporal else nn.Identity()
        self.conv1 = make_operator(op, in_ch, planes, 3, stride, t_stride, **kw)
        self.bn1 = nn.BatchNorm3d(planes)
        self.conv2 = make_operator(op, planes, planes, 3, 1, 1, **kw)
        self.bn2 = nn.BatchNorm3d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = shortcut(in_ch, planes, stride, t_stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(self.temporal(x))))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 -> operator (k x k slot, carries the stride) -> 1x1, expansion 4.

    `a_kernel_t` gives the first 1x1 conv a temporal extent (SlowFast's t x 1 x 1 conv_a).
    """

    expansion = 4

    def __init__(
        self,
        in_ch: int,
        planes: int,
        op: str,
        stride: int = 1,
        t_stride: int = 1,
        op_kwargs: dict[str, Any] | None = None,
        temporal: str | None = None,
        a_kernel_t: int = 1,
    ) -> None:
        super().__init__()
        kw = op_kwargs or {}
        out_ch = planes * self.expansion
        self.temporal = make_temporal(temporal, in_ch) if temporal else nn.Identity()
        self.conv1 = conv_bn(in_ch, planes, (a_kernel_t, 1, 1))
        self.conv2 = make_operator(op, planes, planes, 3, stride, t_stride, **kw)
        self.bn2 = nn.BatchNorm3d(planes)
        self.conv3 = conv_bn(planes, out_ch, (1, 1, 1))
        self.relu = nn.ReLU(inplace=True)
        self.downsample = shortcut(in_ch, out_ch, stride, t_stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.conv1(self.temporal(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.conv3(out)
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ClipAsChannels(nn.Module):
    """R2D input (Tran et al. Sec. 3.1): stack the L frames as 3L channels, T becomes 1."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        return x.reshape(b, c * t, 1, h, w)


def make_stem(
    kind: str, frames: int, width: int = 64, pool: bool = True, **kwargs: Any
) -> nn.Sequential:
    """Stem: a 7x7 conv of operator `kind` (stride 1x2x2), BN, ReLU, optional 1x3x3 max-pool."""
    if kind not in STEMS:
        raise ValueError(f"stem: got {kind!r}; allowed: {', '.join(STEMS)}")
    layers: list[nn.Module] = []
    in_ch = 3
    if kind == "clip2d":
        layers.append(ClipAsChannels())
        in_ch, kind = 3 * frames, "2d"
    layers += [
        make_operator(kind, in_ch, width, kernel_size=7, stride=2, **kwargs),
        nn.BatchNorm3d(width),
        nn.ReLU(inplace=True),
    ]
    if pool:
        layers.append(nn.MaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1)))
    return nn.Sequential(*layers)


def nonlocal_positions(n_blocks: int, n_nl: int) -> list[int]:
    """Blocks followed by a non-local block: every other one ending at the last (Wang et al.),
    or the last `n_nl` blocks when the stage is too short for that."""
    if n_nl > n_blocks:
        raise ValueError(f"nonlocal_blocks: got {n_nl} for a stage of {n_blocks} blocks")
    if 2 * n_nl - 1 <= n_blocks:
        return sorted(n_blocks - 1 - 2 * i for i in range(n_nl))
    return list(range(n_blocks - n_nl, n_blocks))


def make_stage(
    block: type[BasicBlock] | type[Bottleneck],
    in_ch: int,
    planes: int,
    n: int,
    op: str,
    stride: int,
    t_stride: int,
    op_kwargs: dict[str, Any],
    temporal: str | None,
    n_nonlocal: int = 0,
) -> tuple[nn.Sequential, int]:
    """One stage of `n` blocks (the first one strides), non-local blocks interleaved."""
    nl_at = set(nonlocal_positions(n, n_nonlocal))
    blocks: list[nn.Module] = []
    for j in range(n):
        first = j == 0
        blocks.append(
            block(
                in_ch,
                planes,
                op,
                stride if first else 1,
                t_stride if first else 1,
                op_kwargs,
                temporal,
            )
        )
        in_ch = planes * block.expansion
        if j in nl_at:
            blocks.append(NonLocalBlock(in_ch))
    return nn.Sequential(*blocks), in_ch


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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.frames, self.min_size)
        x = self.stem(x)
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if str(i) in self.pools:
                x = self.pools[str(i)](x)
        return self.head(x)


def _op_kwargs(
    operators: Sequence[str], op_kwargs: dict[str, Any] | None, alpha: Any, beta: Any
) -> dict[str, Any]:
    kw = dict(op_kwargs or {})
    if "gst" in operators:
        kw["alpha"] = 0.25 if alpha is None else alpha
        kw["beta"] = 0.5 if beta is None else beta
    elif alpha is not None or beta is not None:
        name = "alpha" if alpha is not None else "beta"
        raise ValueError(
            f"{name}: got {alpha if alpha is not None else beta!r}; allowed: only for models "
            f"with the 'gst' operator (this one uses {sorted(set(operators))})"
        )
    return kw


def build_video_resnet(
    *,
    num_classes: int,
    frames: int,
    depth: int,
    operators: Sequence[str],
    stem: str = "2d",
    stem_kwargs: dict[str, Any] | None = None,
    stem_pool: bool = True,
    temporal_strides: Sequence[int] = (1, 1, 1, 1),
    temporal_pool_after: Sequence[int] = (),
    tp_pool: str | None = None,
    block_temporal: str | None = None,
    nonlocal_blocks: Sequence[int] = (0, 0, 0, 0),
    op_kwargs: dict[str, Any] | None = None,
    groups: int = 1,
    alpha: float | None = None,
    beta: float | None = None,
    dropout: float = 0.5,
) -> VideoResNet:
    """Build a video ResNet-`depth` from per-stage operator names and temporal settings."""
    if depth not in DEPTHS:
        raise ValueError(f"depth: got {depth!r}; allowed: {sorted(DEPTHS)}")
    if len(operators) != 4 or len(temporal_strides) != 4 or len(nonlocal_blocks) != 4:
        raise ValueError("operators, temporal_strides, nonlocal_blocks: need one entry per stage")
    if temporal_pool_after and tp_pool is None:
        tp_pool = "max"
    if tp_pool is not None and not temporal_pool_after:
        raise ValueError(
            f"tp_pool: got {tp_pool!r}; allowed: only for models with temporal pooling layers"
        )
    t_factor = 2 ** len(temporal_pool_after)
    for s in temporal_strides:
        t_factor *= s
    if stem != "clip2d":
        check_min_frames(frames, t_factor, f"the model halves T {t_factor.bit_length() - 1} times")
    kw = _op_kwargs(operators, op_kwargs, alpha, beta)
    if groups != 1:
        if set(operators) - {"2d", "3d"}:
            raise ValueError(
                f"groups: got {groups}; allowed: only with the '2d'/'3d' operators "
                f"(this model uses {sorted(set(operators))})"
            )
        kw["groups"] = groups
    kind, counts = DEPTHS[depth]
    block = BasicBlock if kind == "basic" else Bottleneck
    stem_mod = make_stem(stem, frames, pool=stem_pool, **(stem_kwargs or {}))
    in_ch, stages = 64, []
    for i, (planes, n, op) in enumerate(zip(STAGE_PLANES, counts, operators, strict=True)):
        stage, in_ch = make_stage(
            block,
            in_ch,
            planes,
            n,
            op,
            1 if i == 0 else 2,
            temporal_strides[i],
            kw,
            block_temporal,
            nonlocal_blocks[i],
        )
        stages.append(stage)
    pools = {i: make_temporal_pool(tp_pool) for i in temporal_pool_after}
    min_size = 32 if stem_pool else 16
    head = ClassifierHead(in_ch, num_classes, dropout)
    return VideoResNet(stem_mod, stages, pools, head, frames, min_size)
