"""UniFormer(-V1) for video (Li et al., ICLR 2022, arXiv:2201.04676).

As the authors' release builds it (Sense-X/UniFormer ``video_classification/slowfast/models/
uniformer.py``, Uniformer with SPLIT False, STD False): a 3x4x4 convolution with stride
2x4x4 (T halved, temporal padding 1) and LayerNorm embeds the clip into C1 = 64 channels;
before stages 2-4 a 1x2x2 stride-1x2x2 convolution and LayerNorm widen to 128, 320, 512.
Every block first adds a dynamic position encoding (a depthwise 3x3x3 convolution, residual).
Stages 1-2 hold local-MHRA blocks ("CBlock"): BatchNorm, 1x1x1 conv, a depthwise 5x5x5
convolution (one head per channel: the local token affinity), 1x1x1 conv, residual; then
BatchNorm and a 1x1x1 4x MLP with GELU, residual. Stages 3-4 hold global-MHRA blocks
("SABlock"): pre-LayerNorm joint space-time self-attention over all T x H x W tokens (head
dimension 64, qkv with bias) and a 4x MLP, with residuals. A final BatchNorm, the
spatiotemporal mean and the classifier follow. S: blocks (3, 4, 8, 3); B: (5, 8, 20, 7).
The attention products (q k^T, attn v) are matrix products: ``matmul_macs``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch
from stbench.models.attention import PlainAttention
from stbench.models.operators import op
from stbench.models.summary import ArchSummary
from stbench.models.validation import ArgumentError, check_input, plan_from_options
from torch import nn

LOCAL_MHRA = op("local_mhra_dwconv5")
GLOBAL_MHRA = op("global_mhra_attention")
Size3 = tuple[int, int, int]


class Embed(nn.Module):
    """A strided Conv3d, then LayerNorm over channels (the release's PatchEmbed)."""

    def __init__(self, cin: int, cout: int, kernel: Size3, stride: Size3, pad: Size3) -> None:
        super().__init__()
        self.proj = nn.Conv3d(cin, cout, kernel, stride, pad)
        self.norm = nn.LayerNorm(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.proj(x)
        return self.norm(x.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3)


def _pointwise_mlp(dim: int) -> nn.Sequential:
    """1x1x1 conv to 4x, GELU, 1x1x1 conv back (the release's CMlp)."""
    return nn.Sequential(nn.Conv3d(dim, 4 * dim, 1), nn.GELU(), nn.Conv3d(4 * dim, dim, 1))


class LocalBlock(nn.Module):
    """Local MHRA block: DPE; BN -> 1x1x1 -> depthwise 5x5x5 -> 1x1x1; BN -> conv MLP."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.pos_embed = nn.Conv3d(dim, dim, 3, padding=1, groups=dim)
        self.norm1 = nn.BatchNorm3d(dim)
        self.conv1 = nn.Conv3d(dim, dim, 1)
        self.attn = nn.Conv3d(dim, dim, 5, padding=2, groups=dim)
        self.conv2 = nn.Conv3d(dim, dim, 1)
        self.norm2 = nn.BatchNorm3d(dim)
        self.mlp = _pointwise_mlp(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.pos_embed(x)
        x = x + self.conv2(self.attn(self.conv1(self.norm1(x))))
        return x + self.mlp(self.norm2(x))


class GlobalBlock(nn.Module):
    """Global MHRA block: DPE; LayerNorm -> joint space-time attention; LayerNorm -> MLP."""

    def __init__(self, dim: int, head_dim: int) -> None:
        super().__init__()
        self.pos_embed = nn.Conv3d(dim, dim, 3, padding=1, groups=dim)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = PlainAttention(dim, dim // head_dim)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.pos_embed(x)
        b, c, t, h, w = x.shape
        x = x.flatten(2).transpose(1, 2)
        x = x + self.attn(self.norm1(x))
        x = x + self.mlp(self.norm2(x))
        return x.transpose(1, 2).reshape(b, c, t, h, w)


class UniFormer(nn.Module):
    """Four stages (local, local, global, global) of UniFormer blocks -> BN, mean, FC."""

    def __init__(self, plan: UniFormerPlan, num_classes: int, frames: int) -> None:
        super().__init__()
        self.frames, self.min_size = frames, 32
        dims = plan.dims
        stages: list[nn.Module] = []
        for i, (dim, depth) in enumerate(zip(dims, plan.depths, strict=True)):
            embed = (
                Embed(3, dim, (3, 4, 4), (2, 4, 4), (1, 0, 0))
                if i == 0
                else Embed(dims[i - 1], dim, (1, 2, 2), (1, 2, 2), (0, 0, 0))
            )
            blocks = [
                LocalBlock(dim) if i < 2 else GlobalBlock(dim, plan.head_dim) for _ in range(depth)
            ]
            stages.append(nn.Sequential(embed, *blocks))
        self.stages = nn.Sequential(*stages)
        self.norm = nn.BatchNorm3d(dims[-1])
        self.head = nn.Linear(dims[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.frames, self.min_size)
        x = self.norm(self.stages(x))
        return self.head(x.flatten(2).mean(-1))


@dataclass(frozen=True)
class UniFormerPlan:
    """UniFormer: blocks per stage, widths (64, 128, 320, 512), head dimension 64."""

    depths: tuple[int, int, int, int] = (3, 4, 8, 3)
    dims: tuple[int, int, int, int] = (64, 128, 320, 512)
    head_dim: int = 64

    def build(self, num_classes: int, frames: int) -> UniFormer:
        """The module for `num_classes` classes and clips of `frames` frames."""
        return UniFormer(self, num_classes, frames)

    def summary(self) -> ArchSummary:
        """Local MHRA (depthwise 5x5x5) in stages 1-2, global attention in stages 3-4."""
        slots = (("stages 1-2", LOCAL_MHRA), ("stages 3-4", GLOBAL_MHRA))
        return ArchSummary(
            "3x4x4 conv embedding, stride 2x4x4",
            (LOCAL_MHRA.name, GLOBAL_MHRA.name),
            "2x at the embedding",
            slots,
        )


def uniformer(**options: Any) -> UniFormerPlan:
    """Plan a UniFormer: option depths, the blocks per stage (S: 3, 4, 8, 3, the default;
    B: 5, 8, 20, 7)."""
    plan = plan_from_options(UniFormerPlan, "uniformer", options, fixed=("dims", "head_dim"))
    depths = plan.depths
    if len(depths) != 4 or not all(isinstance(d, int) and d >= 1 for d in depths):
        raise ArgumentError("depths", depths, "four block counts >= 1")
    return replace(plan, depths=tuple(depths))
