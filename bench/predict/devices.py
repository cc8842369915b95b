"""The device table: public peak throughput and memory bandwidth of NVIDIA GPUs, each cited.

Rows live in ``devices.csv`` (shipped with the package): dense (no sparsity) tensor-core
peaks in TFLOPS for TF32, BF16 and FP16, the FP32 CUDA-core peak, memory bandwidth in GB/s
and capacity in GB as the vendor states it, the SM count and boost clock where a document states
them, with the document each row's values come from. An empty peak means the GPU has no such
peak (no BF16 on T4 and V100) or no document states it (the row's notes say which); an empty SM
count or clock means no document found states it. GeForce rows list FP16/BF16 at the rate with
FP32 accumulation (what PyTorch uses), half the FP16-accumulate rate.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

PEAK_COLUMNS = {"float32": "fp32", "tfloat32": "tf32", "bfloat16": "bf16", "float16": "fp16"}


@dataclass(frozen=True)
class Device:
    """One GPU: peaks (FLOP/s), bandwidth (byte/s), capacity (bytes) and their source."""

    name: str
    label: str
    memory_bytes: int
    bandwidth: float  # bytes per second
    peaks: dict[str, float]  # fp32 | tf32 | bf16 | fp16 -> FLOP/s (dense)
    source: str
    notes: str
    sm_count: int | None = None
    boost_mhz: float | None = None
    # last-level cache and its copy bandwidth (bytes, bytes per second): a probed CPU row's;
    # 0 for the GPU rows (the estimate then costs every byte at ``bandwidth``)
    cache_bytes: int = 0
    cache_bandwidth: float = 0.0

    def peak(self, precision: str) -> float | None:
        """Dense peak FLOP/s for fp32, tf32, bf16 or fp16; None when the GPU has none."""
        return self.peaks.get(precision)

    def dtypes(self) -> list[str]:
        """Run dtypes this GPU has a matrix peak for."""
        return [d for d, col in PEAK_COLUMNS.items() if col in self.peaks and d != "tfloat32"]


def _parse(row: dict[str, str]) -> Device:
    peaks = {
        col: float(row[f"{col}_tflops"]) * 1e12
        for col in PEAK_COLUMNS.values()
        if row[f"{col}_tflops"].strip()
    }
    return Device(
        name=row["name"],
        label=row["label"],
        memory_bytes=int(float(row["memory_gb"]) * 2**30),
        bandwidth=float(row["bandwidth_gbs"]) * 1e9,
        peaks=peaks,
        source=row["source"],
        notes=row["notes"],
        sm_count=int(row["sm_count"]) if row.get("sm_count", "").strip() else None,
        boost_mhz=float(row["boost_mhz"]) if row.get("boost_mhz", "").strip() else None,
    )


@cache
def devices() -> dict[str, Device]:
    """Every GPU of the shipped table, by name."""
    text = resources.files("stbench.bench.predict").joinpath("devices.csv").read_text()
    return {d.name: d for d in map(_parse, csv.DictReader(text.splitlines()))}


# Short names that name a family with several rows: the row the table had before it grew.
ALIASES = {"h100": "h100_sxm", "a100": "a100_80gb", "v100": "v100_sxm2", "rtx_pro": "rtx_pro_6000"}


def get_device(name: str) -> Device:
    """The GPU called ``name`` (case-insensitive; '-' and ' ' read as '_'; a unique prefix or an
    alias of :data:`ALIASES` works)."""
    table = devices()
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_")
    key = ALIASES.get(key, key)
    hits = [n for n in table if n.startswith(key)] if key else []
    if key not in table and len(hits) == 1:
        key = hits[0]
    if key not in table:
        raise ValueError(f"gpu: got {name!r}; allowed: {', '.join(table)}")
    return table[key]


# What `torch.cuda.get_device_name` reports for each row's GPU (PCIe and other memory
# variants have other peaks and bandwidths, so they match none).
CUDA_NAME_PATTERNS = {
    "h100_sxm": r"\bH100\b.*(SXM|HBM3\b)",
    "h100_pcie": r"\bH100\b.*PCIe",
    "h200": r"\bH200\b",
    "b200": r"\bB200\b",
    "a100_80gb": r"\bA100\b.*SXM.*80GB",
    "a100_40gb": r"\bA100\b.*SXM.*40GB",
    "a10": r"\bA10\b(?!0)",
    "l40s": r"\bL40S\b",
    "l4": r"\bL4\b",
    "t4": r"\bT4\b",
    "v100_sxm2": r"\bV100\b.*SXM2.*32GB",
    "v100_sxm2_16gb": r"\bV100\b.*SXM2.*16GB",
    "rtx_3090": r"\bRTX 3090\b(?! Ti)",
    "rtx_4090": r"\bRTX 4090\b(?! D)",
    "rtx_5090": r"\bRTX 5090\b",
    "rtx_6000_ada": r"\bRTX 6000 Ada\b",
    "rtx_pro_6000_maxq": r"\bRTX PRO 6000\b.*Max-Q",
    "rtx_pro_6000": r"\bRTX PRO 6000\b(?!.*Max-Q)",
}


def device_for_cuda_name(cuda_name: str) -> Device | None:
    """The device-table row of a GPU by the name CUDA reports, or None when none matches."""
    table = devices()
    for name in _cuda_name_matches(cuda_name or ""):
        if name in table:
            return table[name]
    return None


@lru_cache(maxsize=1024)
def _cuda_name_matches(cuda_name: str) -> tuple[str, ...]:
    """The table names whose pattern matches a CUDA device name, in table order (once a name:
    a dashboard asks per point)."""
    import re

    return tuple(
        name
        for name, pattern in CUDA_NAME_PATTERNS.items()
        if re.search(pattern, cuda_name, re.IGNORECASE)
    )
