"""Cost curves of the top-/bottom-heavy families against the transition point.

The spec rows say who is drawn (`ModelSpec.curve`): "curve" models are the points of their
family's curve over the transition points, "mark" models are references marked on it by their
family name. Xie et al. (papers/001_108aa75c7b5a30b7.txt, Sec. 4.2, Fig. 4) give those
families' accuracy only as curves in a figure, never as numbers, so no accuracy record names
them; what exists is their cost. Costs come from the same static profiles as every other
point (keyed columns, so measured or predicted axes join the same way).
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd


def _tagged(role: str) -> list:
    """The specs whose spec row places them on the curves as `role` ("curve" or "mark")."""
    from stbench.zoo.registry import list_specs

    return [s for s in list_specs() if s.curve == role]


def shows_curves(models: Iterable[str]) -> bool:
    """True when one of `models` is shown in a view that draws the curves (one its spec row
    names and the curve models' rows name too)."""
    from stbench.zoo.registry import list_specs

    views = {v for s in _tagged("curve") for v in s.views}
    specs = {s.name: s for s in list_specs()}
    return any(views & set(specs[m].views) for m in models if m in specs)


def curve_models() -> list[str]:
    """Zoo names of the models on the curves, then of the marked reference models."""
    return [s.name for s in _tagged("curve")] + [s.name for s in _tagged("mark")]


def curves_note() -> str:
    """What the curves show and why, in the words of their spec rows (paper, input, marks)."""
    from stbench.zoo.papers import SHORT

    curve, marks = _tagged("curve"), ", ".join(s.family for s in _tagged("mark"))
    if not curve:
        return ""
    first = curve[0]
    return (
        f"{SHORT.get(first.paper, first.paper)} give the accuracy of the top-/bottom-heavy "
        "models only as curves in a figure, not as numbers, so no accuracy record exists for "
        "them: the upper plot shows what exists, their cost at each transition point (per "
        f"clip, {first.default_frames} frames x {first.default_size}²), with {marks} marked; "
        "the lower plot shows the published accuracy figures."
    )


def transition_points() -> tuple[str, ...]:
    """Where a heavy model's operator may change, in its plan's order: every slot of the
    heavy families' plan after the first (InceptionV1's blocks), read from the specs."""
    heavy = _tagged("curve")
    return tuple(name for name, _ in heavy[0].summary.slots[1:]) if heavy else ()


def curve_configs() -> list:
    """The static configurations the curves need: each model at its default input."""
    from stbench.bench.config import ProfileConfig

    return [ProfileConfig.for_model(n) for n in curve_models()]


def heavy_curves(profiles: pd.DataFrame, columns: tuple[str, ...] = ("macs", "params")) -> list:
    """One dict per model of `curve_models` found in ``profiles`` at its default input:
    model, family, transition (index into `transition_points`, None without one), mark (its family when marked),
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
                "mark": spec.family if spec.curve == "mark" else "",
                "costs": costs,
            }
        )
    return out
