"""Where the plots' data comes from: static profiles, the results store, shipped reference
GPU results and the accuracy records, joined on (model, frames, size, num_classes)."""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "bench" / "reference"
JOIN_KEYS = ("model", "frames", "size", "num_classes")
ACCURACY_METRICS = ("top1", "top5")


def static_profile(name: str, frames: int, size: int, num_classes: int) -> dict:
    """Params and conv+linear MACs of one zoo model at (1, 3, frames, size, size), on `meta`."""
    from stbench.bench.counting import static_count
    from stbench.bench.profile import build_zoo_model

    model = build_zoo_model(name, frames=frames, num_classes=num_classes)
    sc = static_count(model, (1, 3, frames, size, size), device="meta")
    return {
        "model": name,
        "frames": int(frames),
        "size": int(size),
        "batch": 1,
        "num_classes": int(num_classes),
        "device": "meta",
        "dtype": "float32",
        "params": int(sc.params),
        "macs": int(sc.macs),
        "flops": 2 * int(sc.macs),
        "counter": sc.counter,
        "scope": sc.scope,
    }


def record_inputs(records: pd.DataFrame, names: Iterable[str] | None = None) -> list[tuple]:
    """Distinct (model, frames, size, num_classes) that the zoo's accuracy records need."""
    df = records[records["model"].fillna("").astype(str) != ""]
    if names is not None:
        df = df[df["model"].isin(set(names))]
    cols = ["model", "frames", "input_size", "num_classes"]
    df = df[cols].dropna().drop_duplicates()
    return sorted((str(m), int(f), int(s), int(c)) for m, f, s, c in df.itertuples(index=False))


def _profile_one(key: tuple) -> tuple[tuple, dict | None, str | None]:
    try:
        return key, static_profile(*key), None
    except Exception as exc:  # one model's failure is reported, never the end of the demo
        return key, None, f"{key[0]} @ {key[1]}x{key[2]}² ({key[3]} classes): {exc}"


def profile_inputs(
    inputs: list[tuple],
    on_done: Callable[[tuple], None] | None = None,
    *,
    workers: int | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Static profile rows for each input tuple (in worker processes when workers > 1);
    failures are returned as messages."""
    workers = min(os.cpu_count() or 1, 4) if workers is None else workers
    rows, failures = [], []
    if workers > 1 and len(inputs) > 8:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            results = pool.map(_profile_one, inputs, chunksize=4)
            for key, row, err in results:
                rows.append(row) if row else failures.append(err)
                if on_done:
                    on_done(key)
    else:
        for key in inputs:
            key, row, err = _profile_one(key)
            rows.append(row) if row else failures.append(err)
            if on_done:
                on_done(key)
    return pd.DataFrame(rows), failures


def load_reference(directory: Path = REFERENCE_DIR) -> tuple[pd.DataFrame, list[str]]:
    """Shipped reference GPU profile rows (JSON list or CSV files), with a note per file."""
    frames, notes = [], []
    files = sorted(directory.glob("*.json")) + sorted(directory.glob("*.csv"))
    for f in files:
        try:
            if f.suffix == ".csv":
                df = pd.read_csv(f)
            else:
                data = json.loads(f.read_text())
                df = pd.DataFrame(
                    data["rows"] if isinstance(data, dict) and "rows" in data else data
                )
        except (OSError, ValueError, KeyError) as exc:
            notes.append(f"reference file {f.name} could not be read: {exc}")
            continue
        df["origin"] = f"reference:{f.name}"
        frames.append(df)
    if not files:
        notes.append(
            "No reference GPU results are shipped (bench/reference/ holds no .json/.csv files)."
        )
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()), notes


def load_store(path: str | Path | None) -> pd.DataFrame:
    """Successful rows of the results store, or an empty frame when the file does not exist."""
    from stbench.bench.store import ResultsStore, default_store_path

    p = Path(path) if path else default_store_path()
    if not p.exists():
        if path:
            raise ValueError(f"--store: no results store at {str(p)!r}")
        return pd.DataFrame()
    df = ResultsStore(p, readonly=True).to_dataframe()
    if "status" in df.columns:
        df = df[df["status"].fillna("ok") == "ok"]
    df = df.copy()
    df["origin"] = f"store:{p}"
    return df


def timed_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Rows that carry a latency or peak-memory measurement."""
    cols = [c for c in ("latency_ms_median", "peak_mem_mib") if c in df.columns]
    if df.empty or not cols:
        return pd.DataFrame()
    return df[df[cols].notna().any(axis=1)]


def join(profiles: pd.DataFrame, records: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Profiles x records on (model, frames, size, num_classes); unmatched records returned."""
    try:
        from stbench.bench.join import join_profiles_records
    except ModuleNotFoundError as exc:
        if exc.name != "stbench.bench.join":
            raise
    else:
        out = join_profiles_records(profiles, records)
        if isinstance(out, tuple):
            return out
        both = out[out["match"] == "both"].reset_index(drop=True)
        return both, out[out["match"] == "record_only"].reset_index(drop=True)
    # Fallback while bench.join is not available: the same keys, never the name alone.
    rec = records.rename(columns={"input_size": "size"}).copy()
    rec = rec[rec["modality"] == "rgb"] if "modality" in rec.columns else rec
    prof = profiles.copy()
    for k in JOIN_KEYS:
        rec[k] = rec[k].astype("object") if k == "model" else pd.to_numeric(rec[k]).astype("Int64")
        prof[k] = (
            prof[k].astype("object") if k == "model" else pd.to_numeric(prof[k]).astype("Int64")
        )
    prof = prof.drop(columns=[c for c in prof.columns if c in rec.columns and c not in JOIN_KEYS])
    joined = rec.merge(prof, on=list(JOIN_KEYS), how="inner")
    keys = rec[list(JOIN_KEYS)].apply(tuple, axis=1)
    have = set(prof[list(JOIN_KEYS)].apply(tuple, axis=1)) if len(prof) else set()
    unmatched = rec[~keys.isin(have)]
    return joined, unmatched
