"""Static counts of zoo configurations: the one counting function, with the store as cache.

`count_static` is where a zoo configuration's params and per-clip MACs are counted (on
the meta device, conv+linear scope): `profile` (and so `stbench profile` and `sweep`),
`reproduce`, `compare`, `frontier`, `demo` and the pytest-benchmark suites all call it.
`missing_static` finds the configurations whose counts the results store lacks (and
`bench.sweep.fill.fill_static` counts and stores only those, so a second `stbench
frontier` counts nothing).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from stbench.bench.config import ProfileConfig

if TYPE_CHECKING:
    import torch
    from stbench.bench.count.counting import StaticCount
    from torch import nn

COUNTER = "meta"
STATIC_KEY = ("model", "frames", "size", "num_classes")
FEW = 8  # configurations counted in this process, in a second or two, without progress
_STATIC_SETTINGS = {
    f: v for f, v in ProfileConfig("any", 1, 1).key_fields().items() if f not in STATIC_KEY
}


def build_zoo_model(
    name: str, *, frames: int, num_classes: int, device: str | torch.device = "meta"
) -> nn.Module:
    """Build a zoo model; on ``meta`` weights are not allocated or initialised."""
    import torch
    from stbench.zoo import create_model

    if torch.device(device).type != "meta":
        return create_model(name, num_classes=num_classes, frames=frames)
    try:
        with torch.device("meta"):
            return create_model(name, num_classes=num_classes, frames=frames)
    except ValueError:
        raise
    except Exception:  # a builder that cannot run on meta: build for real instead
        return create_model(name, num_classes=num_classes, frames=frames)


def build_model(cfg: ProfileConfig, *, weights: bool = False) -> nn.Module:
    """The configuration's zoo model: on meta, or on the CPU with real weights."""
    device = "cpu" if weights else "meta"
    return build_zoo_model(cfg.model, frames=cfg.frames, num_classes=cfg.num_classes, device=device)


def count_static(
    cfg: ProfileConfig,
    model: nn.Module | None = None,
    *,
    input_shape: Sequence[int] | None = None,
) -> StaticCount:
    """Params and conv+linear MACs of one clip of ``cfg``: stbench's one static count.

    The zoo model is built on meta unless ``model`` is given (any module, with real or meta
    weights, is counted on meta and left unchanged); ``input_shape`` defaults to one clip
    ``(1, 3, frames, size, size)``. Per-module MACs when ``cfg.per_module``. A user's
    model runs in the box (`zoo.usercode`); the output's class dimension must be
    ``cfg.num_classes`` when that is given.
    """
    from stbench.bench.count.counting import static_count
    from stbench.zoo.registry import model_code
    from stbench.zoo.usercode import check_classes

    if model is None:
        model = build_model(cfg)
    shape = (1, 3, cfg.frames, cfg.size, cfg.size) if input_shape is None else input_shape
    with model_code(cfg.model, "forward (counting)"):
        sc = static_count(model, shape, per_module=cfg.per_module)
    check_classes(sc.output_shape, cfg.num_classes, cfg.model)
    return sc


def static_fields(sc: StaticCount) -> dict[str, Any]:
    """The static part of a profile row: params, MACs by scope, the counter and its scope."""
    row: dict[str, Any] = {
        "count_input_shape": list(sc.input_shape),
        "macs_per": "clip",
        "params": sc.params,
        "macs": sc.macs,
        "flops": sc.flops,
        "conv_macs": sc.conv_macs,
        "linear_macs": sc.linear_macs,
        "matmul_macs": sc.matmul_macs,
        "total_macs": sc.total_macs,
        "other_elements": sc.other_elements,
        "other": sc.other,
        "other_by_category": sc.other_by_category,
        "uncounted_ops": sc.uncounted_ops,
        "counter": sc.counter,
        "counter_version": sc.counter_version,
        "scope": sc.scope,
        "counters": {
            COUNTER: {
                "macs": sc.macs,
                "conv_macs": sc.conv_macs,
                "linear_macs": sc.linear_macs,
                "scope": sc.scope,
                "version": sc.counter_version,
            }
        },
    }
    if sc.per_module is not None:
        row["per_module"] = sc.per_module
    return row


# ---------------------------------------------------------------- the store as a cache


def static_key(row: Mapping[str, Any] | ProfileConfig) -> tuple[Any, ...]:
    """(model, frames, size, num_classes): what fixes a clip's static counts."""
    get = row.get if isinstance(row, Mapping) else lambda f: getattr(row, f)
    return tuple(get(f) for f in STATIC_KEY)


def stored_static(rows: Iterable[Mapping[str, Any]]) -> set[tuple[Any, ...]]:
    """The `static_key`s that stored rows answer: ok rows with the meta counter's params
    and MACs, whatever device, batch or dtype they were measured at (MACs are per clip)."""
    return {
        static_key(r)
        for r in rows
        if r.get("status", "ok") == "ok"
        and r.get("counter") == COUNTER
        and None not in (r.get("params"), r.get("macs"))
    }


def missing_static(
    configs: Iterable[ProfileConfig], rows: Iterable[Mapping[str, Any]]
) -> list[ProfileConfig]:
    """The static configurations of ``configs`` that ``rows`` do not answer, each once."""
    have = stored_static(rows)
    return list({static_key(c): c.static() for c in configs if static_key(c) not in have}.values())
