"""Video transformers: the Video Swin Transformer (Liu et al., CVPR 2022, arXiv:2106.13230).

Video Swin, as the authors' release builds it (SwinTransformer/Video-Swin-Transformer
``mmaction/models/backbones/swin_transformer.py``, SwinTransformer3D; the same network as
mmaction2 ``mmaction/models/backbones/swin.py`` and torchvision ``swin3d_t/s/b``): a 2x4x4
tubelet embedding (a strided Conv3d with bias, then LayerNorm) to C channels; four stages
of pre-norm blocks of 3-D window attention (window 8x7x7, every second block shifted by half
a window, a learned relative position bias per head) and a 4x MLP with GELU; between stages
a 2x2 spatial patch merging (LayerNorm, then a linear 4C -> 2C without bias); a final
LayerNorm, global average pool, dropout and the classifier (mmaction2's I3DHead). A window
larger than the feature map shrinks to it and loses its shift there (``get_window_size``).
Attention products (q k^T, attn v) are matrix products: ``matmul_macs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from stbench.models.operators import op
from stbench.models.summary import ArchSummary
from stbench.models.validation import ArgumentError, check_input, plan_from_options
from torch import nn
from torch.nn import functional as F

WINDOW_ATTENTION = op("window_attention_3d")
Size3 = tuple[int, int, int]


def window_and_shift(size: Size3, window: Size3, shift: Size3) -> tuple[Size3, Size3]:
    """A window no larger than the feature map; no shift along an axis it covers whole."""
    win = tuple(min(s, w) for s, w in zip(size, window, strict=True))
    sh = tuple(0 if s <= w else h for s, w, h in zip(size, window, shift, strict=True))
    return win, sh  # type: ignore[return-value]


def to_windows(x: torch.Tensor, win: Size3) -> torch.Tensor:
    """(B, D, H, W, C) -> (B * windows, tokens per window, C)."""
    b, d, h, w, c = x.shape
    x = x.view(b, d // win[0], win[0], h // win[1], win[1], w // win[2], win[2], c)
    return x.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(-1, win[0] * win[1] * win[2], c)


def from_windows(x: torch.Tensor, win: Size3, b: int, d: int, h: int, w: int) -> torch.Tensor:
    """(B * windows, tokens per window, C) -> (B, D, H, W, C)."""
    x = x.view(b, d // win[0], h // win[1], w // win[2], win[0], win[1], win[2], -1)
    return x.permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(b, d, h, w, -1)


def relative_index(win: Size3) -> torch.Tensor:
    """(N, N) index into the relative position bias table of a window of N tokens."""
    coords = torch.stack(torch.meshgrid(*(torch.arange(n) for n in win), indexing="ij")).flatten(1)
    rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
    rel = rel + torch.tensor([win[0] - 1, win[1] - 1, win[2] - 1])
    return (
        rel[..., 0] * (2 * win[1] - 1) * (2 * win[2] - 1)
        + rel[..., 1] * (2 * win[2] - 1)
        + rel[..., 2]
    )


def shift_mask(size: Size3, win: Size3, shift: Size3, device: torch.device) -> torch.Tensor:
    """(windows, N, N) additive mask keeping a shifted window's tokens within their region."""
    region = torch.zeros(1, *size, 1, device=device)
    count = 0
    cuts = [
        (slice(-w), slice(-w, -s), slice(-s, None)) if s else (slice(None),)
        for w, s in zip(win, shift, strict=True)
    ]
    for d in cuts[0]:
        for h in cuts[1]:
            for w in cuts[2]:
                region[:, d, h, w, :] = count
                count += 1
    ids = to_windows(region, win).squeeze(-1)
    diff = ids[:, None, :] - ids[:, :, None]
    return torch.zeros_like(diff).masked_fill(diff != 0, -100.0)


