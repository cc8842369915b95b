"""Latency estimate of eager PyTorch on a GPU: the number to quote beside the roofline bound.

The bound (``bench.predict.roofline``) runs every kernel at the datasheet peak. A real eager
run is slower for three reasons, each modelled here from the same trace:

- **kernels reach a fraction of peak**, by kernel class: implicit-GEMM convolutions and matrix
  products at a fitted fraction of the peak of the precision they run in (FP32 CUDA cores,
  TF32 or FP16/BF16 tensor cores), plus the time of their work beside the matrix units, which
  scales with SMs x clock rather than with the peak (``sm_issue_flop``); depthwise and grouped convolutions, normalisation, pooling,
  reductions, elementwise ops, autocast casts and copies at a fitted fraction of the memory
  bandwidth; and every kernel takes at least ``kernel_floor_us`` (a small kernel does not fill
  the GPU). Per kernel: ``max(flops / (eff x peak), bytes / (eff_bw x bandwidth)) + floor``.
  A linear layer runs at ``rate_linear`` times a convolution's rate, and a product of two
  activations (attention) at ``d / (d + matmul_half_dim)`` of it, d its thinner dimension;
  both are neutral on a GPU (no published row identifies them) and fitted for a CPU. On a
  device row with a last-level cache (a probed CPU), a kernel's first ``cache_bytes`` move at
  ``eff_cache_bw`` x the cache's bandwidth and the rest at ``eff_bw`` x the memory's.
- **layout conversions**: a tensor-core convolution on a contiguous (NCHW / NCDHW) input makes
  cuDNN transpose its input and output to NHWC and back; ``memory_format="channels_last"``
  (channels_last / channels_last_3d) removes them. Modelled as the extra traffic of reading and
  writing the convolution's input and output once more each.
- **the host**: eager PyTorch spends CPU time on every op (Python, dispatcher, autograd,
  launch); kernels run asynchronously, so the step takes ``max(host, gpu)``: at batch 1 the
  GPU waits on the CPU. Autocast adds a cast and dispatch per autocast op.
  ``cuda_graphs=True`` replays the whole pass (no host cost per op); ``compile=True`` fuses
  each normalisation/elementwise chain into the kernel before it (fewer kernels and bytes) and
  launches the rest from generated code at the launch cost of the roofline module.

Every constant is in :data:`CONSTANTS` with its unit, whether it is fitted or cited, and the data
it came from. Fitted constants were fitted by ``bench.predict.published`` (``fit``) on
``bench/reference/published_gpu.csv``; their leave-one-GPU-out error is reported by
``stbench predict --validate-published`` and in the README. The interval of an estimate is the
validation error of its regime (:data:`REGIME_ERROR`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from stbench.bench.predict.devices import Device
from stbench.bench.predict.roofline import LAUNCH_OVERHEAD_US, TENSOR_CORE_CATEGORIES, op_precision

MEMORY_FORMATS = ("contiguous", "channels_last")
FUSABLE = frozenset({"elementwise", "norm"})  # what torch.compile folds into the kernel before
FP32_FLOP_PER_SM_CLOCK = 256  # GA10x, Ada, Hopper, Blackwell: 128 FP32 lanes per SM, FMA = 2


@dataclass(frozen=True)
class Constant:
    """One named constant of the estimate: value, unit, how it was set, and from what."""

    name: str
    value: float
    unit: str
    how: str  # fitted | cited | assumed
    source: str


FIT_DATA = (
    "bench/reference/published_gpu.csv: mean latency and throughput rows (NVIDIA DLE "
    "ResNet-50 v1.5 V100/T4 inference batch 1-256 and A100/V100 training; timm RTX 3090 "
    "ResNet-18/34/50/101 inference and training, NCHW and NHWC; timm RTX 4090 (NCHW, NHWC), "
    "RTX 5090 and RTX PRO 6000 Max-Q ResNet-18/34/50/101 eager fp16 inference)"
)

_C = [
    Constant(
        "eff_fp32",
        0.850,
        "achieved FP32 conv/GEMM rate / FP32 CUDA-core peak (cuDNN's Winograd and FFT "
        "algorithms for 3x3 convolutions do fewer multiplies, so it may exceed 1)",
        "fitted",
        FIT_DATA,
    ),
    Constant("eff_tf32", 0.335, "fraction of TF32 tensor-core peak", "fitted", FIT_DATA),
    Constant("eff_half", 1.000, "fraction of FP16/BF16 tensor-core peak", "fitted", FIT_DATA),
    Constant(
        "sm_issue_flop",
        1534.3,
        "FLOP per SM per clock that a conv/GEMM kernel's work beside the matrix units (address "
        "arithmetic, staging loads to shared memory, epilogue) allows: each such kernel also "
        "takes flops / (sm_issue_flop x SMs x clock), so a GPU with wider tensor cores per SM "
        "(A100, H100) reaches a lower fraction of its peak than one with narrower ones (V100, "
        "T4, GeForce at FP32 accumulate)",
        "fitted",
        FIT_DATA + "; SMs and clock from bench/predict/devices.csv",
    ),
    Constant(
        "rate_linear",
        1.0,
        "achieved rate of a linear layer's GEMM / that of a convolution of the same precision",
        "assumed",
        "1 on a GPU: the published rows are CNNs whose one linear layer is the classifier, so it "
        "is not identifiable there; fitted for a CPU (stbench predict --validate-cpu)",
    ),
    Constant(
        "matmul_half_dim",
        0.0,
        "a matrix product of two activations (attention's Q K^T and A V, batched over heads) "
        "whose smaller of N (output columns) and K (reduction length) is d runs at "
        "d / (d + matmul_half_dim) of a convolution's rate (d: attention's head dimension, "
        "32-96; MViTv2's relative-position products, 7-14)",
        "assumed",
        "0 (off) on a GPU: no published row has one, so it is not identifiable there; fitted for "
        "a CPU (stbench predict --validate-cpu)",
    ),
    Constant(
        "eff_cache_bw",
        1.0,
        "fraction of the last-level cache's copy bandwidth (bytes of a kernel up to the cache's "
        "size come from it, the rest from memory)",
        "assumed",
        "unused on a GPU (the device table gives no cache row, so every byte is costed at the "
        "memory bandwidth); fitted for a CPU, whose probe measures the cache's bandwidth",
    ),
    Constant("eff_bw", 0.836, "fraction of memory bandwidth", "fitted", FIT_DATA),
    Constant(
        "kernel_floor_us",
        LAUNCH_OVERHEAD_US,
        "microseconds per kernel at least (a kernel occupies the GPU at least as long as a "
        "launch takes)",
        "cited",
        "bench.predict.roofline.LAUNCH_OVERHEAD_US (NVIDIA developer forums); fitted, it took "
        "up the DLE machine's host cost per op (23 us) and made an H100 at batch 2 GPU-bound",
    ),
    Constant(
        "host_op_us",
        10.0,
        "microseconds of CPU per forward op (eager)",
        "cited",
        "PyTorch eager dispatch, '~5-25 us of CPU-side work per op' (From PyTorch op to kernel "
        "launch, https://jiahuanglin.xyz/all_lessons/gpu_kernel_serving/18_pytorch_to_kernel.html); "
        "10 us taken within that range",
    ),
    Constant(
        "host_backward_op_us",
        5.0,
        "microseconds of CPU per backward/optimizer op",
        "assumed",
        "half of host_op_us: the autograd engine runs backward ops from C++ without Python; "
        "not identifiable from the published rows (all training rows are GPU-bound)",
    ),
    Constant(
        "host_view_op_us",
        2.5,
        "microseconds of CPU per op that launches no kernel (views, reshapes)",
        "assumed",
        "a quarter of host_op_us (dispatch without a kernel launch); not identifiable from the "
        "published rows",
    ),
    Constant(
        "overlap_sharpness",
        2.175,
        "exponent p of the smooth max (host^p + gpu^p)^(1/p)",
        "fitted",
        FIT_DATA,
    ),
    Constant(
        "nchw_transpose_passes",
        1.215,
        "extra passes over a tensor-core conv's input and output on a contiguous (NCHW) tensor",
        "fitted",
        FIT_DATA,
    ),
    Constant("host_autocast_us", 43.39, "microseconds of CPU per autocast op", "fitted", FIT_DATA),
    Constant(
        "launch_us",
        LAUNCH_OVERHEAD_US,
        "microseconds per kernel launched from generated code (compile)",
        "cited",
        "bench.predict.roofline.LAUNCH_OVERHEAD_US (NVIDIA developer forums)",
    ),
]
CONSTANTS: dict[str, Constant] = {c.name: c for c in _C}

# Per-protocol fixed CPU time per timed iteration that a published figure includes beyond the
# model's pass (not part of a stbench estimate; used only to compare with that source). It
# adds to the host stream.
PROTOCOL_MS: dict[str, Constant] = {
    "NVIDIA/DeepLearningExamples": Constant(
        "protocol_ms_dle",
        8.09,
        "ms per iteration",
        "fitted",
        "DLE validation loop: host-to-device copy, loss, top-k accuracy, .item() syncs; "
        + FIT_DATA,
    ),
}

# |relative error| of the estimate against the published rows, by regime (median, worst),
# leave-one-GPU-out (each GPU's rows predicted by constants fitted without that GPU): written
# from `stbench predict --validate-published --leave-one-gpu-out` (78 rows; README).
REGIME_ERROR: dict[str, tuple[float, float]] = {
    "host-bound": (0.052, 0.207),
    "gpu-bound": (0.212, 0.330),
    "train": (0.102, 0.188),
}


# The label of a predicted latency axis: the leave-one-GPU-out error over all published rows.
VALIDATION = {"median": 0.143, "worst": 0.330, "n": 78, "how": "leave one GPU out"}


def validation_label() -> str:
    """'median error X% vs N published measurements' (leave-one-GPU-out)."""
    return (
        f"median error {100 * VALIDATION['median']:.0f}% vs {VALIDATION['n']} published "
        "measurements"
    )


def values(constants: Mapping[str, Constant] | None = None) -> dict[str, float]:
    """The constants' values by name (``CONSTANTS`` unless given)."""
    return {k: c.value for k, c in (constants or CONSTANTS).items()}


