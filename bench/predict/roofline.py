"""Roofline lower bound on latency: per kernel ``max(flops / peak, bytes / bandwidth)``, summed,
plus a per-kernel launch overhead. A bound, never a measurement.

Peaks come from ``bench.predict.devices`` (dense datasheet figures). Convolutions and matrix
products run at the tensor-core peak of the run's dtype; in float32, convolutions use TF32
where the GPU has it (PyTorch's default ``torch.backends.cudnn.allow_tf32 = True``) and
matrix products use FP32 (default ``torch.backends.cuda.matmul.allow_tf32 = False``; see
https://pytorch.org/docs/stable/notes/cuda.html#tensorfloat-32-tf32-on-ampere-and-later-devices).
Every other op counts one FLOP per element at the FP32 CUDA-core peak (these ops are
memory-bound by orders of magnitude, so this choice does not move the bound). Bytes are the
trace's compulsory traffic: caches can only make a real kernel move more.

``LAUNCH_OVERHEAD_US`` is the launch cost of an empty kernel on recent GPUs and drivers,
"about 3 microseconds" (NVIDIA developer forums, "Too much time for kernel launch latency",
https://forums.developer.nvidia.com/t/too-much-time-for-kernel-launch-latency/233645/3).
It is added once per kernel, which assumes a launch does not overlap the previous kernel;
``cuda_graphs=True`` sets it to zero (a replayed CUDA graph launches all kernels at once).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from stbench.bench.predict.devices import PEAK_COLUMNS, Device

LAUNCH_OVERHEAD_US = 3.0
TENSOR_CORE_CATEGORIES = frozenset({"conv", "linear", "matmul"})


def check_dtype_on(device: Device, dtype: str) -> str:
    """``dtype`` if ``device`` has a peak for it, else a one-line ValueError naming those it has."""
    column = PEAK_COLUMNS.get(dtype)
    if column is None or device.peak(column) is None:
        raise ValueError(
            f"dtype: got {dtype!r} for gpu {device.name}; allowed: {', '.join(device.dtypes())}"
        )
    return dtype


def op_precision(category: str, dtype: str, device: Device) -> str:
    """The peak column an op of ``category`` runs at (fp32, tf32, bf16, fp16)."""
    if category not in TENSOR_CORE_CATEGORIES:
        return "fp32"
    if dtype == "float32":
        return "tf32" if category == "conv" and device.peak("tf32") else "fp32"
    return PEAK_COLUMNS[dtype]


def op_seconds(op: Any, device: Device, dtype: str) -> tuple[float, float]:
    """(compute, memory) seconds of one kernel at the device's peaks."""
    peak = device.peak(op_precision(op.category, dtype, device)) or device.peaks["fp32"]
    return op.flops / peak, (op.bytes_read + op.bytes_written) / device.bandwidth


def summarize_ops(
    ops: Iterable[Any],
    device: Device,
    dtype: str,
    *,
    cuda_graphs: bool = False,
    launch_overhead_us: float = LAUNCH_OVERHEAD_US,
) -> dict[str, Any]:
    """Counts, bytes and the latency bound of a set of traced ops (a whole pass or a stage)."""
    launch = 0.0 if cuda_graphs else launch_overhead_us * 1e-6
    macs = flops = nbytes = kernels = 0
    compute = memory = compute_limited = memory_limited = 0.0
    for op in ops:
        if not op.launches_kernel:
            continue
        c, m = op_seconds(op, device, dtype)
        kernels += 1
        macs += op.macs
        flops += op.flops
        nbytes += op.bytes_read + op.bytes_written
        compute += c
        memory += m
        if c >= m:
            compute_limited += c
        else:
            memory_limited += m
    roofline = compute_limited + memory_limited
    parts = {"compute": compute_limited, "memory": memory_limited, "launch": kernels * launch}
    return {
        "macs": macs,
        "flops": flops,
        "bytes_moved": nbytes,
        "kernels": kernels,
        "arithmetic_intensity": macs / nbytes if nbytes else 0.0,
        "latency_bound_ms": (roofline + kernels * launch) * 1e3,
        "roofline_ms": roofline * 1e3,
        "launch_overhead_ms": kernels * launch * 1e3,
        "compute_ms": compute * 1e3,
        "memory_ms": memory * 1e3,
        "compute_limited_ms": compute_limited * 1e3,
        "memory_limited_ms": memory_limited * 1e3,
        "limiter": max(parts, key=parts.__getitem__) if kernels else None,
    }


def breakdown(
    ops: Iterable[Any],
    device: Device,
    dtype: str,
    key: Callable[[Any], str],
    **options: Any,
) -> dict[str, dict[str, Any]]:
    """:func:`summarize_ops` per group of ops (``key``: e.g. stage or kind), in first-seen order."""
    groups: dict[str, list[Any]] = {}
    for op in ops:
        groups.setdefault(key(op), []).append(op)
    return {k: summarize_ops(v, device, dtype, **options) for k, v in groups.items()}
