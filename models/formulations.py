"""Which formulation of an operator each device runs: the one place that chooses.

Some operators have two formulations with the same arithmetic: the *reference* one, a single
library kernel that counters and tracers recognise (TAM as one depthwise t=3 ``conv3d``,
a stride-1 max pool as ``max_pool3d``), and the *shifted* one, elementwise multiply-adds or
maxima over shifted views of the tensor (no layout copy, no index tensor), which runs 5-15x
faster on CPU (``benchmarks/test_bench_operators.py``) and avoids the slow depthwise/pool
kernels on CUDA too. Outputs agree to rounding (float64 tests in
``tests/test_layout_equivalence.py``).

Devices not in :data:`BY_DEVICE` (``meta``: static counting and the device model's trace)
run the reference formulation, whose kernels carry the design's MACs; static counting runs
it on every device (``bench/count/counting.py``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from stbench.models.validation import check_choice

REFERENCE = "reference"
SHIFTED = "shifted"
FORMULATIONS = (REFERENCE, SHIFTED)
BY_DEVICE = {"cpu": SHIFTED, "cuda": SHIFTED}

_forced: list[str] = []


def formulation_for(device_type: str) -> str:
    """The formulation a device type runs (``reference`` unless listed in BY_DEVICE)."""
    return BY_DEVICE.get(device_type, REFERENCE)


def formulation(x: torch.Tensor) -> str:
    """The formulation to run on `x`: the innermost :func:`forced` one, else its device's."""
    return _forced[-1] if _forced else formulation_for(x.device.type)


def shifted(x: torch.Tensor) -> bool:
    """Whether `x` runs the shifted formulation."""
    return formulation(x) == SHIFTED


@contextlib.contextmanager
def forced(name: str) -> Iterator[None]:
    """Run every operator in formulation `name` on every device inside the block."""
    check_choice("formulation", name, FORMULATIONS)
    _forced.append(name)
    try:
        yield
    finally:
        _forced.pop()


def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype a reference kernel (conv) would compute `x` in: autocast's when enabled."""
    kind = x.device.type
    if x.is_floating_point() and torch.is_autocast_enabled(kind):
        return torch.get_autocast_dtype(kind)
    return x.dtype