def check_memory_format(memory_format: str) -> str:
    """``memory_format`` if known, else a one-line ValueError naming those allowed."""
    if memory_format not in MEMORY_FORMATS:
        raise ValueError(
            f"memory_format: got {memory_format!r}; allowed: {', '.join(MEMORY_FORMATS)}"
        )
    return memory_format


_CLASS_CODE = {"bandwidth": 0, "conv_grouped": 1, "gemm_fp32": 2, "gemm_tf32": 3, "gemm_half": 4}
_GEMM_CODE = {"linear": 1, "matmul": 2}  # anything else (a conv, a non-GEMM kernel): 0


def kernel_class(op: Any, dtype: str, device: Device) -> str:
    """gemm_fp32 | gemm_tf32 | gemm_half | conv_grouped | bandwidth: how a kernel is costed."""
    if op.category in TENSOR_CORE_CATEGORIES:
        if op.kind in ("conv_depthwise", "conv_grouped"):
            return "conv_grouped"
        p = op_precision(op.category, dtype, device)
        return "gemm_fp32" if p == "fp32" else ("gemm_tf32" if p == "tf32" else "gemm_half")
    return "bandwidth"


def _fused(ops: list[Any]) -> list[Any]:
    """Kernels left after torch.compile folds norm/elementwise chains into the kernel before."""
    out: list[Any] = []
    for op in ops:
        if out and op.category in FUSABLE and op.phase == out[-1].phase:
            continue
        out.append(op)
    return out


