"""Validation of predicted peak memory against live tensor bytes of a real CPU run.

The prediction traces the model on ``meta`` (``bench.trace``) and replays its storage
lifetimes with 512 B allocator rounding (``bench.memsim``), exactly as ``predict`` does.

The measurement is independent of both: the model runs for real on the CPU under
:class:`LiveBytes`, a dispatch mode that holds a C++ weak reference
(``StorageWeakRef``) to every storage an op creates and, after every op, drops the ones
that have expired; the peak of the live exact bytes (plus parameters, buffers and input)
is the measured peak. PyTorch's CPU allocator is not used: its own peak (mkldnn scratch,
caching) is not comparable with a CUDA prediction.
"""

from __future__ import annotations

from typing import Any

import torch
from stbench.bench.memsim import memory_report
from stbench.bench.trace import trace_forward
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


def measure_live_peak(model: nn.Module, input_shape: tuple[int, ...]) -> dict[str, int]:
    """Measured peak of one real CPU inference forward: weights + input + live activations."""
    x = torch.randn(input_shape)
    held = {
        t.untyped_storage()._cdata: t.untyped_storage().nbytes()
        for t in (*model.parameters(), *model.buffers(), x)
    }
    model.eval()
    with torch.no_grad(), LiveBytes(set(held)) as live:
        model(x)
    return {
        "peak_bytes": sum(held.values()) + live.peak,
        "activation_bytes": live.peak,
    }


def check_memory(
    name: str, *, batch: int = 2, size: int = 64, frames: int | None = None
) -> dict[str, Any]:
    """Predicted (meta) vs measured (real CPU, live tensors) inference peak of a zoo model."""
    from stbench.bench.profile import build_zoo_model
    from stbench.zoo import get_spec

    spec = get_spec(name)
    frames = spec.default_frames if frames is None else frames
    shape = (batch, 3, frames, size, size)
    model = build_zoo_model(spec.name, frames=frames, num_classes=spec.default_classes)
    predicted = memory_report(trace_forward(model, shape))
    model.to_empty(device="cpu")  # real storage; values change no shape and no lifetime
    measured = measure_live_peak(model, shape)
    act = predicted["activation_bytes_at_peak"]
    return {
        "model": spec.name,
        "family": spec.family,
        "input_shape": list(shape),
        "predicted_bytes": predicted["peak_bytes"],
        "measured_bytes": measured["peak_bytes"],
        "error": predicted["peak_bytes"] / measured["peak_bytes"] - 1,
        "predicted_activation_bytes": act,
        "measured_activation_bytes": measured["activation_bytes"],
        "activation_error": act / max(measured["activation_bytes"], 1) - 1,
    }
