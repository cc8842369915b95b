"""Which formulation of an operator each device runs: the one place that chooses.

Some operators have two formulations with the same arithmetic: the *reference* one, a single
library kernel that counters and tracers recognise (TAM as one depthwise t=3 ``conv3d``,
a stride-1 max pool as ``max_pool3d``), and the *shifted* one, elementwise multiply-adds or
maxima over shifted views of the tensor (no layout copy, no index tensor), which runs 5-15x
faster on CPU (``benchmarks/test_bench_operators.py``). Outputs agree to rounding (float64
tests in ``tests/test_layout_equivalence.py``). :data:`BY_DEVICE` is the one table of which
device runs which; :func:`forced` overrides it (benchmarks, the device model's what-ifs).

Devices not in the table (``meta``: static counting and the device model's trace) run the
reference formulation, whose kernels carry the design's MACs; static counting runs it on
every device (``bench/count/counting.py``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from stbench.models.validation import check_choice

REFERENCE = "reference"
SHIFTED = "shifted"
FORMULATIONS = (REFERENCE, SHIFTED)
OPERATORS = ("tam", "max_pool")
# Device type -> operator -> formulation. CPU: shifted, measured 5-15x faster per operator
# (benchmarks/test_bench_operators.py). CUDA: not measured here (no GPU); the device model
# predicts the shifted forms slower on an H100 SXM (batch 1, 8x224^2, float32; estimate and
# bound in ms, scripts/formulation_predictions.py): tam_resnet50 4.14 -> 4.50 (bound 1.86 ->
# 2.06), tsn_inception_v1 2.73 -> 4.11 (0.89 -> 1.21), so CUDA keeps the reference kernels
# until a CUDA run of the operator benchmarks says otherwise.
BY_DEVICE = {
    "cpu": {"tam": SHIFTED, "max_pool": SHIFTED},
    "cuda": {"tam": REFERENCE, "max_pool": REFERENCE},
}

_forced: list[tuple[str, str | None]] = []


def formulation_for(device_type: str, op: str) -> str:
    """The formulation operator `op` runs on a device type (reference unless in BY_DEVICE)."""
    check_choice("operator", op, OPERATORS)
    return BY_DEVICE.get(device_type, {}).get(op, REFERENCE)


def formulation(x: torch.Tensor, op: str) -> str:
    """The formulation `op` runs on `x`: the innermost :func:`forced` one for it, else its
    device's."""
    for name, only in reversed(_forced):
        if only in (None, op):
            return name
    return formulation_for(x.device.type, op)


def shifted(x: torch.Tensor, op: str) -> bool:
    """Whether operator `op` runs its shifted formulation on `x`."""
    return formulation(x, op) == SHIFTED


@contextlib.contextmanager
def forced(name: str, op: str | None = None) -> Iterator[None]:
    """Run operator `op` (default: every operator) in formulation `name` on every device."""
    check_choice("formulation", name, FORMULATIONS)
    if op is not None:
        check_choice("operator", op, OPERATORS)
    _forced.append((name, op))
    try:
        yield
    finally:
        _forced.pop()


def compute_dtype(x: torch.Tensor) -> torch.dtype:
    """The dtype a reference kernel (conv) would compute `x` in: autocast's when enabled."""
    kind = x.device.type
    if kind in ("cpu", "cuda") and x.is_floating_point() and torch.is_autocast_enabled(kind):
        return torch.get_autocast_dtype(kind)
    return x.dtype