@dataclass(frozen=True)
class Features:
    """What the estimate needs of one traced pass on one GPU, as arrays (one entry per kernel)."""

    cls: np.ndarray  # kernel class code (_CLASS_CODE)
    gemm: np.ndarray  # what a GEMM-class kernel multiplies (_GEMM_CODE): conv, linear, matmul
    min_dim: np.ndarray  # smaller of a GEMM's N and K (TraceOp.gemm_min_dim; 0: unknown)
    flops: np.ndarray
    nbytes: np.ndarray
    peak: np.ndarray  # FLOP/s of the precision the kernel runs in (FP32 for non-GEMM)
    transposes: np.ndarray  # 1 where a tensor-core conv gets NCHW<->NHWC conversions
    bandwidth: float
    cache_bytes: float  # last-level cache (0: none modelled, every byte at ``bandwidth``)
    cache_bandwidth: float
    fp32_peak: float
    sm_clock: float  # SMs x clock (Hz): the rate the per-SM issue term scales with; 0 = none
    host_counts: dict[str, int]  # forward/backward x kernel/view ops, autocast ops
    compile: bool
    cuda_graphs: bool = False


def features(
    ops: Iterable[Any],
    device: Device,
    dtype: str,
    *,
    memory_format: str = "contiguous",
    compile: bool = False,
    cuda_graphs: bool = False,
) -> Features:
    """The arrays :func:`estimate_features` costs, from a trace's ops run as told (layout,
    torch.compile, CUDA graphs)."""
    check_memory_format(memory_format)
    all_ops = list(ops)
    kernels = [o for o in all_ops if o.launches_kernel]
    if compile:
        kernels = _fused(kernels)
    classes = [kernel_class(o, dtype, device) for o in kernels]
    peaks = [
        (device.peak(op_precision(o.category, dtype, device)) or device.peaks["fp32"])
        if c.startswith("gemm")
        else device.peaks["fp32"]
        for o, c in zip(kernels, classes, strict=True)
    ]
    trans = [
        c in ("gemm_tf32", "gemm_half") and o.category == "conv" and memory_format == "contiguous"
        for o, c in zip(kernels, classes, strict=True)
    ]
    fwd = [o for o in all_ops if o.phase == "forward"]
    rest = [o for o in all_ops if o.phase != "forward"]
    counts = {
        "forward_kernels": sum(o.launches_kernel for o in fwd),
        "forward_views": sum(not o.launches_kernel for o in fwd),
        "backward_kernels": sum(o.launches_kernel for o in rest),
        "backward_views": sum(not o.launches_kernel for o in rest),
        "autocast_ops": 0
        if dtype == "float32"
        else sum(o.category in TENSOR_CORE_CATEGORIES for o in fwd),
        "kernels": len(kernels),
    }
    return Features(
        cls=np.array([_CLASS_CODE[c] for c in classes], dtype=np.int8),
        gemm=np.array([_GEMM_CODE.get(o.category, 0) for o in kernels], dtype=np.int8),
        min_dim=np.array([float(o.gemm_min_dim) for o in kernels]),
        flops=np.array([float(o.flops) for o in kernels]),
        nbytes=np.array([float(o.bytes_read + o.bytes_written) for o in kernels]),
        peak=np.array(peaks, dtype=float),
        transposes=np.array(trans, dtype=bool),
        bandwidth=device.bandwidth,
        cache_bytes=float(device.cache_bytes),
        cache_bandwidth=float(device.cache_bandwidth),
        fp32_peak=device.peaks["fp32"],
        sm_clock=sm_clock(device),
        host_counts=counts,
        compile=compile,
        cuda_graphs=cuda_graphs,
    )


