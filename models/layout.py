"""Frame folding: frame-wise layers run with the frames folded into the batch.

A 2-D stage needs no time axis, so a skeleton runs consecutive *frame-wise* layers on the
folded layout ``(B*T, C, 1, H, W)`` and unfolds to ``(B, C, T, H, W)`` only in front of a
layer that mixes frames (a 3-D conv, a temporal pool, a non-local block). The folded layout
is still a 5-D tensor, so every module (``nn.Conv3d`` with a 1 x k x k kernel, BatchNorm3d,
1 x k x k pools) runs on it unchanged, with the same parameters and the same MACs.

A module says whether it is frame-wise with a ``runs_per_frame()`` method; the common leaf
modules are judged by their kernels. Temporal modules built with a known frame count
(``frames``) run on the folded layout too (they view it as ``(B, T, C, H, W)``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

ELEMENTWISE = (nn.ReLU, nn.Identity, nn.Dropout, nn.BatchNorm3d)
KERNELED = (nn.Conv3d, nn.MaxPool3d, nn.AvgPool3d)


def _t(value: int | Sequence[int]) -> int:
    return value if isinstance(value, int) else value[0]


def frame_wise(module: nn.Module) -> bool:
    """Whether `module` computes every output frame from the same input frame alone."""
    own = getattr(module, "runs_per_frame", None)
    if own is not None:
        return bool(own())
    if isinstance(module, ELEMENTWISE):
        return True
    if isinstance(module, KERNELED):
        pad = _t(module.padding)
        return _t(module.kernel_size) == 1 and _t(module.stride) == 1 and pad == 0
    if type(module) in (nn.Sequential, nn.ModuleList):
        return all(frame_wise(m) for m in module)
    return False


def children_frame_wise(module: nn.Module) -> bool:
    """`runs_per_frame` of a container whose forward only chains and adds its children."""
    return all(frame_wise(m) for m in module.children())


def fold(x: torch.Tensor) -> torch.Tensor:
    """(B, C, T, H, W) -> (B*T, C, 1, H, W); a view for T == 1 or channels_last_3d input."""
    b, c, t, h, w = x.shape
    if t == 1:
        return x
    return x.transpose(1, 2).reshape(b * t, c, 1, h, w)


def unfold(x: torch.Tensor, batch: int) -> torch.Tensor:
    """(B*T, C, 1, H, W) -> (B, C, T, H, W), a view."""
    return x.squeeze(2).unflatten(0, (batch, -1)).transpose(1, 2)


def frames_view(x: torch.Tensor, frames: int) -> torch.Tensor:
    """(B, T, C, H, W) view of a folded `x` (B*T, C, 1, H, W) with T = `frames`."""
    return x.squeeze(2).unflatten(0, (-1, frames))


def is_folded(x: torch.Tensor, frames: int) -> bool:
    """Whether `x` is folded rather than (B, C, `frames`, H, W) (both agree when T == 1)."""
    return frames > 1 and x.shape[2] == 1


def frame_wise_flags(modules: Sequence[nn.Module]) -> tuple[bool, ...]:
    """`frame_wise` of each module of a chain (computed once, when the model is built)."""
    return tuple(frame_wise(m) for m in modules)


def run_chain(
    modules: Sequence[nn.Module], flags: Sequence[bool], x: torch.Tensor, batch: int
) -> torch.Tensor:
    """Apply `modules` in order, folding before frame-wise ones (`flags`) and unfolding
    before the others; `x` may come in either layout and leaves in the last one's."""
    folded = x.shape[0] != batch
    for module, flat in zip(modules, flags, strict=True):
        if flat and not folded:
            x, folded = fold(x), True
        elif folded and not flat:
            x, folded = unfold(x, batch), False
        x = module(x)
    return x


def unfolded(x: torch.Tensor, batch: int) -> torch.Tensor:
    """`x` as (B, C, T, H, W) whichever layout it is in."""
    return unfold(x, batch) if x.shape[0] != batch else x


def to_channels_last(model: nn.Module) -> nn.Module:
    """`model` (changed in place) with 5-D weights in channels_last_3d and 4-D ones (the
    per-frame 2-D convs) in channels_last, the formats the folded layout hands them."""
    with torch.no_grad():
        for t in [*model.parameters(), *model.buffers()]:
            if t.dim() in (4, 5):
                fmt = torch.channels_last_3d if t.dim() == 5 else torch.channels_last
                t.data = t.data.contiguous(memory_format=fmt)
    return model
