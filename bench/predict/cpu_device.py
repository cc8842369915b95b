"""The same estimate for this machine's CPU: a device row from short probes, checked against a
shipped CPU reference file (``bench/reference/cpu-*.csv``) per design group
(``stbench.zoo.designs``).

The probes (one thread unless told: the reference rows are single-threaded) time a float32 and
a bfloat16 matrix product and a large copy; the results are cached per machine and thread
count (stbench's one cache folder: ``$STBENCH_CACHE_DIR``, else ``~/.cache/stbench``). On a
CPU, ops run one after another on the calling thread, so the host and kernel streams add
(``overlap_sharpness = 1``). The CPU constants (:data:`CPU_FITTED`: the fraction of the probed
GEMM rate reached by convolutions and by grouped/depthwise convolutions, a linear layer's rate
against a convolution's, the head dimension at which attention's matrix products run at half a
convolution's rate, the fraction of the probed copy bandwidth, the time per kernel; the host
cost per op stays cited) are fitted on half of the reference rows (every other input in model
order); the error is reported on the other half, per design group.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from statistics import median
from typing import Any

from stbench.bench.predict.devices import Device
from stbench.bench.predict.estimate import estimate_features, features, values
from stbench.bench.probes import best_seconds, gemm_seconds
from stbench.zoo.designs import design_group
from stbench.zoo.index import cache_dir

# host_op_us stays cited: on one thread an op's dispatch and its kernel add up, so only their
# sum per op is identifiable; the fitted kernel floor takes what the cited host cost leaves.
CPU_FITTED = (
    *("eff_fp32", "eff_grouped", "eff_bw", "kernel_floor_us", "rate_linear", "matmul_half_dim"),
    "eff_cache_bw",
)

# Where a fit starts for a constant that is off (0) on a GPU.
CPU_START = {"matmul_half_dim": 16.0}


def _cache_dir() -> Path:
    return cache_dir()


def last_level_cache_bytes() -> int:
    """Size of this CPU's largest cache (bytes, from sysfs on Linux; 0 where not stated)."""
    sizes = []
    for f in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        text = f.read_text().strip().upper()
        unit = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
        digits = text.rstrip("KMG")
        if digits.isdigit():
            sizes.append(int(digits) * unit)
    return max(sizes, default=0)


