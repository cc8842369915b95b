"""How close a timed row runs to the machine's limit: achieved GMAC/s against a GEMM probe.

The probe times one square matrix product (``torch.mm``, side :func:`gemm_n`) at the row's
device, dtype (autocast as in the forward) and intra-op threads; its best call is the
machine's GEMM rate, cached per machine (CPU model, host, torch version, device, dtype,
threads) in ``$STBENCH_CACHE_DIR/gemm_rates.json`` (default ``~/.cache/stbench``) and
recorded with its method in every row. A row's ``latency_gmacs_per_s`` is its conv+linear
MACs (whole batch) over its median latency; ``latency_gemm_fraction`` is that over the rate.

Per-module time (``per_module_time``): forward pre/post hooks time every module's calls;
a module's self time is its time less its children's, so the shares sum to the forward.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from stbench.bench.environment import cpu_model
from stbench.bench.probes import device_sync, gemm_seconds
from stbench.zoo.index import cache_dir
from torch import nn

GEMM_WARMUP, GEMM_CALLS = 2, 7


def gemm_n() -> int:
    """The probe's matrix side: 2048, or ``$STBENCH_GEMM_N`` (tests use a small one)."""
    return int(os.environ.get("STBENCH_GEMM_N") or 2048)


def cache_path() -> Path:
    """The GEMM-rate cache file, in stbench's one cache folder (`stbench.zoo.index.cache_dir`)."""
    return cache_dir() / "gemm_rates.json"


def gemm_method(device: str, dtype: str, threads: int) -> str:
    """The probe in words, recorded with every rate it gives."""
    amp, n = "" if dtype == "float32" else f" under {dtype} autocast", gemm_n()
    return (
        f"torch.mm {n}x{n}x{n} float32 operands{amp} on {device}, "
        f"{threads} thread(s), best of {GEMM_CALLS} after {GEMM_WARMUP} warm-up"
    )


def probe_gemm(device: str = "cpu", dtype: str = "float32") -> float:
    """GMAC/s of the best of a few square products (side `gemm_n`) at the current threads:
    float32 operands, under `dtype` autocast (`bench.probes.gemm_seconds`)."""
    amp = {"float32": None, "bfloat16": torch.bfloat16, "float16": torch.float16}[dtype]
    n = gemm_n()
    best = gemm_seconds(n, calls=GEMM_CALLS, warmup=GEMM_WARMUP, autocast=amp, device=device)
    return n**3 / best / 1e9


def _machine_key(device: str, dtype: str, threads: int) -> str:
    return "|".join(
        [platform.node(), cpu_model(), torch.__version__, device, dtype, f"{threads} threads"]
    )


def gemm_rate(device: str = "cpu", dtype: str = "float32", threads: int | None = None) -> dict:
    """This machine's GEMM rate at `device`, `dtype` and `threads` (default: torch's now):
    ``{"gmacs_per_s", "method", "measured_at"}``, probed once and cached per machine."""
    threads = torch.get_num_threads() if threads is None else threads
    key, path = _machine_key(device, dtype, threads), cache_path()
    method = gemm_method(device, dtype, threads)
    try:
        cached = json.loads(path.read_text())
    except (OSError, ValueError):
        cached = {}
    hit = cached.get(key)
    if isinstance(hit, dict) and hit.get("method") == method:
        return hit
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        rate = probe_gemm(device, dtype)
    finally:
        torch.set_num_threads(before)
    entry = {
        "gmacs_per_s": round(rate, 2),
        "method": method,
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    cached[key] = entry
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(cached, indent=1, sort_keys=True))
        tmp.replace(path)
    except OSError:
        pass  # an unwritable cache only means probing again next time
    return entry


def efficiency_fields(row: dict[str, Any], rate: dict[str, Any]) -> dict[str, Any]:
    """Achieved GMAC/s of a timed row (conv+linear MACs per clip x batch over its median
    latency) and its fraction of the GEMM rate `rate`, with the probe's method."""
    latency = row.get("latency_ms_median")
    if not latency or not row.get("macs"):
        return {}
    achieved = row["macs"] * row.get("batch", 1) / (latency / 1e3) / 1e9
    return {
        "latency_gmacs_per_s": float(f"{achieved:.4g}"),
        "latency_gemm_gmacs_per_s": rate["gmacs_per_s"],
        "latency_gemm_fraction": float(f"{achieved / rate['gmacs_per_s']:.4g}"),
        "latency_gemm_probe": rate["method"],
    }


def per_module_time(
    model: nn.Module, forward: Callable[[], Any], *, calls: int = 3, device: str = "cpu"
) -> dict[str, float]:
    """Each module's share of the forward's time (self time: less its children's), median
    over `calls` forwards after one warm-up; ``""`` is the time outside every module."""
    names = {id(m): n for n, m in model.named_modules() if n}
    sync = device_sync(device)
    stack: list[list[Any]] = []
    spent: dict[str, list[float]] = {}

    def pre(mod: nn.Module, _args: Any) -> None:
        if id(mod) in names:
            sync()
            stack.append([names[id(mod)], time.perf_counter(), 0.0])

    def post(mod: nn.Module, _args: Any, _out: Any) -> None:
        if id(mod) in names and stack and stack[-1][0] == names[id(mod)]:
            sync()
            name, t0, children = stack.pop()
            total = time.perf_counter() - t0
            per_call[name] = per_call.get(name, 0.0) + total - children
            if stack:
                stack[-1][2] += total

    from torch.nn.modules.module import (
        register_module_forward_hook,
        register_module_forward_pre_hook,
    )

    forward()
    handles = [register_module_forward_pre_hook(pre), register_module_forward_hook(post)]
    try:
        for _ in range(calls):
            per_call: dict[str, float] = {}
            sync()
            t0 = time.perf_counter()
            forward()
            sync()
            per_call[""] = time.perf_counter() - t0 - sum(per_call.values())
            for name, s in per_call.items():
                spent.setdefault(name, []).append(s)
    finally:
        for h in handles:
            h.remove()
    medians = {n: statistics.median(v + [0.0] * (calls - len(v))) for n, v in spent.items()}
    total = sum(medians.values()) or 1.0
    return {n: round(s / total, 5) for n, s in sorted(medians.items(), key=lambda kv: -kv[1])}
