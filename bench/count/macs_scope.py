"""What `macs` leaves out: matrix products outside nn.Linear (attention, non-local blocks), and
ops no handle counts (`uncounted_ops`).

``macs`` counts conv + linear multiply-accumulates, the papers' convention; ``matmul_macs``
counts matmul/bmm outside nn.Linear and ``total_macs`` = macs + matmul_macs. A model whose
matmul share of ``total_macs`` exceeds `MATMUL_FLAG_SHARE` is flagged wherever its MACs are
shown (`stbench profile`, frontier tables, the dashboard, `stbench compare`), in the words
of this module. Torch-free.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

# matmul_macs above this share of total_macs is flagged: `macs` then understates the model.
MATMUL_FLAG_SHARE = 0.02
MATMUL_KIND = "outside nn.Linear, e.g. attention or non-local blocks"
PAPERS_SCOPE = "conv+linear, the papers' convention"
# What the MACs of a comparison count once one of its models has a flagged matmul share.
TOTAL_SCOPE = "conv+linear+matmul, attention counted as fvcore counts it for transformer papers"


def matmul_share(
    matmul_macs: object, total_macs: object, share: float = MATMUL_FLAG_SHARE
) -> float | None:
    """matmul_macs / total_macs when it exceeds ``share``; None below it or when unknown."""
    try:
        m, t = float(matmul_macs), float(total_macs)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(m) and math.isfinite(t)) or t <= 0 or m <= share * t:
        return None
    return m / t


def matmul_flag(
    matmul_macs: int, total_macs: int, ops: Iterable[str] = (), share: float = MATMUL_FLAG_SHARE
) -> str | None:
    """`stbench profile`'s one-line warning for one count (None when not flagged)."""
    got = matmul_share(matmul_macs, total_macs, share)
    if got is None:
        return None
    what = ", ".join(f"aten.{o}" for o in ops) or "matrix products"
    return (
        f"matmul/bmm ({what} {MATMUL_KIND}) is {100 * got:.1f}% of total_macs "
        f"({int(matmul_macs):,} of {int(total_macs):,}); macs ({PAPERS_SCOPE}) leaves it out"
    )


def includes_matmul(pairs: Iterable[tuple[object, object]]) -> bool:
    """True when any (matmul_macs, total_macs) pair has a flagged share: the comparison's
    MACs then count ``total_macs`` for every model (CNNs without matmul are unchanged)."""
    return any(matmul_share(m, t) is not None for m, t in pairs)


def matmul_models_note(shares: Mapping[str, Iterable[float]], included: bool = False) -> str | None:
    """One note naming each model (-> its flagged shares) with matmul MACs: left out of the
    GMACs (the papers' convention), or `included` in them (total_macs)."""
    named = []
    for model, got in sorted(shares.items()):
        got = sorted(got)
        if not got:
            continue
        lo, hi = f"{100 * got[0]:.1f}", f"{100 * got[-1]:.1f}"
        named.append(f"{model} {lo}%" if lo == hi else f"{model} {lo}-{hi}%")
    if not named:
        return None
    if included:
        return (
            f"matmul/bmm MACs ({MATMUL_KIND}), as a share of conv+linear+matmul MACs: "
            f"{', '.join(named)}; models with attention are compared here, so the GMACs (and "
            f"GFLOPs) figures count {TOTAL_SCOPE} (total_macs), not only conv+linear as in "
            "the papers' convention"
        )
    return (
        f"matmul/bmm MACs ({MATMUL_KIND}), as a share of conv+linear+matmul MACs: "
        f"{', '.join(named)}; the GMACs (and GFLOPs) figures count {PAPERS_SCOPE}, and leave "
        "them out: these models cost more than their GMACs say"
    )


def uncounted_text(ops: Mapping[str, int] | None) -> str | None:
    """'aten._fft_r2c x2, aten.cumsum x1' for a row's `uncounted_ops` (None when empty)."""
    if not isinstance(ops, Mapping) or not ops:
        return None
    return ", ".join(f"{op} x{calls}" for op, calls in sorted(ops.items()))


def uncounted_flag(ops: Mapping[str, int] | None) -> str | None:
    """`stbench profile`'s one-line warning for ops no handle counts (None when none)."""
    text = uncounted_text(ops)
    if text is None:
        return None
    return (
        f"{len(ops)} op(s) not counted, no handle: {text}; their arithmetic is in no figure "
        "(count them with stbench.register_op_handle, or declare them arithmetic-free with None)"
    )
