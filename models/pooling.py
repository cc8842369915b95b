"""Pooling layers as data: every spatial, temporal and spatio-temporal pool of the zoo.

A :class:`Pool` is kernel/stride/padding as (t, h, w) plus its mode; temporal pooling
(Chen et al.'s ``-tp``) is a Pool with a temporal stride. `tp_pool` ("avg" or "max") is the
one name for the mode of the pools a model leaves open (``mode=None``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from stbench.models.formulations import shifted
from stbench.models.validation import check_choice
from torch import nn

POOL_MODES = ("avg", "max")


@dataclass(frozen=True)
class Pool:
    """One pooling layer; `mode` None means the model's `tp_pool`."""

    kernel: tuple[int, int, int]
    stride: tuple[int, int, int]
    padding: tuple[int, int, int] = (0, 0, 0)
    ceil_mode: bool = False
    mode: str | None = None
    count_include_pad: bool = True

    def make(self, tp_pool: str = "max") -> nn.Module:
        """The pooling module, in `tp_pool` mode unless the pool fixes its own."""
        mode = self.mode or tp_pool
        check_choice("tp_pool", mode, POOL_MODES)
        if mode == "max":
            return SeparableMaxPool3d(
                self.kernel, self.stride, self.padding, ceil_mode=self.ceil_mode
            )
        return nn.AvgPool3d(
            self.kernel,
            self.stride,
            self.padding,
            ceil_mode=self.ceil_mode,
            count_include_pad=self.count_include_pad,
        )

    def out_size(self, n: int, axis: int) -> int:
        """Output length along `axis` (0=t, 1=h, 2=w) for input length `n`; 0 if invalid."""
        k, s, p = self.kernel[axis], self.stride[axis], self.padding[axis]
        span = n + 2 * p - k
        if span < 0:
            return 0
        out = (-(-span // s) if self.ceil_mode else span // s) + 1
        if self.ceil_mode and (out - 1) * s >= n + p:
            out -= 1
        return out

    def label(self, tp_pool: str = "max") -> str:
        """Its temporal effect in words, e.g. "max pool k3 s2"."""
        return f"{self.mode or tp_pool} pool k{self.kernel[0]} s{self.stride[0]}"


def temporal_pool(stride: int = 2, count_include_pad: bool = True) -> Pool:
    """Chen et al.'s temporal pooling: kernel 3 along T, padding 1, stride `stride`."""
    return Pool((3, 1, 1), (stride, 1, 1), (1, 0, 0), count_include_pad=count_include_pad)


class SeparableMaxPool3d(nn.MaxPool3d):
    """A 3-D max pool (no dilation) that, in the shifted formulation (``formulations.py``),
    takes the max along one axis after the other over strided views of the input (the last
    axis, when contiguous and strided, first and with ``max_pool1d``'s index-free row
    kernel): no index tensor, values exactly the pool's (padding acts as -inf, ceil-mode
    windows as the pool's, NaN propagates). With a gradient to compute it runs the indexed ``max_pool3d`` (the
    reference formulation): the pool sends a tie's gradient to one element, maxima share it.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not shifted(x, "max_pool") or (x.requires_grad and torch.is_grad_enabled()):
            return super().forward(x)
        axes = [
            (axis + 2, *(_triple(v)[axis] for v in (self.kernel_size, self.stride, self.padding)))
            for axis in range(3)
        ]
        if by_rows(x, *axes[2]):  # one pass over the input first, then fewer elements
            axes.insert(0, axes.pop())
        for dim, k, s, p in axes:
            x = axis_max(x, dim, k, s, p, self.ceil_mode)
        return x


def _triple(v: int | tuple[int, ...]) -> tuple[int, ...]:
    return (v, v, v) if isinstance(v, int) else tuple(v)


# dtypes max_pool1d pools with its index-free kernel (others take the strided views)
_POOL1D_DTYPES = (torch.float32, torch.float64, torch.bfloat16, torch.float16)


def by_rows(x: torch.Tensor, dim: int, k: int, s: int, p: int) -> bool:
    """Whether :func:`axis_max` pools `dim` of `x` with ``max_pool1d`` over its rows: the last
    axis of a contiguous tensor, a window of 3 or more other than the neighbour max (one
    pass where the strided views take k - 1)."""
    last = dim in (-1, x.dim() - 1) and x.is_contiguous() and x.dtype in _POOL1D_DTYPES
    return last and k >= 3 and (k, s, p) != (3, 1, 1)


def axis_max(x: torch.Tensor, dim: int, k: int, s: int, p: int, ceil: bool) -> torch.Tensor:
    """The 1-D max pool (kernel `k`, stride `s`, padding `p`, `ceil` mode) of `x` along `dim`."""
    n = x.shape[dim]
    span = n + 2 * p - k
    out = (-(-span // s) if ceil else span // s) + 1
    if ceil and (out - 1) * s >= n + p:
        out -= 1
    if k == 1 and s == 1 and p == 0:
        return x
    if k == 3 and s == 1 and p == 1:
        return neighbour_max(x, dim) if n > 1 else x
    if by_rows(x, dim, k, s, p):
        return F.max_pool1d(x.view(-1, n), k, s, p, 1, ceil).view(*x.shape[:-1], out)
    shape = list(x.shape)
    shape[dim] = out
    result = x.new_empty(shape)
    first = -(-p // s)  # windows [first, last] lie inside the input; the rest take the max
    last = min((n + p - k) // s, out - 1)  # of the elements they cover (the pool's -inf pad)
    for i in [*range(min(first, out)), *range(max(last + 1, first), out)]:
        lo, hi = max(i * s - p, 0), min(i * s - p + k, n)
        window_max(x, dim, lo, hi, result.select(dim, i))
    m = last - first + 1
    if m > 0:
        index = [slice(None)] * x.dim()
        index[dim] = slice(None, None, s)
        start, inner = first * s - p, result.narrow(dim, first, m)
        views = [x.narrow(dim, start + j, s * (m - 1) + 1)[tuple(index)] for j in range(k)]
        if k == 1:
            inner.copy_(views[0])
        else:
            torch.maximum(views[0], views[1], out=inner)
        for v in views[2:]:
            torch.maximum(inner, v, out=inner)
    return result


def window_max(x: torch.Tensor, dim: int, lo: int, hi: int, out: torch.Tensor) -> None:
    """Write into `out` the max of the slices `lo` to `hi` - 1 of `x` along `dim`
    (elementwise maxima of the slices: a fraction of a reduction's time for 2 or 3)."""
    if hi - lo == 1:
        out.copy_(x.select(dim, lo))
        return
    torch.maximum(x.select(dim, lo), x.select(dim, lo + 1), out=out)
    for j in range(lo + 2, hi):
        torch.maximum(out, x.select(dim, j), out=out)


def neighbour_max(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Max of elements i-1, i, i+1 along `dim` (edges: of the two there); needs size >= 2.

    On a contiguous `x` the inner elements are one pass of two maxima over the flat buffer
    shifted by the stride of `dim` (long vectorised runs, one output allocated); the first
    and last slices along `dim`, which that pass mixes with their neighbours, are then
    written from their two elements."""
    n = x.shape[dim]
    out = torch.empty_like(x)
    if x.is_contiguous() and out.is_contiguous() and x.numel():
        step, flat, into = x.stride(dim), x.view(-1), out.view(-1)
        size = flat.numel() - 2 * step
        inner = into.narrow(0, step, size)
        torch.maximum(flat.narrow(0, 0, size), flat.narrow(0, step, size), out=inner)
        torch.maximum(inner, flat.narrow(0, 2 * step, size), out=inner)
    elif n > 2:
        inner = out.narrow(dim, 1, n - 2)
        torch.maximum(x.narrow(dim, 0, n - 2), x.narrow(dim, 1, n - 2), out=inner)
        torch.maximum(inner, x.narrow(dim, 2, n - 2), out=inner)
    window_max(x, dim, 0, 2, out.select(dim, 0))
    window_max(x, dim, n - 2, n, out.select(dim, n - 1))
    return out
