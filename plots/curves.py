"""Cost curves of Xie et al.'s top-/bottom-heavy families against the transition point.

Xie et al. (papers/001_108aa75c7b5a30b7.txt, Sec. 4.2, Fig. 4) give the accuracy of the
top-heavy and bottom-heavy I3D/S3D models only as curves in a figure, never as numbers, so
no accuracy record names them. What exists is their cost: one curve per family over the
transition points (mixed_3b ... mixed_5c), with I3D, S3D, I2D (flat lines: no transition)
and Fast-S3D (top-heavy S3D at mixed_5b) marked. Costs come from the same static profiles
as every other point (keyed columns, so measured or predicted axes join the same way).
"""

from __future__ import annotations

import pandas as pd

HEAVY_FAMILIES = ("Top-Heavy-I3D", "Top-Heavy-S3D", "Bottom-Heavy-I3D", "Bottom-Heavy-S3D")
MARKED = {"xie_i3d": "I3D", "xie_s3d": "S3D", "xie_i2d": "I2D", "xie_fast_s3d": "Fast-S3D"}
CURVES_NOTE = (
    "Xie et al. give the accuracy of the top-/bottom-heavy models only as curves in a figure "
    "(Fig. 4), not as numbers, so no accuracy record exists for them: the upper plot shows "
    "what exists, their cost at each transition point (per clip, 64 frames x 224²), with "
    "I3D, S3D, I2D and Fast-S3D marked; the lower plot shows the published accuracy figures."
)


def curve_models() -> list[str]:
    """Zoo names of the four heavy families and the marked reference models."""
    from stbench.zoo.registry import list_specs

    heavy = [s.name for s in list_specs() if s.family in HEAVY_FAMILIES]
    return sorted(heavy) + list(MARKED)


def transition_points() -> tuple[str, ...]:
    """Where a heavy model's operator may change, in its plan's order: every slot of the
    heavy families' plan after the first (InceptionV1's blocks), read from the specs."""
    from stbench.zoo.registry import get_spec

    heavy = [n for n in curve_models() if n not in MARKED]
    return tuple(name for name, _ in get_spec(heavy[0]).summary.slots[1:]) if heavy else ()


def curve_configs() -> list:
    """The static configurations the curves need: each model at its default input."""
    from stbench.bench.config import ProfileConfig

    return [ProfileConfig.for_model(n) for n in curve_models()]


def heavy_curves(profiles: pd.DataFrame, columns: tuple[str, ...] = ("macs", "params")) -> list:
    """One dict per model of `curve_models` found in ``profiles`` at its default input:
    model, family, transition (index into `transition_points`, None for I3D/S3D/I2D), mark,
    costs."""
    from stbench.zoo.registry import get_spec

    out = []
    if profiles is None or profiles.empty or "model" not in profiles.columns:
        return out
    points = transition_points()
    for name in curve_models():
        spec = get_spec(name)
        sub = profiles[
            (profiles["model"] == name)
            & (pd.to_numeric(profiles["frames"], errors="coerce") == spec.default_frames)
            & (pd.to_numeric(profiles["size"], errors="coerce") == spec.default_size)
        ]
        if sub.empty:
            continue
        costs = {}
        for col in columns:
            if col in sub.columns and sub[col].notna().any():
                costs[col] = float(sub[col].dropna().iloc[0])
        where = points.index(spec.transition) if spec.transition in points else None
        out.append(
            {
                "model": name,
                "family": spec.family,
                "backbone": spec.backbone,
                "transition": where,
                "mark": MARKED.get(name, ""),
                "costs": costs,
            }
        )
    return out
