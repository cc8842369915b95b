"""`ProfileConfig`: what one profile runs, and (its key fields) where the store keeps it.

The key fields are exactly the results store's key ``(model, frames, size, batch,
num_classes, device, dtype, memory_format, compile)``; the options after them (counters,
per-module detail, timing, memory, throughput) say what to measure and are not part of
the key. Every field is validated on construction, with one-line messages that name the
option (``frames: got 0; allowed: an integer >= 1``), so a configuration that exists is
a valid one; only the device's availability is checked when a profile runs.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import Any

from stbench.bench.store.results import KEY_FIELDS as KEY

from stbench.values import positive_int, positive_number

MEMORY_FORMATS = ("contiguous", "channels_last_3d")
DTYPES = ("float32", "bfloat16", "float16")
DTYPE_ALIASES = {"fp32": "float32", "bf16": "bfloat16", "fp16": "float16", "half": "float16"}
COUNTERS: tuple[str, ...] = (
    "meta",
    "torch-flop-counter",
    "fvcore",
    "ptflops-pytorch",
    "ptflops-aten",
)
INT_OPTIONS = ("min_iters", "max_iters", "threads")
# Timing-protocol overrides a configuration may carry (see `bench.measure.timing.Protocol`).
PROTOCOL_FIELDS = ("warmup_s", "max_warmup_s", "min_iters", "max_iters", "max_time_s")


def canonical_device(device: Any) -> str:
    """A device string's canonical form (cpu, cuda, cuda:N); its availability is not checked.
    (A row's ``device_name`` is the hardware's name: `bench.measure.timing.device_name`.)"""
    name = str(device)
    if not re.fullmatch(r"cpu|cuda(:\d+)?", name):
        raise ValueError(f"device: got {name!r}; allowed: cpu, cuda, cuda:N")
    return name


def dtype_name(dtype: Any) -> str:
    """Canonical dtype name (float32, bfloat16, float16); bf16/fp16 run under autocast."""
    name = str(dtype).removeprefix("torch.")
    name = DTYPE_ALIASES.get(name, name)
    if name not in DTYPES:
        raise ValueError(f"dtype: got {str(dtype)!r}; allowed: {', '.join(DTYPES)}")
    return name


def parse_counters(spec: str | Sequence[str]) -> tuple[str, ...]:
    """Normalise a counter selection ('meta', 'all', 'a,b' or a sequence) to known names."""
    items = [spec] if isinstance(spec, str) else list(spec)
    names: list[str] = []
    for item in items:
        for part in str(item).split(","):
            part = part.strip()
            if part == "all":
                names.extend(COUNTERS)
            elif part in COUNTERS:
                names.append(part)
            elif part:
                raise ValueError(
                    f"counters: unknown counter {part!r}; allowed: all, {', '.join(COUNTERS)}"
                )
    return tuple(dict.fromkeys(["meta", *names]))


@dataclasses.dataclass(frozen=True)
class ProfileConfig:
    """One profile: the store key fields, then what to count and measure (not in the key).

    ``frames``, ``size`` and ``num_classes`` are None only for an ``nn.Module`` whose input
    or output does not define them; such a row cannot be stored.
    """

    model: str
    frames: int | None
    size: int | None
    batch: int = 1
    num_classes: int | None = None
    device: str = "cpu"
    dtype: str = "float32"
    memory_format: str = "contiguous"
    compile: bool = False
    counters: tuple[str, ...] = ("meta",)
    per_module: bool = False
    timing: bool = False
    memory: bool = False
    throughput_batch: int | None = None
    warmup_s: float | None = None
    max_warmup_s: float | None = None
    min_iters: int | None = None
    max_iters: int | None = None
    max_time_s: float | None = None
    threads: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise ValueError(f"model: got {self.model!r}; allowed: a zoo model or module name")
        for name in ("frames", "size", "num_classes", "throughput_batch", *INT_OPTIONS):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, positive_int(name, getattr(self, name)))
        for name in ("warmup_s", "max_warmup_s", "max_time_s"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, positive_number(name, getattr(self, name)))
        if self.min_iters and self.max_iters and self.min_iters > self.max_iters:
            raise ValueError(
                f"min_iters: got {self.min_iters}; allowed: at most max_iters ({self.max_iters})"
            )
        object.__setattr__(self, "batch", positive_int("batch", self.batch))
        if self.memory_format not in MEMORY_FORMATS:
            raise ValueError(
                f"memory_format: got {self.memory_format!r}; allowed: {', '.join(MEMORY_FORMATS)}"
            )
        normal = {
            "device": canonical_device(self.device),
            "dtype": dtype_name(self.dtype),
            "counters": parse_counters(self.counters),
            "compile": bool(self.compile),
            "per_module": bool(self.per_module),
            "timing": bool(self.timing),
            "memory": bool(self.memory),
        }
        for name, value in normal.items():
            object.__setattr__(self, name, value)

    @classmethod
    def for_model(
        cls,
        model: str,
        *,
        frames: int | None = None,
        size: int | None = None,
        num_classes: int | None = None,
        channels_last: bool = False,
        **options: Any,
    ) -> ProfileConfig:
        """A zoo model's configuration; frames, size and classes default to its spec's."""
        from stbench.zoo import get_spec

        spec = get_spec(model)
        return cls(
            spec.name,
            spec.default_frames if frames is None else frames,
            spec.default_size if size is None else size,
            num_classes=spec.default_classes if num_classes is None else num_classes,
            memory_format=MEMORY_FORMATS[1] if channels_last else MEMORY_FORMATS[0],
            **options,
        )

    @property
    def key(self) -> tuple[Any, ...]:
        """The store key, in KEY order (compile as 0/1, as the store keeps it)."""
        return tuple(int(self.compile) if f == "compile" else getattr(self, f) for f in KEY)

    def key_fields(self) -> dict[str, Any]:
        """The key as the first fields of a row."""
        return {f: getattr(self, f) for f in KEY}

    @property
    def channels_last(self) -> bool:
        """Whether inputs and weights use the channels_last_3d memory format."""
        return self.memory_format == "channels_last_3d"

    def prepare_options(self) -> dict[str, Any]:
        """How `bench.measure.timing.prepare` places the model: device, dtype, format, compile."""
        return {
            "device": self.device,
            "dtype": self.dtype,
            "channels_last": self.channels_last,
            "compile": self.compile,
        }

    def protocol(self) -> dict[str, Any]:
        """The timing-protocol overrides this configuration sets (empty: the defaults)."""
        return {f: getattr(self, f) for f in PROTOCOL_FIELDS if getattr(self, f) is not None}

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The timed input ``(batch, 3, frames, size, size)``."""
        return (self.batch, 3, self.frames, self.size, self.size)

    @property
    def measures(self) -> bool:
        """Whether the profile runs real forwards (latency, throughput or memory)."""
        return self.timing or self.memory or self.throughput_batch is not None

    @property
    def needs_weights(self) -> bool:
        """Whether the model needs real weights: it is measured or cross-checked."""
        return self.measures or len(self.counters) > 1

    def static(self) -> ProfileConfig:
        """The static-count configuration of the same clip: batch 1 on cpu, eager, float32,
        counted by the meta counter only (what `stbench sweep` stores by default)."""
        return ProfileConfig(self.model, self.frames, self.size, num_classes=self.num_classes)

    def options(self) -> dict[str, Any]:
        """Every field but the model, as keywords of `profile(model, **options)`."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d.pop("model")
        d["channels_last"] = d.pop("memory_format") == "channels_last_3d"
        return d