class WindowAttention3D(nn.Module):
    """Multi-head self-attention within 3-D windows, with a relative position bias."""

    def __init__(self, dim: int, heads: int, window: Size3) -> None:
        super().__init__()
        self.heads, self.window = heads, window
        self.scale = (dim // heads) ** -0.5
        table = (2 * window[0] - 1) * (2 * window[1] - 1) * (2 * window[2] - 1)
        self.relative_position_bias_table = nn.Parameter(torch.zeros(table, heads))
        # the full window's index, cut to [:N, :N] where a window shrinks (as the release does)
        self.register_buffer("relative_position_index", relative_index(window), persistent=False)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        bw, n, c = x.shape
        qkv = self.qkv(x).reshape(bw, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0] * self.scale, qkv[1], qkv[2]
        attn = q @ k.transpose(-2, -1)
        index = self.relative_position_index[:n, :n].reshape(-1)
        bias = self.relative_position_bias_table[index].reshape(n, n, -1).permute(2, 0, 1)
        attn = attn + bias.unsqueeze(0)
        if mask is not None:
            nw = mask.shape[0]
            attn = attn.view(bw // nw, nw, self.heads, n, n) + mask[None, :, None]
            attn = attn.view(-1, self.heads, n, n)
        out = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(bw, n, c)
        return self.proj(out)


class SwinBlock3D(nn.Module):
    """LayerNorm -> (shifted) window attention -> residual; LayerNorm -> MLP -> residual."""

    def __init__(self, dim: int, heads: int, window: Size3, shifted: bool, mlp_ratio: float):
        super().__init__()
        self.window = window
        self.shift = tuple(w // 2 for w in window) if shifted else (0, 0, 0)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention3D(dim, heads, window)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, d, h, w, c = x.shape
        win, shift = window_and_shift((d, h, w), self.window, self.shift)
        y = self.norm1(x)
        pads = [(-n) % k for n, k in zip((d, h, w), win, strict=True)]
        y = F.pad(y, (0, 0, 0, pads[2], 0, pads[1], 0, pads[0]))
        dp, hp, wp = d + pads[0], h + pads[1], w + pads[2]
        mask = None
        if any(shift):
            y = torch.roll(y, shifts=tuple(-s for s in shift), dims=(1, 2, 3))
            mask = shift_mask((dp, hp, wp), win, shift, x.device)
        y = from_windows(self.attn(to_windows(y, win), mask), win, b, dp, hp, wp)
        if any(shift):
            y = torch.roll(y, shifts=shift, dims=(1, 2, 3))
        x = x + y[:, :d, :h, :w].contiguous()
        return x + self.mlp(self.norm2(x))


class PatchMerging(nn.Module):
    """2x2 spatial neighbours concatenated (4C), LayerNorm, linear to 2C (no bias)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, _, h, w, _ = x.shape
        x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        parts = [x[:, :, i::2, j::2] for j, i in ((0, 0), (0, 1), (1, 0), (1, 1))]
        return self.reduction(self.norm(torch.cat(parts, dim=-1)))


class VideoSwin(nn.Module):
    """Tubelet embedding -> four Swin stages (patch merging between) -> norm, pool, FC."""

    def __init__(self, plan: SwinPlan, num_classes: int, frames: int) -> None:
        super().__init__()
        self.frames, self.min_size = frames, 32
        self.patch = plan.patch
        dim = plan.embed_dim
        self.patch_embed = nn.Conv3d(3, dim, plan.patch, stride=plan.patch)
        self.patch_norm = nn.LayerNorm(dim)
        self.stages = nn.ModuleList()
        self.merges = nn.ModuleList()
        for i, (depth, heads) in enumerate(zip(plan.depths, plan.heads, strict=True)):
            blocks = [SwinBlock3D(dim, heads, plan.window, j % 2 == 1, 4.0) for j in range(depth)]
            self.stages.append(nn.Sequential(*blocks))
            if i < len(plan.depths) - 1:
                self.merges.append(PatchMerging(dim))
                dim *= 2
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(plan.dropout)
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.frames, self.min_size)
        pads = [(-n) % p for n, p in zip(x.shape[2:], self.patch, strict=True)]
        x = F.pad(x, (0, pads[2], 0, pads[1], 0, pads[0]))
        x = self.patch_norm(self.patch_embed(x).permute(0, 2, 3, 4, 1))
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i < len(self.merges):
                x = self.merges[i](x)
        x = self.norm(x).mean(dim=(1, 2, 3))
        return self.fc(self.dropout(x))


@dataclass(frozen=True)
class SwinPlan:
    """A Video Swin: embedding width C, blocks and heads per stage, window, tubelet."""

    embed_dim: int = 96
    depths: tuple[int, ...] = (2, 2, 6, 2)
    heads: tuple[int, ...] = (3, 6, 12, 24)
    window: Size3 = (8, 7, 7)
    patch: Size3 = (2, 4, 4)
    dropout: float = 0.5

    def build(self, num_classes: int, frames: int) -> VideoSwin:
        """The module for `num_classes` classes and clips of `frames` frames."""
        return VideoSwin(self, num_classes, frames)

    def summary(self) -> ArchSummary:
        """Shifted 3-D window attention in every stage; T halved once, by the tubelets."""
        slots = tuple((f"stage {i + 1}", WINDOW_ATTENTION) for i in range(len(self.depths)))
        stem = f"{'x'.join(map(str, self.patch))} tubelet embedding"
        t_pool = f"{self.patch[0]}x tubelets at the embedding" if self.patch[0] > 1 else None
        return ArchSummary(stem, (WINDOW_ATTENTION.name,) * len(slots), t_pool, slots)


SWIN_OPTIONS = ("embed_dim", "depths", "heads", "window", "dropout")


def video_swin(
    *,
    embed_dim: int = 96,
    depths: tuple[int, ...] = (2, 2, 6, 2),
    heads: tuple[int, ...] = (3, 6, 12, 24),
    window: Size3 = (8, 7, 7),
    dropout: float = 0.5,
    **unknown: Any,
) -> SwinPlan:
    """Plan a Video Swin with embedding width `embed_dim`, `depths` and `heads` per stage."""
    for name, value in unknown.items():
        raise ArgumentError(
            name, value, "an option of video_swin (" + ", ".join(SWIN_OPTIONS) + ")"
        )
    if len(depths) != len(heads):
        raise ArgumentError("heads", heads, f"one head count per stage ({len(depths)})")
    return SwinPlan(embed_dim, tuple(depths), tuple(heads), tuple(window), (2, 4, 4), dropout)


def sinusoid_table(positions: int, dim: int, device: torch.device) -> torch.Tensor:
    """(1, positions, dim) fixed sine-cosine position table (sin on even, cos on odd dims)."""
    pos = torch.arange(positions, dtype=torch.float64, device=device)[:, None]
    expo = (2 * (torch.arange(dim, device=device) // 2)).to(torch.float64) / dim
    angle = pos / torch.pow(torch.tensor(10000.0, dtype=torch.float64, device=device), expo)
    table = torch.where(torch.arange(dim, device=device) % 2 == 0, angle.sin(), angle.cos())
    return table.to(torch.float32)[None]


class GlobalAttention(nn.Module):
    """Multi-head self-attention over all tokens; q and v biases, no k bias (VideoMAE)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.q_bias = nn.Parameter(torch.zeros(dim))
        self.v_bias = nn.Parameter(torch.zeros(dim))
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        bias = torch.cat((self.q_bias, torch.zeros_like(self.v_bias), self.v_bias))
        qkv = self.qkv(x) + bias  # nn.Linear, so its MACs count as linear
        q, k, v = qkv.reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class ViTBlock(nn.Module):
    """Pre-norm transformer block: LayerNorm -> attention -> residual; LayerNorm -> MLP."""

    def __init__(self, dim: int, heads: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = GlobalAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VideoViT(nn.Module):
    """Tubelet embedding + fixed sine-cosine positions -> ViT blocks -> mean, LayerNorm, FC."""

    def __init__(self, plan: ViTPlan, num_classes: int, frames: int) -> None:
        super().__init__()
        self.frames, self.min_size = frames, plan.patch[1]
        self.patch = plan.patch
        dim = plan.embed_dim
        self.patch_embed = nn.Conv3d(3, dim, plan.patch, stride=plan.patch)
        self.blocks = nn.Sequential(*(ViTBlock(dim, plan.heads) for _ in range(plan.depth)))
        self.fc_norm = nn.LayerNorm(dim, eps=1e-6)
        self.dropout = nn.Dropout(plan.dropout)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.frames, self.min_size)
        x = self.patch_embed(x).flatten(2).transpose(1, 2)
        x = x + sinusoid_table(x.shape[1], x.shape[2], x.device).to(x.dtype)
        x = self.blocks(x)
        return self.head(self.dropout(self.fc_norm(x.mean(dim=1))))


@dataclass(frozen=True)
class ViTDims:
    """Width, blocks and heads of a ViT (ViT-B by default): what the video ViTs share."""

    embed_dim: int = 768
    depth: int = 12
    heads: int = 12


@dataclass(frozen=True)
class ViTPlan(ViTDims):
    """A plain video ViT on 2x16x16 tubelets (VideoMAE's fine-tuned classifier)."""

    patch: Size3 = (2, 16, 16)
    dropout: float = 0.5

    def build(self, num_classes: int, frames: int) -> VideoViT:
        """The module for `num_classes` classes and clips of `frames` frames."""
        if frames % self.patch[0]:
            raise ArgumentError(
                "frames", frames, f"a multiple of the tubelet length {self.patch[0]}"
            )
        return VideoViT(self, num_classes, frames)

    def summary(self) -> ArchSummary:
        """Joint space-time attention in every block; T halved by the tubelets."""
        slots = ((f"blocks 1-{self.depth}", JOINT_ATTENTION),)
        stem = f"{'x'.join(map(str, self.patch))} tubelet embedding"
        return ArchSummary(
            stem, (JOINT_ATTENTION.name,), f"{self.patch[0]}x tubelets at the embedding", slots
        )


JOINT_ATTENTION = op("joint_space_time_attention")


def video_vit(**options: Any) -> ViTPlan:
    """Plan a VideoMAE-style ViT on 2x16x16 tubelets: options embed_dim, depth, heads, dropout
    (ViT-B, dropout 0.5 by default)."""
    return plan_from_options(ViTPlan, "video_vit", options, fixed=("patch",))


class DividedBlock(nn.Module):
    """TimeSformer's divided space-time block: temporal attention (+ linear), then spatial
    attention per frame with the class token, then the MLP (Bertasius et al. Fig. 1)."""

    def __init__(self, dim: int, heads: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.temporal_norm1 = nn.LayerNorm(dim, eps=eps)
        self.temporal_attn = PlainAttention(dim, heads)
        self.temporal_fc = nn.Linear(dim, dim)
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = PlainAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, cls: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, n, t, c = x.shape  # x: (B, H*W, T, C) patch tokens; cls: (B, 1, C)
        xt = x.reshape(b * n, t, c)
        xt = xt + self.temporal_fc(self.temporal_attn(self.temporal_norm1(xt)))
        xs = xt.reshape(b, n, t, c).transpose(1, 2).reshape(b * t, n, c)
        xs = torch.cat((cls.repeat_interleave(t, dim=0), xs), dim=1)
        res = self.attn(self.norm1(xs))
        cls = cls + res[:, :1].reshape(b, t, c).mean(dim=1, keepdim=True)
        x = xt.reshape(b, n, t, c) + res[:, 1:].reshape(b, t, n, c).transpose(1, 2)
        tokens = torch.cat((cls, x.reshape(b, n * t, c)), dim=1)
        tokens = tokens + self.mlp(self.norm2(tokens))
        return tokens[:, :1], tokens[:, 1:].reshape(b, n, t, c)


class PlainAttention(nn.Module):
    """Multi-head self-attention with a qkv linear (with bias) and an output projection."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class TimeSformer(nn.Module):
    """Per-frame 16x16 patches, class token, space and time embeddings -> divided blocks ->
    LayerNorm -> class token -> FC (facebookresearch/TimeSformer ``models/vit.py``)."""

    def __init__(self, plan: TimeSformerPlan, num_classes: int, frames: int) -> None:
        super().__init__()
        self.frames, self.min_size, self.patch = frames, plan.patch, plan.patch
        dim = plan.embed_dim
        self.patch_embed = nn.Conv2d(3, dim, plan.patch, stride=plan.patch)
        grid = plan.train_size // plan.patch
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, grid * grid + 1, dim))
        self.time_embed = nn.Parameter(torch.zeros(1, frames, dim))
        self.blocks = nn.ModuleList(DividedBlock(dim, plan.heads) for _ in range(plan.depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.frames, self.min_size)
        b, _, t, _, _ = x.shape
        x = self.patch_embed(x.transpose(1, 2).flatten(0, 1))  # (B*T, C, h, w)
        h, w = x.shape[-2:]
        x = x.flatten(2).transpose(1, 2)  # (B*T, h*w, C)
        pos = self.pos_embed[:, 1:]
        grid = int(round(pos.shape[1] ** 0.5))
        if (h, w) != (grid, grid):  # as the release: nearest resize of the spatial table
            pos = pos.transpose(1, 2).reshape(1, -1, grid, grid)
            pos = F.interpolate(pos, size=(h, w), mode="nearest").flatten(2).transpose(1, 2)
        x = x + pos
        cls = (self.cls_token + self.pos_embed[:, :1]).expand(b, -1, -1)
        c = x.shape[-1]
        x = x.reshape(b, t, h * w, c).transpose(1, 2) + self.time_embed[:, None]
        for block in self.blocks:
            cls, x = block(cls, x)
        return self.head(self.norm(cls[:, 0]))


@dataclass(frozen=True)
class TimeSformerPlan(ViTDims):
    """TimeSformer: ViT-B/16 with divided space-time attention; positions for `train_size`."""

    patch: int = 16
    train_size: int = 224

    def build(self, num_classes: int, frames: int) -> TimeSformer:
        """The module for `num_classes` classes and clips of `frames` frames."""
        return TimeSformer(self, num_classes, frames)

    def summary(self) -> ArchSummary:
        """Divided space-time attention in every block; T is never reduced."""
        slots = ((f"blocks 1-{self.depth}", DIVIDED_ATTENTION),)
        stem = f"1x{self.patch}x{self.patch} patch embedding per frame"
        return ArchSummary(stem, (DIVIDED_ATTENTION.name,), None, slots)


DIVIDED_ATTENTION = op("divided_space_time_attention")


def timesformer(**options: Any) -> TimeSformerPlan:
    """Plan a TimeSformer (divided space-time attention): options embed_dim, depth, heads,
    train_size (ViT-B/16 with positions for 224 by default)."""
    return plan_from_options(TimeSformerPlan, "timesformer", options, fixed=("patch",))


def _prod(values: tuple[int, ...]) -> int:
    """Product of a tuple of ints (1 for an empty one)."""
    out = 1
    for v in values:
        out *= v
    return out


class TokenPool(nn.Module):
    """Pool the (T, H, W) grid of tokens, the class token kept apart, then an optional norm."""

    def __init__(self, pool: nn.Module, norm: nn.Module | None) -> None:
        super().__init__()
        self.pool, self.norm = pool, norm

    def forward(self, x: torch.Tensor, thw: Size3) -> tuple[torch.Tensor, Size3]:
        squeeze = x.dim() == 3
        if squeeze:
            x = x.unsqueeze(1)
        b, n, _, c = x.shape
        cls, grid = x[:, :, :1], x[:, :, 1:]
        grid = self.pool(grid.transpose(2, 3).reshape(b * n, c, *thw))
        out_thw = tuple(grid.shape[2:])
        x = torch.cat((cls, grid.reshape(b, n, c, -1).transpose(2, 3)), dim=2)
        if self.norm is not None:
            x = self.norm(x)
        return (x.squeeze(1) if squeeze else x), out_thw  # type: ignore[return-value]


def _pooling(dim: int, kernel: tuple[int, ...], stride: tuple[int, ...]) -> TokenPool | None:
    """Channel-wise conv pooling of q, k or v (MViT's "conv" mode) with a LayerNorm."""
    if _prod(kernel) == 1 and _prod(stride) == 1:
        return None
    pad = tuple(k // 2 for k in kernel)
    conv = nn.Conv3d(dim, dim, kernel, stride=stride, padding=pad, groups=dim, bias=False)
    return TokenPool(conv, nn.LayerNorm(dim, eps=1e-6))


def _rel_index(q: int, k: int) -> torch.Tensor:
    """(q, k) index of decomposed relative positions between q and k grids of one axis."""
    q_ratio, k_ratio = max(k / q, 1.0), max(q / k, 1.0)
    dist = torch.arange(q)[:, None] * q_ratio - (torch.arange(k)[None, :] + (1.0 - k)) * k_ratio
    return dist.long()


def _resize(table: torch.Tensor, length: int) -> torch.Tensor:
    """A relative position table linearly resized to `length` rows (unchanged if it fits)."""
    if table.shape[0] == length:
        return table
    resized = F.interpolate(table.t()[None], size=length, mode="linear")
    return resized[0].t()


class MultiscaleAttention(nn.Module):
    """Pooling attention (Fan et al. 2021): q, k, v pooled by channel-wise convs; MViTv2 adds
    decomposed relative positions and the pooled-q residual (Li et al. 2022)."""

    def __init__(self, cfg: MViTBlockConfig, in_thw: Size3, attn_dim: int, v2: bool) -> None:
        super().__init__()
        self.heads, self.v2 = cfg.heads, v2
        self.head_dim = attn_dim // cfg.heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(cfg.dim_in, 3 * attn_dim)
        self.proj = nn.Linear(attn_dim, attn_dim)
        self.pool_q = _pooling(self.head_dim, cfg.kernel_q, cfg.stride_q)
        self.pool_k = _pooling(self.head_dim, cfg.kernel_kv, cfg.stride_kv)
        self.pool_v = _pooling(self.head_dim, cfg.kernel_kv, cfg.stride_kv)
        if v2:
            size = max(in_thw[1:])
            q_size, kv_size = size // cfg.stride_q[1], size // cfg.stride_kv[1]
            spatial = 2 * max(q_size, kv_size) - 1
            self.rel_pos_h = nn.Parameter(torch.zeros(spatial, self.head_dim))
            self.rel_pos_w = nn.Parameter(torch.zeros(spatial, self.head_dim))
            self.rel_pos_t = nn.Parameter(torch.zeros(2 * in_thw[0] - 1, self.head_dim))

    def _rel_pos(self, attn: torch.Tensor, q: torch.Tensor, q_thw: Size3, k_thw: Size3):
        """attn + the decomposed (t, h, w) relative position terms of q (class token aside)."""
        tables = (self.rel_pos_t, self.rel_pos_h, self.rel_pos_w)
        r = [
            _resize(tab, 2 * max(qn, kn) - 1)[_rel_index(qn, kn).to(q.device)]
            for tab, qn, kn in zip(tables, q_thw, k_thw, strict=True)
        ]
        b, heads, _, dim = q.shape
        (qt, qh, qw), (kt, kh, kw) = q_thw, k_thw
        rq = q[:, :, 1:].reshape(b, heads, qt, qh, qw, dim)
        rel_h = torch.einsum("bythwc,hkc->bythwk", rq, r[1])
        rel_w = torch.einsum("bythwc,wkc->bythwk", rq, r[2])
        rel_t = torch.einsum("bythwc,tkc->bythwk", rq, r[0])
        rel = (
            rel_h[:, :, :, :, :, None, :, None]
            + rel_w[:, :, :, :, :, None, None, :]
            + rel_t[:, :, :, :, :, :, None, None]
        ).reshape(b, heads, qt * qh * qw, kt * kh * kw)
        return torch.cat(
            (attn[:, :, :1], torch.cat((attn[:, :, 1:, :1], attn[:, :, 1:, 1:] + rel), 3)), 2
        )

    def forward(self, x: torch.Tensor, thw: Size3) -> tuple[torch.Tensor, Size3]:
        b, n, _ = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, self.head_dim).transpose(1, 3)
        q, k, v = qkv.unbind(dim=2)  # (B, heads, N, head_dim) each
        k_thw = q_thw = thw
        if self.pool_k is not None:
            k, k_thw = self.pool_k(k, thw)
            v = self.pool_v(v, thw)[0]
        if self.pool_q is not None:
            q, q_thw = self.pool_q(q, thw)
        attn = (self.scale * q) @ k.transpose(2, 3)
        if self.v2:
            attn = self._rel_pos(attn, q, q_thw, k_thw)
        out = attn.softmax(dim=-1) @ v
        if self.v2:  # residual pooling: + pooled q (the class token excluded)
            out = torch.cat((out[:, :, :1], out[:, :, 1:] + q[:, :, 1:]), dim=2)
        return self.proj(out.transpose(1, 2).reshape(b, -1, self.heads * self.head_dim)), q_thw


class MultiscaleBlock(nn.Module):
    """LayerNorm -> pooling attention (+ pooled skip) -> LayerNorm -> MLP; the width changes
    in the MLP and its skip projection (MViT) or in the attention (MViTv2)."""

    def __init__(self, cfg: MViTBlockConfig, in_thw: Size3, v2: bool) -> None:
        super().__init__()
        self.v2 = v2
        attn_dim = cfg.dim_out if v2 else cfg.dim_in
        self.pool_skip = None
        if _prod(cfg.stride_q) > 1:
            kernel = tuple(s + 1 if s > 1 else s for s in cfg.stride_q)
            pool = nn.MaxPool3d(kernel, cfg.stride_q, tuple(k // 2 for k in kernel))
            self.pool_skip = TokenPool(pool, None)
        self.norm1 = nn.LayerNorm(cfg.dim_in, eps=1e-6)
        self.attn = MultiscaleAttention(cfg, in_thw, attn_dim, v2)
        self.norm2 = nn.LayerNorm(attn_dim, eps=1e-6)
        self.mlp = nn.Sequential(
            nn.Linear(attn_dim, 4 * attn_dim), nn.GELU(), nn.Linear(4 * attn_dim, cfg.dim_out)
        )
        self.project = nn.Linear(cfg.dim_in, cfg.dim_out) if cfg.dim_in != cfg.dim_out else None

    def forward(self, x: torch.Tensor, thw: Size3) -> tuple[torch.Tensor, Size3]:
        x_norm1 = self.norm1(x)
        x_attn, thw_new = self.attn(x_norm1, thw)
        if self.project is not None and self.v2:
            x = self.project(x_norm1)
        skip = x if self.pool_skip is None else self.pool_skip(x, thw)[0]
        x = skip + x_attn
        x_norm2 = self.norm2(x)
        if self.project is not None and not self.v2:
            x = self.project(x_norm2)
        return x + self.mlp(x_norm2), thw_new


@dataclass(frozen=True)
class MViTBlockConfig:
    """One MViT block: heads, widths in and out, q and kv pooling kernels and strides."""

    heads: int
    dim_in: int
    dim_out: int
    kernel_q: Size3
    kernel_kv: Size3
    stride_q: Size3
    stride_kv: Size3


class MViT(nn.Module):
    """Conv cube embedding, class token (+ absolute positions in v1) -> multiscale blocks ->
    LayerNorm -> class token -> dropout -> FC (torchvision ``models/video/mvit.py``)."""

    def __init__(self, plan: MViTPlan, num_classes: int, frames: int) -> None:
        super().__init__()
        self.frames, self.min_size, self.size = frames, plan.size, plan.size
        blocks = plan.blocks()
        dim = blocks[0].dim_in
        self.conv_proj = nn.Conv3d(3, dim, (3, 7, 7), stride=(2, 4, 4), padding=(1, 3, 3))
        thw = (frames // 2, plan.size // 4, plan.size // 4)
        self.thw = thw
        self.class_token = nn.Parameter(torch.zeros(dim))
        self.v2 = plan.version == 2
        if not self.v2:
            self.spatial_pos = nn.Parameter(torch.zeros(thw[1] * thw[2], dim))
            self.temporal_pos = nn.Parameter(torch.zeros(thw[0], dim))
            self.class_pos = nn.Parameter(torch.zeros(dim))
        self.blocks = nn.ModuleList()
        for cfg in blocks:
            self.blocks.append(MultiscaleBlock(cfg, thw, self.v2))
            thw = tuple(n // s for n, s in zip(thw, cfg.stride_q, strict=True))  # type: ignore[assignment]
        self.norm = nn.LayerNorm(blocks[-1].dim_out, eps=1e-6)
        self.dropout = nn.Dropout(plan.dropout)
        self.head = nn.Linear(blocks[-1].dim_out, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(x, self.frames, self.min_size)
        if x.shape[-2:] != (self.size, self.size):
            raise ValueError(
                f"x: got spatial size {x.shape[-2]}x{x.shape[-1]}; allowed: "
                f"{self.size}x{self.size}, the size the position tables were built for"
            )
        x = self.conv_proj(x).flatten(2).transpose(1, 2)
        cls = self.class_token.expand(x.shape[0], 1, -1)
        x = torch.cat((cls, x), dim=1)
        if not self.v2:
            hw, c = self.spatial_pos.shape
            pos = self.temporal_pos.repeat_interleave(hw, dim=0) + self.spatial_pos.repeat(
                self.thw[0], 1
            )
            x = x + torch.cat((self.class_pos[None], pos), dim=0)[None]
        thw = self.thw
        for block in self.blocks:
            x, thw = block(x, thw)
        return self.head(self.dropout(self.norm(x)[:, 0]))


@dataclass(frozen=True)
class MViTPlan:
    """MViT (version 1) or MViTv2: blocks per stage (widths 96, 192, 384, 768; heads 1, 2, 4,
    8; q pooled 1x2x2 entering stages 2-4; kv strides 1x8x8 shrinking with q)."""

    version: int = 1
    depths: tuple[int, ...] = (1, 2, 11, 2)
    size: int = 224
    dropout: float = 0.5

    def blocks(self) -> list[MViTBlockConfig]:
        """The block settings, as torchvision's ``mvit_v1_b``/``mvit_v2_s`` tables write them."""
        widths, heads, out = (96, 192, 384, 768), (1, 2, 4, 8), []
        kv = (1, 8, 8)
        for stage, n in enumerate(self.depths):
            for j in range(n):
                first = j == 0 and stage > 0
                stride_q = (1, 2, 2) if first else (1, 1, 1)
                if first:
                    kv = tuple(max(k // s, 1) for k, s in zip(kv, stride_q, strict=True))  # type: ignore[assignment]
                last_of_stage = j == n - 1 and stage < len(self.depths) - 1
                if self.version == 2:  # the width changes in a stage's first block
                    dim_in = widths[stage - 1] if first else widths[stage]
                    dim_out = widths[stage]
                else:  # ... in the MLP of the block before it
                    dim_in = widths[stage]
                    dim_out = widths[stage + 1] if last_of_stage else widths[stage]
                kernel_q = (3, 3, 3) if first or self.version == 2 else (1, 1, 1)
                out.append(
                    MViTBlockConfig(
                        heads[stage],
                        dim_in,
                        dim_out,
                        kernel_q,
                        (3, 3, 3),
                        stride_q,
                        kv,  # type: ignore[arg-type]
                    )
                )
        return out

    def build(self, num_classes: int, frames: int) -> MViT:
        """The module for `num_classes` classes and clips of `frames` frames."""
        if frames % 2:
            raise ArgumentError(
                "frames", frames, "an even number (the 3x7x7 cube embedding has temporal stride 2)"
            )
        return MViT(self, num_classes, frames)

    def summary(self) -> ArchSummary:
        """Pooling attention in every stage; T halved once, by the cube embedding."""
        name = POOLING_ATTENTION_V2 if self.version == 2 else POOLING_ATTENTION
        slots = tuple((f"stage {i + 1}", name) for i in range(len(self.depths)))
        stem = "3x7x7 cube embedding, stride 2x4x4"
        return ArchSummary(stem, (name.name,) * len(slots), "stride 2 at the cube embedding", slots)


POOLING_ATTENTION = op("pooling_attention")
POOLING_ATTENTION_V2 = op("pooling_attention_relpos_residual")
MVIT_OPTIONS = ("version", "depths", "size", "dropout")


def mvit(
    *,
    version: int = 1,
    depths: tuple[int, ...] = (1, 2, 11, 2),
    size: int = 224,
    dropout: float = 0.5,
    **unknown: Any,
) -> MViTPlan:
    """Plan an MViT (`version` 1) or MViTv2 (2) with `depths` blocks per stage at `size`."""
    for name, value in unknown.items():
        raise ArgumentError(name, value, "an option of mvit (" + ", ".join(MVIT_OPTIONS) + ")")
    if version not in (1, 2):
        raise ArgumentError("version", version, "1 (MViT) or 2 (MViTv2)")
    return MViTPlan(version, tuple(depths), size, dropout)
