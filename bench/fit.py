"""Will it fit: a lower bound on a measurement's memory, the memory the device has free,
and out-of-memory errors turned into one-line results.

The bound is deliberately loose (weights plus the largest single tensor one op produces,
at the run's batch and dtype) so that it only refuses configurations that clearly cannot
run; anything closer is left to the measurement, whose out-of-memory error is caught and
stored as a failure with the size it asked for.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from stbench.bench.config import ProfileConfig
    from stbench.bench.counting import StaticCount

DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}
GIB = 1024**3
_ASKED = re.compile(r"(?:tried to allocate|allocate)\s+([\d.]+)\s*(bytes|[KMGT]i?B)", re.I)
_UNITS = {"bytes": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12}
_UNITS |= {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


class OutOfMemory(RuntimeError):
    """A measurement ran out of memory; the message is one line with the size asked for."""


def available_memory(device: str) -> int | None:
    """Bytes the device can still allocate (CPU: MemAvailable; CUDA: free), None if unknown."""
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.mem_get_info(torch.device(device))[0])
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def memory_lower_bound(cfg: ProfileConfig, sc: StaticCount) -> int:
    """Bytes a forward of `cfg` needs at least: fp32 weights + its largest activation."""
    return 4 * sc.params + cfg.batch * sc.largest_activation * DTYPE_BYTES[cfg.dtype]


def check_fits(cfg: ProfileConfig, sc: StaticCount, available: int | None = None) -> None:
    """Refuse (one-line ValueError) a measurement whose lower bound exceeds free memory."""
    if not cfg.measures:
        return
    free = available_memory(cfg.device) if available is None else available
    need = memory_lower_bound(cfg, sc)
    if free is None or need <= free:
        return
    shape = "x".join(map(str, cfg.input_shape))
    raise ValueError(
        f"--size/--batch: {cfg.model} at {shape} needs at least {need / GIB:,.2f} GiB "
        f"(weights and its largest activation) but {cfg.device} has {free / GIB:,.2f} GiB "
        "available; allowed: a smaller --size, --frames or --batch"
    )


def asked_bytes(message: str) -> int | None:
    """The allocation size an out-of-memory message names, in bytes, if it names one."""
    m = _ASKED.search(message)
    if not m:
        return None
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def out_of_memory(exc: BaseException, what: str) -> OutOfMemory:
    """The one-line `OutOfMemory` for an allocation failure during `what`."""
    asked = asked_bytes(str(exc))
    size = f": tried to allocate {asked / GIB:,.2f} GiB ({asked:,} bytes)" if asked else ""
    return OutOfMemory(f"out of memory during {what}{size}")
