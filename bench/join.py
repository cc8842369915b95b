"""Profiles x accuracy records on (model, frames, input size, num_classes of the dataset).

Never on the model name alone: a 224x224 8-frame Mini-SSV2 profile (87 classes) does not
carry the accuracy of the same model at 32 frames or on Kinetics-400. Nothing is dropped:
the result is one DataFrame with a ``match`` column (``both``, ``record_only``,
``profile_only``) and, for unmatched rows, ``unmatched_reason``.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

PROFILE_KEY: tuple[str, ...] = ("model", "frames", "size", "num_classes")
RECORD_KEY: tuple[str, ...] = ("model", "frames", "input_size", "num_classes")
JOIN_COLUMNS: tuple[str, ...] = ("model", "frames", "size", "num_classes")
MATCHES = ("both", "record_only", "profile_only")


def _record_reason(
    model: str, modality: str, frames: object, size: object, modalities: Sequence[str]
) -> str:
    """Why a record cannot meet a profile, or '' when it only lacks a profile."""
    if not model:
        return "no zoo model (published_name only)"
    if modality not in modalities:
        return f"modality {modality}: profiles are of the single RGB network"
    missing = [name for v, name in ((frames, "frames"), (size, "input size")) if pd.isna(v)]
    if missing:
        return f"{' and '.join(missing)} not published"
    return ""


def _as_int(df: pd.DataFrame, cols: Sequence[str]) -> pd.DataFrame:
    for c in cols:
        df[c] = pd.to_numeric(df[c], errors="raise").astype("Int64")
    return df


def join_profiles_records(
    profiles: pd.DataFrame,
    records: pd.DataFrame,
    *,
    modalities: Sequence[str] = ("rgb",),
) -> pd.DataFrame:
    """Outer join keeping every row; ``match`` tells which side(s) each row comes from."""
    missing = [c for c in PROFILE_KEY if c not in profiles.columns]
    if missing:
        raise ValueError(f"profiles: missing column(s) {missing}; need {list(PROFILE_KEY)}")
    missing = [c for c in (*RECORD_KEY, "modality") if c not in records.columns]
    if missing:
        raise ValueError(f"records: missing column(s) {missing}; need {list(RECORD_KEY)}")
    prof = _as_int(profiles.copy(), PROFILE_KEY[1:])
    rec = records.copy()
    rec["model"] = rec["model"].fillna("")
    rec = _as_int(rec, RECORD_KEY[1:]).rename(columns={"input_size": "size"})
    columns = (rec[c].tolist() for c in ("model", "modality", "frames", "size"))
    allowed = tuple(modalities)  # one plain call per record, no pandas row each
    reasons = pd.Series(
        [_record_reason(*cells, allowed) for cells in zip(*columns, strict=True)],
        index=rec.index,
        dtype=object,
    )
    joinable = rec[reasons == ""]
    blocked = rec[reasons != ""].assign(
        match="record_only", unmatched_reason=reasons[reasons != ""]
    )
    merged = joinable.merge(
        prof,
        on=list(JOIN_COLUMNS),
        how="outer",
        suffixes=("", "_profile"),
        indicator="match",
    )
    merged["match"] = (
        merged["match"]
        .map({"both": "both", "left_only": "record_only", "right_only": "profile_only"})
        .astype(object)
    )
    merged["unmatched_reason"] = ""
    rec_only = merged["match"] == "record_only"
    merged.loc[rec_only, "unmatched_reason"] = (
        "no profile with this (model, frames, size, num_classes)"
    )
    prof_only = merged["match"] == "profile_only"
    merged.loc[prof_only, "unmatched_reason"] = (
        "no record with this (model, frames, size, num_classes)"
    )
    out = pd.concat([merged, blocked], ignore_index=True, sort=False)
    first = ["match", *JOIN_COLUMNS, "dataset", "metric", "value", "unmatched_reason"]
    first = [c for c in first if c in out.columns]
    return out[first + [c for c in out.columns if c not in first]]


def join_summary(joined: pd.DataFrame) -> dict[str, int]:
    """Row counts per ``match`` value, plus ``records_joined``: distinct records with a profile."""
    counts = {m: int((joined["match"] == m).sum()) for m in MATCHES}
    both = joined[joined["match"] == "both"]
    keys = [c for c in ("file", "line") if c in both.columns]
    counts["records_joined"] = int(len(both.drop_duplicates(keys))) if keys else counts["both"]
    return counts
