"""Sweep presets: named sets of measurement modes that ``stbench sweep --preset NAME`` runs.

A preset expands every selected model input into one task per mode (dtype and memory format)
with the measurements it names. ``gpu-reference`` is the GPU reference run: latency at batch 1,
throughput at a larger batch (the sweep's throughput measurement backs off on out-of-memory),
and peak memory, in float32 contiguous, float32 channels_last_3d and bfloat16 autocast
channels_last_3d. Its export (``scripts/gpu_reference.py``) has the schema of
``bench/reference/cpu-*.csv``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Preset:
    """Modes ((dtype, channels_last) pairs) and the measurements every mode takes."""

    name: str
    modes: tuple[tuple[str, bool], ...]
    time: bool = True
    memory: bool = True
    throughput_batch: int | None = None
    description: str = ""


PRESETS = {
    "gpu-reference": Preset(
        "gpu-reference",
        modes=(("float32", False), ("float32", True), ("bfloat16", True)),
        throughput_batch=32,
        description="batch-1 latency, throughput at batch 32 (OOM back-off) and peak memory, "
        "in float32 (contiguous and channels_last_3d) and bfloat16 autocast (channels_last_3d)",
    ),
}


def get_preset(name: str) -> Preset:
    """The preset called ``name``, else a one-line ValueError naming those there are."""
    if name not in PRESETS:
        raise ValueError(f"preset: got {name!r}; allowed: {', '.join(PRESETS)}")
    return PRESETS[name]


def preset_options(preset: Preset, options: dict[str, Any]) -> list[dict[str, Any]]:
    """``options`` (build_tasks keywords) once per mode of ``preset``, with its measurements.

    A throughput batch given in ``options`` wins over the preset's.
    """
    out = []
    for dtype, channels_last in preset.modes:
        out.append(
            {
                **options,
                "dtype": dtype,
                "channels_last": channels_last,
                "time": preset.time or options.get("time", False),
                "memory": preset.memory or options.get("memory", False),
                "throughput_batch": options.get("throughput_batch") or preset.throughput_batch,
            }
        )
    return out
