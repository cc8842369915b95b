"""Straightforward eager implementations the zoo's formulations are benchmarked against
(``benchmarks/test_bench_operators.py``): same weights, same outputs, written the way a user
would write them, plus the interleaved timer that compares them.

Networks: `plain_2d` turns a frame-wise zoo network (TSN/TAM/TSM ResNet or InceptionV1)
into a plain 2-D network over B*T frames (nn.Conv2d, BatchNorm2d, 2-D pools; the frames
averaged at the head); `plain_3d` turns any zoo ResNet into one that runs every layer on
(B, C, T, H, W) with nn.Conv3d (1 x k x k for its 2-D convs), as torchvision's video
ResNets do; `ReferenceFormulation` runs a zoo network with the kernels it ran before the
shifted formulations. Operators: TAM as three depthwise convs and as the old depthwise t=3
conv, TSM with a zero tensor, the 3-D pools of tavg/tmax, indexed max pools, non-local
attention through ``scaled_dot_product_attention``.
"""

from __future__ import annotations

import copy
import os
import statistics
import time
from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F
from stbench.models.convs import Conv2dPerFrame
from stbench.models.formulations import REFERENCE, forced
from stbench.models.heads import ClassifierHead
from stbench.models.layout import fold, frame_wise, unfold
from stbench.models.temporal import (
    NonLocalBlock,
    TemporalAggregationModule,
    TemporalNeighbourPool,
    TemporalShift,
)
from torch import nn

# What the interleaved timer reads: the wall clock, or this thread's CPU time
# (STBENCH_BENCH_CLOCK=thread: with 1 thread on a shared core, time spent descheduled does
# not count; with more threads it would miss the workers').
CLOCKS = {"wall": time.perf_counter, "thread": time.thread_time}
CLOCK_NAME = os.environ.get("STBENCH_BENCH_CLOCK", "wall")
if CLOCK_NAME not in CLOCKS:
    raise ValueError(f"STBENCH_BENCH_CLOCK: got {CLOCK_NAME!r}; allowed: {', '.join(CLOCKS)}")
clock = CLOCKS[CLOCK_NAME]


def interleaved(
    fns: Mapping[str, Callable[[], object]], rounds: int, warmup: int = 1
) -> dict[str, list[float]]:
    """Seconds per call of every function, called in turn each round (shared noise)."""
    with torch.inference_mode():
        for _ in range(warmup):
            for fn in fns.values():
                fn()
        times: dict[str, list[float]] = {k: [] for k in fns}
        for _ in range(rounds):
            for name, fn in fns.items():
                t0 = clock()
                fn()
                times[name].append(clock() - t0)
    return times


def ratio_summary(times: Mapping[str, list[float]], zoo: str) -> dict[str, object]:
    """Per round zoo / fastest baseline of that round: median, min, max; best baseline."""
    base = [k for k in times if k != zoo]
    per_round = [times[zoo][i] / min(times[b][i] for b in base) for i in range(len(times[zoo]))]
    medians = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    return {
        "ratio_median": round(statistics.median(per_round), 3),
        "ratio_min": round(min(per_round), 3),
        "ratio_max": round(max(per_round), 3),
        "best_baseline": min(base, key=medians.__getitem__),
        "median_ms": {k: round(v, 3) for k, v in medians.items()},
        "rounds": len(per_round),
        "clock": CLOCK_NAME,
    }


# ------------------------------------------------------------------------------- operators


class ThreeConvTAM(nn.Module):
    """TAM as written in its paper: three depthwise 1x1 convs, shifted by padding, summed."""

    def __init__(self, tam: TemporalAggregationModule) -> None:
        super().__init__()
        self.prev, self.curr, self.next = tam.prev, tam.curr, tam.next

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        prev = F.pad(self.prev(x), (0, 0, 0, 0, 1, 0))[:, :, :-1]
        nxt = F.pad(self.next(x), (0, 0, 0, 0, 0, 1))[:, :, 1:]
        return F.relu(prev + self.curr(x) + nxt)