def sm_clock(device: Device) -> float:
    """SMs x boost clock (Hz) of a GPU: as stated, else its FP32 peak / 256.

    Every device-table GPU of an architecture since GA10x/Hopper whose SM count and clock are
    both stated has an FP32 peak of 256 FLOP per SM per clock (128 FP32 lanes x 2); the rows
    without both (H100 PCIe, L40S, RTX 6000 Ada, RTX PRO 6000, B200) are of those architectures.
    """
    if device.sm_count and device.boost_mhz:
        return device.sm_count * device.boost_mhz * 1e6
    return device.peaks["fp32"] / FP32_FLOP_PER_SM_CLOCK


def gpu_seconds(f: Features, v: Mapping[str, float]) -> float:
    """Estimated GPU seconds of all kernels of ``f`` (layout conversions included)."""
    memory = f.nbytes / (v["eff_bw"] * f.bandwidth)
    if f.cache_bytes > 0:  # a kernel's first cache_bytes from the cache, the rest from memory
        hit = np.minimum(f.nbytes, f.cache_bytes)
        memory = hit / (v["eff_cache_bw"] * f.cache_bandwidth) + (f.nbytes - hit) / (
            v["eff_bw"] * f.bandwidth
        )
    floor = v["kernel_floor_us"] * 1e-6
    eff = np.select(
        [f.cls == 2, f.cls == 3, f.cls == 4, f.cls == 1],
        [v["eff_fp32"], v["eff_tf32"], v["eff_half"], v.get("eff_grouped", v["eff_fp32"])],
        default=1.0,
    )
    rate = np.where(f.gemm == 1, v["rate_linear"], 1.0)
    half = v["matmul_half_dim"]
    if half > 0:  # a product of activations with a thin dimension runs below a conv's rate
        thin = (f.gemm == 2) & (f.min_dim > 0)
        rate = np.where(thin, f.min_dim / (f.min_dim + half), rate)
    compute = np.where(f.cls == 0, 0.0, f.flops / (eff * rate * f.peak))
    issue = v.get("sm_issue_flop", 0.0)
    if issue > 0:  # 0: no per-SM term (the CPU)
        compute = compute + np.where(f.cls >= 2, f.flops / (issue * f.sm_clock), 0.0)
    t = np.maximum(compute, memory) + floor
    passes = v["nchw_transpose_passes"]
    t = t + np.where(f.transposes, passes * memory + 2 * floor, 0.0)
    return float(t.sum())