def probe(threads: int = 1, n: int = 768, copy_mib: int = 128) -> dict[str, Any]:
    """GEMM rates (FLOP/s, float32 and bfloat16), memory copy bandwidth (byte/s), and the
    last-level cache's size and copy bandwidth (a copy of a quarter of it, twice over) of
    this CPU."""
    import datetime

    import torch
    from stbench.bench.environment import cpu_model

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        out: dict[str, Any] = {"cpu": cpu_model(), "threads": threads, "n": n, "probed_at": now}
        for name, dt in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
            out[f"{name}_flops"] = 2 * n**3 / gemm_seconds(n, calls=5, warmup=1, dtype=dt)
        out["bandwidth"] = _copy_rate(copy_mib * 2**20, calls=5)
        out["cache_bytes"] = last_level_cache_bytes()
        if out["cache_bytes"]:
            out["cache_bandwidth"] = _copy_rate(out["cache_bytes"] // 4, calls=50)
    finally:
        torch.set_num_threads(before)
    return out


def _copy_rate(nbytes: int, calls: int) -> float:
    """Bytes read and written per second by the best of ``calls`` copies of ``nbytes``."""
    import torch

    src = torch.empty(max(nbytes // 4, 1))  # float32
    dst = torch.empty_like(src)
    return 2 * src.numel() * 4 / best_seconds(lambda: dst.copy_(src), calls)


def cached_probe(threads: int = 1, *, refresh: bool = False) -> dict[str, Any]:
    """:func:`probe`, measured once per machine and thread count (again when ``refresh``) and
    then read from the cache."""
    from stbench.bench.environment import cpu_model

    slug = re.sub(r"[^a-z0-9]+", "-", cpu_model().lower()).strip("-") or "cpu"
    path = _cache_dir() / f"cpu-probe-{slug}-t{threads}.json"
    if path.exists() and not refresh:
        got = json.loads(path.read_text())
        if "cache_bytes" in got:  # else a probe from before the cache was probed: again
            return got
    got = probe(threads)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(got, indent=1))
    return got


def cpu_device(p: Mapping[str, Any]) -> Device:
    """A device-table row for the probed CPU (peaks: the probed GEMM rates)."""
    when = p.get("probed_at", "at an unrecorded time")
    return Device(
        name="cpu",
        label=f"{p['cpu']} ({p['threads']} thread(s), probed {when})",
        memory_bytes=0,
        bandwidth=float(p["bandwidth"]),
        peaks={"fp32": float(p["fp32_flops"]), "bf16": float(p["bf16_flops"])},
        cache_bytes=int(p.get("cache_bytes", 0)),
        cache_bandwidth=float(p.get("cache_bandwidth", 0.0)),
        source=f"probe: {p['n']}x{p['n']} matmul, a copy and a cache-sized copy on this machine",
        notes="",
    )


def cpu_constants(v: Mapping[str, float] | None = None) -> dict[str, float]:
    """The estimate's constants for a CPU: the GPU ones, host and kernels not overlapping."""
    out = dict(values())
    out.update(eff_grouped=out["eff_fp32"], overlap_sharpness=1.0, host_autocast_us=0.0)
    out.update(sm_issue_flop=0.0)  # no SMs: a CPU conv's rate is its probed GEMM rate
    out.update(v or {})
    return out


@cache
def _trace(model: str, frames: int, size: int, classes: int, dtype: str) -> Any:
    from stbench.bench.count.static import build_zoo_model
    from stbench.bench.predict.trace import trace_forward

    m = build_zoo_model(model, frames=frames, num_classes=classes)
    return trace_forward(m, (1, 3, frames, size, size), dtype=dtype)


REFERENCE_COLUMNS = (
    *("model", "frames", "size", "batch", "num_classes", "dtype", "memory_format", "status"),
    "latency_ms_median",
)
REFERENCE_FILE = "a CPU reference CSV (bench/reference/cpu-*.csv, scripts/cpu_reference.py)"


def read_reference(path: str | Path) -> Any:
    """The rows of a CPU reference file as a DataFrame; a one-line ValueError if it is none."""
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        raise ValueError(f"CPU reference: got {str(p)!r}; allowed: {REFERENCE_FILE}")
    try:
        df = pd.read_csv(p)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        why = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(
            f"CPU reference: {str(p)!r} is not a CSV ({why}); allowed: {REFERENCE_FILE}"
        ) from None
    missing = [c for c in REFERENCE_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(
            f"CPU reference: {p.name} lacks column(s) {', '.join(missing)}; "
            f"allowed: {REFERENCE_FILE}"
        )
    return df


def reference_targets(path: str | Path, dtype: str = "float32") -> list[dict[str, Any]]:
    """The ok, batch-1 rows of a CPU reference file in ``dtype``, with family and group."""
    from stbench.zoo import get_spec

    df = read_reference(path)
    df = df[(df["status"] == "ok") & (df["dtype"] == dtype) & (df["batch"] == 1)]
    df = df.sort_values(["model", "frames", "size"])
    out = []
    for i, r in enumerate(df.to_dict("records")):
        family = get_spec(r["model"]).family
        out.append({**r, "family": family, "group": design_group(family), "fit": i % 2 == 0})
    need = 2 * (len(CPU_FITTED) + 1)
    if len(out) < need:
        raise ValueError(
            f"CPU reference: {Path(path).name} has {len(out)} ok batch-1 {dtype} row(s); "
            f"allowed: at least {need} (every other one fits the {len(CPU_FITTED)} constants, "
            "the rest are held out)"
        )
    return out


def cpu_features(t: Mapping[str, Any], device: Device) -> Any:
    """The estimate's features of one reference row on the probed CPU."""
    tr = _trace(t["model"], int(t["frames"]), int(t["size"]), int(t["num_classes"]), t["dtype"])
    return features(tr.ops, device, t["dtype"], memory_format=str(t["memory_format"]))


def fit_cpu(
    targets: list[dict[str, Any]], device: Device, iterations: int = 500
) -> dict[str, float]:
    """CPU constants minimising |log error| over ``targets``."""
    from stbench.bench.predict.published import minimize

    feats = [(cpu_features(t, device), float(t["latency_ms_median"])) for t in targets]
    v0 = cpu_constants()

    def unpack(x: list[float]) -> dict[str, float]:
        v = dict(v0)
        v.update({n: math.exp(xi) for n, xi in zip(CPU_FITTED, x, strict=True)})
        # a grouped/depthwise conv reaches at most the dense conv's rate (it is costed by its
        # bytes where the data asks for more)
        v["eff_grouped"] = min(v["eff_grouped"], v["eff_fp32"])
        return v

    def loss(x: list[float]) -> float:
        v = unpack(x)
        errs = [abs(math.log(estimate_features(f, v)["latency_ms"] / m)) for f, m in feats]
        return sum(errs) / len(errs) + 0.25 * max(errs)

    start = {**v0, **CPU_START}
    return unpack(minimize(loss, [math.log(start[n]) for n in CPU_FITTED], iterations))


def validate_cpu_targets(
    targets: list[dict[str, Any]], *, threads: int = 1, reprobe: bool = False
) -> tuple[list[dict[str, Any]], dict[str, float], Device]:
    """Fit on the ``fit`` rows of :func:`reference_targets`, predict every row: (rows with
    error, constants, device)."""
    device = cpu_device(cached_probe(threads, refresh=reprobe))
    v = fit_cpu([t for t in targets if t["fit"]], device)
    rows = []
    for t in targets:
        est = estimate_features(cpu_features(t, device), v)
        rows.append(
            {
                **t,
                "predicted_ms": est["latency_ms"],
                "error": est["latency_ms"] / float(t["latency_ms_median"]) - 1,
            }
        )
    return rows, v, device


def group_table(rows: list[dict[str, Any]], held_out_only: bool = True) -> list[dict[str, Any]]:
    """Median and worst |error| per family group (held-out rows only, unless told)."""
    groups: dict[str, list[float]] = {}
    for r in rows:
        if held_out_only and r["fit"]:
            continue
        groups.setdefault(r["group"], []).append(abs(r["error"]))
    return [
        {"group": g, "n": len(e), "median": median(e), "worst": max(e)}
        for g, e in sorted(groups.items())
    ]