class DepthwiseConvTAM(nn.Module):
    """TAM's formulation before the shifted multiply-adds: one depthwise t=3 conv, on a
    channels_last_3d copy of the clip when folded (the old zoo code, kept to compare)."""

    def __init__(self, tam: TemporalAggregationModule) -> None:
        super().__init__()
        self.tam = tam

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.tam
        weight = torch.cat([m.prev.weight, m.curr.weight, m.next.weight], dim=2)
        folded = m.folded(x)
        if folded:
            x = unfold(x, x.shape[0] // m.frames).contiguous(memory_format=torch.channels_last_3d)
        out = F.conv3d(x, weight, None, 1, (1, 0, 0), 1, weight.shape[0]).relu_()
        return fold(out) if folded else out


class IndexedMaxPool(nn.Module):
    """A stride-1 max pool as the zoo ran it before: ``max_pool3d`` (with its index tensor)."""

    def __init__(self, pool: nn.MaxPool3d) -> None:
        super().__init__()
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.pool
        return F.max_pool3d(x, p.kernel_size, p.stride, p.padding, p.dilation, p.ceil_mode)


class ReferenceFormulation(nn.Module):
    """A zoo network run with every operator in its reference formulation (the kernels the
    zoo ran before the shifted ones: TAM's depthwise conv, indexed max pools)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with forced(REFERENCE):
            return self.model(x)


class FramesTAM(nn.Module):
    """TAM on (B*T, C, H, W) frames: three depthwise 1x1 Conv2d, sums of shifted views."""

    def __init__(self, tam: TemporalAggregationModule, frames: int) -> None:
        super().__init__()
        self.frames = frames
        self.weights = [m.weight.flatten(2).unsqueeze(-1) for m in (tam.prev, tam.curr, tam.next)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        prev, curr, nxt = (
            F.conv2d(x, w, groups=c).unflatten(0, (-1, self.frames)) for w in self.weights
        )
        curr[:, 1:] += prev[:, :-1]
        curr[:, :-1] += nxt[:, 1:]
        return curr.flatten(0, 1).relu_()


class ZeroFillTSM(TemporalShift):
    """TSM on (B, C, T, H, W) with a zero tensor and sliced copies; ``of(tsm)`` shifts as
    many channels as the zoo module `tsm`."""

    @classmethod
    def of(cls, tsm: TemporalShift) -> ZeroFillTSM:
        """The zero-fill formulation of `tsm` (same shifted channel count)."""
        return cls(tsm.fold, fold_div=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.fold
        out = torch.zeros_like(x)
        out[:, :f, :-1] = x[:, :f, 1:]
        out[:, f : 2 * f, 1:] = x[:, f : 2 * f, :-1]
        out[:, 2 * f :] = x[:, 2 * f :]
        return out


class OnFrames(nn.Module):
    """A (B, C, T, H, W) module run on (B*T, C, H, W) frames through a (B, T, C, H, W) view,
    as TSM's authors run their shift and a 2-D network would run tavg/tmax."""

    def __init__(self, module: nn.Module, frames: int) -> None:
        super().__init__()
        self.module, self.frames = module, frames

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        v = x.unflatten(0, (-1, self.frames)).transpose(1, 2)
        return self.module(v).transpose(1, 2).flatten(0, 1)


class AttentionNonLocal(nn.Module):
    """The non-local block with its attention as one ``scaled_dot_product_attention``."""

    def __init__(self, block: NonLocalBlock) -> None:
        super().__init__()
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.block
        b, _, t, h, w = x.shape
        q = m.theta(x).flatten(2).transpose(1, 2)
        k = m.pool(m.phi(x)).flatten(2).transpose(1, 2)
        v = m.pool(m.g(x)).flatten(2).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, scale=1.0)
        return x + m.bn(m.out(y.transpose(1, 2).reshape(b, -1, t, h, w)))


# -------------------------------------------------------------------------------- networks


def _reshaped_conv(
    conv: nn.Conv2d | nn.Conv3d, kind: type, dims: slice, weight: torch.Tensor
) -> nn.Module:
    """A `kind` conv with `conv`'s settings cut to `dims` (or grown to 1 x k x k), sharing its
    weights (`weight`: the reshaped ones) and bias."""

    def shape(v: tuple[int, ...], pad: int) -> tuple[int, ...]:
        return v[dims] if len(v) == 3 else (pad, *v)

    out = kind(
        conv.in_channels,
        conv.out_channels,
        shape(conv.kernel_size, 1),
        shape(conv.stride, 1),
        shape(conv.padding, 0),
        groups=conv.groups,
        bias=conv.bias is not None,
    )
    out.weight = nn.Parameter(weight)
    if conv.bias is not None:
        out.bias = conv.bias
    return out


def _conv2d_of(conv: nn.Conv3d) -> nn.Module:
    """The Conv2d of a 1 x k x k Conv3d with temporal stride 1, sharing its weights."""
    return _reshaped_conv(conv, nn.Conv2d, slice(1, 3), conv.weight.detach().squeeze(2))


def _conv3d_of(conv: nn.Conv2d) -> nn.Module:
    """The 1 x k x k Conv3d of a per-frame Conv2d, sharing its weights."""
    return _reshaped_conv(conv, nn.Conv3d, slice(0, 3), conv.weight.detach().unsqueeze(2))


