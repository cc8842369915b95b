"""Pooling layers as data: every spatial, temporal and spatio-temporal pool of the zoo.

A :class:`Pool` is kernel/stride/padding as (t, h, w) plus its mode; temporal pooling
(Chen et al.'s ``-tp``) is a Pool with a temporal stride. `tp_pool` ("avg" or "max") is the
one name for the mode of the pools a model leaves open (``mode=None``).
"""

from __future__ import annotations

from dataclasses import dataclass

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
            return nn.MaxPool3d(self.kernel, self.stride, self.padding, ceil_mode=self.ceil_mode)
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