def host_seconds(f: Features, v: Mapping[str, float]) -> float:
    """Estimated CPU seconds to issue the pass: eager dispatch, or none (graphs), or launches."""
    c = f.host_counts
    if f.cuda_graphs:
        return 0.0
    if f.compile:
        return c["kernels"] * v["launch_us"] * 1e-6
    us = (
        c["forward_kernels"] * v["host_op_us"]
        + c["forward_views"] * v["host_view_op_us"]
        + c["backward_kernels"] * v["host_backward_op_us"]
        + c["backward_views"] * v["host_view_op_us"]
        + c["autocast_ops"] * v["host_autocast_us"]
    )
    return us * 1e-6


def combine(host_s: float, gpu_s: float, v: Mapping[str, float]) -> float:
    """Step time of a host and a GPU stream that overlap: a smooth ``max(host, gpu)``.

    ``(host^p + gpu^p)^(1/p)`` with ``p = overlap_sharpness``: p -> infinity is a perfect
    overlap (the max), p = 1 none (the sum). Near ``host == gpu`` the GPU starves now and then.
    """
    p = v["overlap_sharpness"]
    hi = max(host_s, gpu_s)
    if hi <= 0:
        return 0.0
    return hi * ((host_s / hi) ** p + (gpu_s / hi) ** p) ** (1 / p)


def estimate_features(
    f: Features,
    v: Mapping[str, float] | None = None,
    *,
    extra_host_ms: float = 0.0,
) -> dict[str, Any]:
    """GPU time, host time and the estimated latency (ms) of the overlapped streams.

    ``extra_host_ms`` is CPU time per iteration outside the model (a benchmark protocol's).
    """
    v = values() if v is None else v
    gpu = gpu_seconds(f, v)
    host = host_seconds(f, v) + extra_host_ms * 1e-3
    return {
        "latency_ms": combine(host, gpu, v) * 1e3,
        "gpu_ms": gpu * 1e3,
        "host_ms": host * 1e3,
        "estimate_kernels": f.host_counts["kernels"],
        "bound_by": "host" if host > gpu else "gpu",
    }


def regime(bound_by: str, train: bool) -> str:
    """The validation regime of an estimate: host-bound, gpu-bound or train."""
    return "train" if train else ("host-bound" if bound_by == "host" else "gpu-bound")


def interval(latency_ms: float, which: str) -> tuple[float, float]:
    """(low, high) around an estimate from the worst validation error of its regime."""
    _median, worst = REGIME_ERROR[which]
    return latency_ms / (1 + worst), latency_ms / max(1 - worst, 0.05)
