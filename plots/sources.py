"""Where the plots' data comes from: the results store (static counts it lacks are counted
and added), shipped reference results (measured on any device: a GPU, a CPU) and the
accuracy records, joined on (model, frames, size, num_classes)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from stbench.progress import Progress

if TYPE_CHECKING:
    from stbench.bench.config import ProfileConfig

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "bench" / "reference"
JOIN_KEYS = ("model", "frames", "size", "num_classes")


def record_configs(
    records: pd.DataFrame, names: Iterable[str] | None = None
) -> list[ProfileConfig]:
    """The static configurations (model, frames, size, num_classes) that the zoo's accuracy
    records need, each once."""
    from stbench.bench.config import ProfileConfig

    df = records[records["model"].fillna("").astype(str) != ""]
    if names is not None:
        df = df[df["model"].isin(set(names))]
    cols = ["model", "frames", "input_size", "num_classes"]
    keys = sorted({(str(m), int(f), int(s), int(c)) for m, f, s, c in df[cols].dropna().values})
    return [ProfileConfig(m, f, s, num_classes=c) for m, f, s, c in keys]


@dataclass(frozen=True)
class Inputs:
    """What a run reads once, before any work: the results store's rows (with run metadata;
    empty when it does not exist yet) and the shipped reference rows with their notes."""

    store: Path
    rows: list[dict]
    reference: pd.DataFrame
    reference_notes: list[str]


def read_inputs(store: str | Path | None, *, reference: bool = True) -> Inputs:
    """Read the results store (``store``, else `default_store_path`) and, with ``reference``,
    the shipped reference files, once; a bad store is refused here, before any counting."""
    from stbench.bench.store.results import default_store_path

    path = Path(store) if store else default_store_path()
    rows = _read_store(path) if path.exists() or path.is_dir() else []
    ref, notes = load_reference() if reference else (pd.DataFrame(), [])
    return Inputs(path, rows, ref, notes)


def store_profiles(
    store: str | Path | None,
    configs: Sequence[ProfileConfig],
    *,
    quiet: bool = False,
    strict: bool = False,
    rows: list[dict] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """The store's ok rows, with the static counts of every configuration: read from the
    store, and only those it lacks counted (progress on stderr) and added to it.

    The store (``store``, else `default_store_path`) is created when it does not exist;
    when it cannot be written the new counts are used but not kept (a note says so).
    Returns the rows as a DataFrame (``origin`` = the store) and a note per problem; a
    configuration that cannot be counted is one of them, or a ValueError when ``strict``.
    ``rows``: the store's rows already read (`read_inputs`), so it is not read again.
    """
    from stbench.bench.count.static import missing_static
    from stbench.bench.store.results import ResultsStore, StoreError, default_store_path
    from stbench.bench.sweep.fill import fill_static

    path = Path(store) if store else default_store_path()
    if rows is None:
        rows = _read_store(path) if path.exists() or path.is_dir() else []
    todo = missing_static(configs, rows)
    notes: list[str] = []
    later = strict and not path.exists()  # a new store only once every input counted
    if todo:
        db = None
        try:
            db = None if later else ResultsStore(path)
        except StoreError as exc:
            notes.append(f"static counts not stored: {exc}")
        label = "counting params and MACs on the meta device"
        with Progress(label, len(todo), enabled=not quiet) as bar:

            def done(cfg: ProfileConfig) -> None:
                bar.advance(description=f"{cfg.model} {cfg.frames}x{cfg.size}²")

            try:
                new, failures = fill_static(todo, db, on_done=done)
            finally:
                if db is not None:
                    db.close()
        if failures and strict:
            raise ValueError(failures[0])
        if later and new:
            _keep_counts(path, new, notes)
        rows = [*rows, *new]
        notes.extend(f"profile failed: {f}" for f in failures)
    df = pd.DataFrame([r for r in rows if r.get("status", "ok") == "ok"])
    if len(df):
        df["origin"] = f"store:{path}"
    return df, notes


def _keep_counts(path: Path, rows: list[dict], notes: list[str]) -> None:
    """Create the store at `path` with the static counts `rows` (one run, one transaction)."""
    from stbench.bench.environment import collect_environment
    from stbench.bench.store.results import ResultsStore, StoreError

    try:
        with ResultsStore(path) as db:
            db.add_rows(rows, env=collect_environment(), flags={"static_counts": len(rows)})
    except StoreError as exc:
        notes.append(f"static counts not stored: {exc}")


DEFAULT_GPU = "h100_sxm"
PREDICTED_COLUMNS = {
    "latency_ms": "predicted_latency_ms",
    "latency_ms_low": "predicted_latency_low_ms",
    "latency_ms_high": "predicted_latency_high_ms",
    "latency_bound_ms": "predicted_latency_bound_ms",
    "peak_memory_bytes": "predicted_peak_mib",
    "arithmetic_intensity": "predicted_intensity",
    "limiter": "predicted_limiter",
    "gpu_label": "predicted_gpu",
}


PREDICTED_KEYS = ("model", "frames", "size")


def store_predictions(
    store: str | Path | None,
    configs: Sequence[ProfileConfig],
    *,
    gpu: str = DEFAULT_GPU,
    jobs: int = 2,
) -> tuple[pd.DataFrame, list[str]]:
    """Forward predictions on `gpu` at batch 1, float32, of every (model, frames, size) of
    the configurations, at the model's own class count (the classifier is a negligible
    part of a clip's cost): read from the store, and only those it lacks predicted
    (``jobs`` processes) and added to it.

    Returns one row per (model, frames, size) with the `PREDICTED_COLUMNS` (peak in MiB)
    and a note per problem.
    """
    import dataclasses

    from stbench.bench.predict.predictions import predict_sweep
    from stbench.bench.store.results import ResultsStore, StoreError, default_store_path
    from stbench.zoo import get_spec

    path = Path(store) if store else default_store_path()
    wanted = {
        (c.model, c.frames, c.size): dataclasses.replace(
            c, batch=1, dtype="float32", num_classes=get_spec(c.model).default_classes
        )
        for c in configs
    }
    notes: list[str] = []
    try:
        with ResultsStore(path) as db:
            done = predict_sweep(list(wanted.values()), db, gpu, jobs=jobs)
            rows = db.predictions(gpu=gpu, batch=1, dtype="float32", train=False, cuda_graphs=False)
    except StoreError as exc:
        return pd.DataFrame(), [f"predictions not available: {exc}"]
    notes.extend(f"prediction failed: {name}: {err}" for name, err in done.failures)
    keys = {(c.model, c.frames, c.size, c.num_classes) for c in wanted.values()}
    df = pd.DataFrame([r for r in rows if (*(r[k] for k in JOIN_KEYS),) in keys])
    if df.empty:
        return df, notes
    df = df.reindex(columns=list(dict.fromkeys([*df.columns, *PREDICTED_COLUMNS])))
    df = df.sort_values("stored_at").drop_duplicates(list(PREDICTED_KEYS), keep="last")
    df["peak_memory_bytes"] = df["peak_memory_bytes"] / 2**20
    df["gpu_label"] = df["gpu_label"].str.replace("NVIDIA ", "", regex=False)
    out = df[[*PREDICTED_KEYS, *PREDICTED_COLUMNS]].rename(columns=PREDICTED_COLUMNS)
    return out.reset_index(drop=True), notes


def with_predictions(profiles: pd.DataFrame, predicted: pd.DataFrame) -> pd.DataFrame:
    """`profiles` with the predicted columns of their (model, frames, size)."""
    if profiles.empty or predicted.empty:
        return profiles
    keys = list(PREDICTED_KEYS)
    right = predicted[[*keys, *(c for c in PREDICTED_COLUMNS.values() if c in predicted)]]
    left = profiles.drop(columns=[c for c in right.columns if c not in keys], errors="ignore")
    right = right.astype({k: left[k].dtype for k in keys if k in left.columns}, errors="ignore")
    return left.merge(right, on=keys, how="left")


def static_lookup(profiles: pd.DataFrame) -> Callable[[str, int, int, int], dict]:
    """A ``(model, frames, size, num_classes) -> {params, macs, matmul_macs, total_macs}``
    lookup in profile rows (as `store_profiles` returns them; the last two None where a row
    lacks them); ValueError when a configuration has no counts."""
    cols = [*JOIN_KEYS, "params", "macs"]
    extra = ["matmul_macs", "total_macs"]
    have = profiles.reindex(columns=[*cols, *extra]).dropna(subset=cols)
    index = {
        (m, int(f), int(s), int(c)): {
            "params": int(p),
            "macs": int(x),
            **{k: None if pd.isna(v) else int(v) for k, v in zip(extra, more, strict=True)},
        }
        for m, f, s, c, p, x, *more in have.itertuples(index=False)
    }

    def lookup(model: str, frames: int, size: int, num_classes: int) -> dict:
        try:
            return index[(model, frames, size, num_classes)]
        except KeyError:
            raise ValueError(
                f"{model}: no params/MACs at {frames} frames x {size}² px, "
                f"{num_classes} classes (counting failed)"
            ) from None

    return lookup


def static_profile(
    model: str, frames: int, size: int, num_classes: int, store: str | Path | None = None
) -> dict:
    """Params and MACs of one zoo configuration, from the store (counted and stored when
    it lacks them)."""
    from stbench.bench.config import ProfileConfig

    cfg = ProfileConfig(model, frames, size, num_classes=num_classes)
    profiles, _ = store_profiles(store, [cfg], quiet=True, strict=True)
    return static_lookup(profiles)(model, frames, size, num_classes)


def load_reference(directory: Path = REFERENCE_DIR) -> tuple[pd.DataFrame, list[str]]:
    """Shipped reference profile rows of any device (JSON list or CSV files in
    `directory`, default bench/reference/), each with its file as ``origin``; a note per
    file that cannot be read."""
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
            f"No reference results are shipped ({directory.name}/ holds no .json/.csv files)."
        )
    return (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()), notes


def _read_store(path: Path) -> list[dict]:
    """Every row of the results store at ``path``, with its run's metadata (read-only)."""
    from stbench.bench.store.results import ResultsStore

    with ResultsStore(path, readonly=True) as db:
        return db.rows(with_run=True)


def load_store(path: str | Path | None) -> pd.DataFrame:
    """Successful rows of the results store, or an empty frame when the file does not exist."""
    from stbench.bench.store.results import default_store_path

    p = Path(path) if path else default_store_path()
    if not p.exists():
        if path:
            raise ValueError(f"store: no results store at {str(p)!r}")
        return pd.DataFrame()
    df = pd.DataFrame([r for r in _read_store(p) if r.get("status", "ok") == "ok"])
    if len(df):
        df["origin"] = f"store:{p}"
    return df


def timed_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Rows that carry a latency or peak-memory measurement."""
    cols = [c for c in ("latency_ms_median", "peak_mem_mib") if c in df.columns]
    if df.empty or not cols:
        return pd.DataFrame()
    return df[df[cols].notna().any(axis=1)]


def join(profiles: pd.DataFrame, records: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Profiles x records on (model, frames, size, num_classes): (joined, unmatched records)."""
    from stbench.bench.join import join_profiles_records

    out = join_profiles_records(profiles, records)
    both = out[out["match"] == "both"].reset_index(drop=True)
    return both, out[out["match"] == "record_only"].reset_index(drop=True)