def _pool2d_of(pool: nn.MaxPool3d | nn.AvgPool3d) -> nn.Module:
    def hw(v: object) -> tuple[int, int]:
        return (v, v) if isinstance(v, int) else tuple(v[1:])  # type: ignore[index]

    k, s, p = hw(pool.kernel_size), hw(pool.stride), hw(pool.padding)
    if isinstance(pool, nn.MaxPool3d):
        return nn.MaxPool2d(k, s, p, ceil_mode=pool.ceil_mode)
    return nn.AvgPool2d(k, s, p, ceil_mode=pool.ceil_mode, count_include_pad=pool.count_include_pad)


def _bn2d_of(bn: nn.BatchNorm3d) -> nn.BatchNorm2d:
    mean = bn.running_mean
    out = nn.BatchNorm2d(bn.num_features, bn.eps, bn.momentum, device=mean.device, dtype=mean.dtype)
    out.load_state_dict(bn.state_dict())
    return out.train(bn.training)


def _to_2d(module: nn.Module, frames: int) -> nn.Module | None:
    """The 2-D replacement of one frame-wise module, None to convert its children."""
    if isinstance(module, Conv2dPerFrame):
        return module.conv
    if isinstance(module, nn.Conv3d):
        return _conv2d_of(module)
    if isinstance(module, nn.BatchNorm3d):
        return _bn2d_of(module)
    if isinstance(module, (nn.MaxPool3d, nn.AvgPool3d)):
        return _pool2d_of(module)
    if isinstance(module, TemporalAggregationModule):
        return FramesTAM(module, frames)
    if isinstance(module, TemporalShift):
        return OnFrames(ZeroFillTSM.of(module), frames)
    if isinstance(module, TemporalNeighbourPool):
        return OnFrames(module.pool, frames)
    return None


def _convert(module: nn.Module, convert: Callable[[nn.Module], nn.Module | None]) -> nn.Module:
    new = convert(module)
    if new is not None:
        return new
    for name, child in module.named_children():
        setattr(module, name, _convert(child, convert))
    return module


class FrameNet(nn.Module):
    """A plain 2-D network over B*T frames: fold once, run the layers, average the frames."""

    def __init__(self, layers: list[nn.Module], head: ClassifierHead, frames: int) -> None:
        super().__init__()
        self.layers, self.head, self.frames = nn.Sequential(*layers), head, frames

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, t, h, w = x.shape
        y = self.layers(x.transpose(1, 2).reshape(b * t, c, h, w))
        pooled = y.unflatten(0, (b, t)).mean(dim=(1, 3, 4))
        return self.head.fc(self.head.dropout(pooled))


def chain_of(model: nn.Module) -> list[nn.Module]:
    """The layers a zoo ResNet or InceptionV1 runs between its input and its head."""
    if hasattr(model, "_chain"):
        return list(model._chain)
    return list(model.features)


def plain_2d(model: nn.Module) -> FrameNet:
    """A plain 2-D copy of a frame-wise zoo network (TSN/TAM/TSM ResNet, 2-D InceptionV1),
    same weights; ValueError if a layer mixes frames (it cannot run as 2-D)."""
    layers = chain_of(copy.deepcopy(model))
    mixed = [type(m).__name__ for m in layers if not frame_wise(m)]
    if mixed:
        raise ValueError(f"model: has layers that mix frames ({', '.join(mixed)}); allowed: 2-D")
    frames = model.frames
    converted = [_convert(m, lambda m: _to_2d(m, frames)) for m in layers]
    return FrameNet(converted, copy.deepcopy(model.head), frames).eval()


class VolumeNet(nn.Module):
    """A network that runs every layer on (B, C, T, H, W), as torchvision's video ResNets."""

    def __init__(self, layers: list[nn.Module], head: ClassifierHead) -> None:
        super().__init__()
        self.layers, self.head = nn.Sequential(*layers), head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.layers(x))


def plain_3d(model: nn.Module) -> VolumeNet:
    """A copy of a zoo ResNet with every per-frame Conv2d as a 1 x k x k Conv3d, every layer
    on (B, C, T, H, W); temporal modules as their papers write them."""

    def convert(m: nn.Module) -> nn.Module | None:
        if isinstance(m, Conv2dPerFrame):
            return _conv3d_of(m.conv)
        if isinstance(m, TemporalAggregationModule):
            return ThreeConvTAM(m)
        if isinstance(m, TemporalShift):
            return ZeroFillTSM.of(m)
        return None

    layers = [_convert(m, convert) for m in chain_of(copy.deepcopy(model))]
    return VolumeNet(layers, copy.deepcopy(model.head)).eval()
