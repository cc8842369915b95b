"""Validation of predicted peak memory against live tensor bytes of a real CPU run.

The prediction traces the model on ``meta`` (``bench.predict.trace``) and replays its storage
lifetimes with 512 B allocator rounding (``bench.predict.memsim``), exactly as ``predict`` does.

The measurement is independent of both: the model runs for real on the CPU, in the
reference formulation a GPU runs (``models.formulations``), under
:class:`LiveBytes`, a dispatch mode that holds a C++ weak reference
(``StorageWeakRef``) to every storage an op creates and, after every op, drops the ones
that have expired; the peak of the live exact bytes (plus parameters, buffers and input)
is the measured peak. PyTorch's CPU allocator is not used: its own peak (mkldnn scratch,
caching) is not comparable with a CUDA prediction.
"""

from __future__ import annotations

from typing import Any

import torch
from stbench.bench.count.static import build_zoo_model
from stbench.bench.predict.memsim import memory_report, round_block
from stbench.bench.predict.trace import (
    make_input,
    trace_forward,
    trace_training_step,
    training_step,
    warm_optimizer,
)
from stbench.models.formulations import REFERENCE, forced
from stbench.zoo import get_spec
from torch import nn
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


class LiveBytes(TorchDispatchMode):
    """Peak bytes of live storages created by ops on ``device`` (exact sizes, no rounding).

    ``held``: the storages of tensors the caller keeps alive (weights, input); views of them
    are not new storage.
    """

    def __init__(self, held: set[int], device: str = "cpu") -> None:
        super().__init__()
        self.held = held
        self.device = torch.device(device)
        self.live: dict[int, tuple[StorageWeakRef, int]] = {}  # storage address -> (ref, bytes)
        self.bytes = 0
        self.peak = 0

    def _sweep(self) -> None:
        for key in [k for k, (ref, _) in self.live.items() if ref.expired()]:
            self.bytes -= self.live.pop(key)[1]

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        self._sweep()
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor) and t.device == self.device:
                storage = t.untyped_storage()
                if storage._cdata not in self.live and storage._cdata not in self.held:
                    self.live[storage._cdata] = (StorageWeakRef(storage), storage.nbytes())
                    self.bytes += storage.nbytes()
        self.peak = max(self.peak, self.bytes)
        return out


def measure_live_peak(
    model: nn.Module, input_shape: tuple[int, ...], *, train: bool = False, optimizer: str = "sgd"
) -> dict[str, int]:
    """Measured peak of one real CPU pass: an inference forward (``no_grad``) or, with
    ``train``, one training step. ``transient_bytes`` is what the pass adds on top of the
    tensors kept across passes (weights, optimizer state, input)."""
    x = make_input(input_shape, torch.device("cpu"))
    kept = [*model.parameters(), *model.buffers(), x]
    opt = warm_optimizer(model, optimizer) if train else None
    if opt is not None:
        kept += [t for st in opt.state.values() for t in st.values() if torch.is_tensor(t)]
    held = {t.untyped_storage()._cdata: t.untyped_storage().nbytes() for t in kept}
    was_training = model.training
    model.train(train)
    try:
        with LiveBytes(set(held)) as live:
            if opt is not None:
                training_step(model, x, opt)
            else:
                with torch.no_grad():
                    model(x)
    finally:
        model.train(was_training)
    return {"peak_bytes": sum(held.values()) + live.peak, "transient_bytes": live.peak}


def check_memory(
    name: str,
    *,
    batch: int = 2,
    size: int = 64,
    frames: int | None = None,
    train: bool = False,
    optimizer: str = "sgd",
) -> dict[str, Any]:
    """Predicted (meta) vs measured (real CPU, live tensors) peak of a zoo model's pass."""

    spec = get_spec(name)
    frames = spec.default_frames if frames is None else frames
    shape = (batch, 3, frames, size, size)
    model = build_zoo_model(spec.name, frames=frames, num_classes=spec.default_classes)
    if train:
        trace = trace_training_step(model, shape, optimizer=optimizer)
    else:
        trace = trace_forward(model, shape)
    predicted = memory_report(trace)["peak_bytes"]
    kept = sum(round_block(s.nbytes) for s in trace.storages.values() if s.created < 0)
    model.to_empty(device="cpu")  # real storage; values change no shape and no lifetime
    # the GPU the prediction is for runs the reference kernels (models.formulations): the CPU
    # run checked against it does too, not the CPU's own shifted formulations
    with forced(REFERENCE):
        measured = measure_live_peak(model, shape, train=train, optimizer=optimizer)
    return {
        "model": spec.name,
        "family": spec.family,
        "pass": f"training step ({optimizer})" if train else "inference",
        "input_shape": list(shape),
        "predicted_bytes": predicted,
        "measured_bytes": measured["peak_bytes"],
        "error": predicted / measured["peak_bytes"] - 1,
        "predicted_transient_bytes": predicted - kept,
        "measured_transient_bytes": measured["transient_bytes"],
        "transient_error": (predicted - kept) / max(measured["transient_bytes"], 1) - 1,
    }
