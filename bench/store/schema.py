"""Tables of the results store, its integrity check, and the upgrade of older files.

Schema 3 (this one) adds `predictions`: device-model predictions (`bench.predict.predictor`), one
row per profile key and prediction options (train, optimizer, cuda_graphs, predictor),
the newest replacing an older one; predictions are never measurements, so no view of
`history` ever reads them. A schema-2 file gains the table on its first writable open.
Schema 2: `runs` (run metadata, one `uid` each), `history` (append-only: every
stored row or failure, with its run, host, time and outcome; one `uid` each, so merging
the same file twice adds nothing), `current` (the view per key and source, derived from
`history` by `bench.store.history.current_view` and refreshed in the same transaction as every
append) and `claims` (leases that let concurrent sweeps share the work).
Schema 1 (stbench before the history): `runs` without `uid` and `profiles`, one row per
key and source, replaced on every write. It is upgraded in place on the first write;
a read-only open copies it into memory instead and leaves the file untouched.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable
from typing import Any

from stbench.bench.store.history import VIEW_FIELDS

SCHEMA_VERSION = 3
KEY_FIELDS = (
    "model",
    "frames",
    "size",
    "batch",
    "num_classes",
    "device",
    "dtype",
    "memory_format",
    "compile",
)
KEY_DEFAULTS = {"device": "cpu", "dtype": "float32", "memory_format": "contiguous", "compile": 0}
INT_METRICS = ("params", "macs", "flops", "throughput_batch_used")
REAL_METRICS = (
    "latency_ms_median",
    "latency_ms_iqr",
    "latency_ms_p90",
    "latency_ms_mean",
    "throughput_clips_per_s",
    "peak_mem_mib",
    "peak_mem_minus_weights_mib",
)
TEXT_METRICS = ("peak_mem_method", "timer")
RUN_FIELDS = (
    "host",
    "cpu_model",
    "cpu_count",
    "threads",
    "gpu_name",
    "gpu_capability",
    "gpu_driver",
    "torch_version",
    "cuda_version",
    "cudnn_version",
    "fvcore_version",
    "ptflops_version",
    "stbench_version",
    "git_commit",
    "git_dirty",
)
# columns of `current` besides the key, the metrics and row_json
VIEW_COLUMNS = ("source", *(f for f in VIEW_FIELDS if f not in ("last_failed_at", "provenance")))
_KEY_DDL = (
    "model TEXT NOT NULL, frames INTEGER NOT NULL, size INTEGER NOT NULL, "
    "batch INTEGER NOT NULL, num_classes INTEGER NOT NULL, device TEXT NOT NULL, "
    "dtype TEXT NOT NULL, memory_format TEXT NOT NULL, compile INTEGER NOT NULL"
)
_KEYS = ", ".join(KEY_FIELDS)
PREDICTION_OPTIONS = ("train", "optimizer", "cuda_graphs", "predictor")
PREDICTION_INT = (
    "params",
    "macs",
    "bytes_moved",
    "kernels",
    "peak_memory_bytes",
    "fits",
    "train_macs",
    "train_bytes_moved",
    "train_kernels",
    "train_peak_memory_bytes",
    "train_fits",
)
PREDICTION_REAL = ("latency_bound_ms", "arithmetic_intensity", "train_latency_bound_ms")
PREDICTION_TEXT = ("gpu", "limiter", "train_limiter")
PREDICTION_COLUMNS = (*PREDICTION_INT, *PREDICTION_REAL, *PREDICTION_TEXT)
_RUN_DDL = ", ".join(
    f"{f} {'INTEGER' if f in ('cpu_count', 'threads', 'git_dirty') else 'TEXT'}" for f in RUN_FIELDS
)
_METRIC_DDL = ", ".join(
    [f"{m} INTEGER" for m in INT_METRICS]
    + [f"{m} REAL" for m in REAL_METRICS]
    + [f"{m} TEXT" for m in TEXT_METRICS]
)
PREDICTIONS_DDL = f"""CREATE TABLE IF NOT EXISTS predictions (
    {_KEY_DDL}, train INTEGER NOT NULL, optimizer TEXT NOT NULL,
    cuda_graphs INTEGER NOT NULL, predictor TEXT NOT NULL, stored_at TEXT NOT NULL,
    {", ".join(f"{c} INTEGER" for c in PREDICTION_INT)},
    {", ".join(f"{c} REAL" for c in PREDICTION_REAL)},
    {", ".join(f"{c} TEXT" for c in PREDICTION_TEXT)}, row_json TEXT NOT NULL,
    PRIMARY KEY ({_KEYS}, {", ".join(PREDICTION_OPTIONS)})
)"""
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS stbench_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT, uid TEXT NOT NULL UNIQUE,
    started_at TEXT NOT NULL, source TEXT NOT NULL, {_RUN_DDL},
    flags_json TEXT NOT NULL, env_json TEXT NOT NULL
);
CREATE TABLE history (
    id INTEGER PRIMARY KEY AUTOINCREMENT, uid TEXT NOT NULL UNIQUE, {_KEY_DDL},
    source TEXT NOT NULL, status TEXT NOT NULL CHECK (status IN ('ok', 'failed')), error TEXT,
    run_id INTEGER REFERENCES runs(run_id), host TEXT, stored_at TEXT NOT NULL,
    noisy INTEGER, row_json TEXT NOT NULL
);
CREATE INDEX history_key ON history({_KEYS}, source);
CREATE TABLE current (
    {_KEY_DDL}, source TEXT NOT NULL, status TEXT NOT NULL, error TEXT,
    run_id INTEGER REFERENCES runs(run_id), stored_at TEXT NOT NULL,
    attempts INTEGER NOT NULL, failed_attempts INTEGER NOT NULL, last_error TEXT,
    noisy INTEGER NOT NULL, {_METRIC_DDL}, row_json TEXT NOT NULL,
    PRIMARY KEY ({_KEYS}, source)
);
CREATE INDEX current_model ON current(model);
{PREDICTIONS_DDL};
CREATE TABLE claims (
    {_KEY_DDL}, owner TEXT NOT NULL, claimed_at TEXT NOT NULL, expires_at REAL NOT NULL,
    PRIMARY KEY ({_KEYS})
);
"""
DAMAGED_HINT = (
    "nothing was written to it; restore it from a backup, or save what is readable with "
    "`sqlite3 FILE .recover | sqlite3 NEW.sqlite` and use --store NEW.sqlite"
)


def uid_of(*parts: Any) -> str:
    """A stable 32-hex id of JSON-able parts (for rows and runs of files without ids)."""
    text = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def tables(conn: sqlite3.Connection, schema: str = "main") -> set[str]:
    """Names of the tables in one attached schema."""
    return {
        r[0] for r in conn.execute(f"SELECT name FROM {schema}.sqlite_master WHERE type='table'")
    }


def integrity_problem(conn: sqlite3.Connection) -> str | None:
    """The first problem `PRAGMA quick_check` finds (O(pages), no index cross-check), or None."""
    try:
        rows = conn.execute("PRAGMA quick_check(1)").fetchall()
    except sqlite3.DatabaseError as exc:
        if "malformed" not in str(exc).lower():
            raise  # locked, not a database, I/O: the caller names those
        return str(exc)
    first = str(rows[0][0]) if rows else "no answer"
    if first == "ok":
        return None
    first = " ".join(first.replace("*** in database main ***", "").split())
    return first if len(first) <= 160 else first[:157] + "..."


def schema_version(conn: sqlite3.Connection, path: Any) -> int:
    """0 for an empty file, else the stbench schema version; ValueError for a foreign file."""
    names = tables(conn)
    if not names:
        return 0
    if "stbench_meta" not in names:
        raise ValueError(
            f"store: {path} is an SQLite file but not an stbench store "
            f"(tables: {', '.join(sorted(names))})"
        )
    row = conn.execute("SELECT value FROM stbench_meta WHERE key='schema_version'").fetchone()
    return int(row[0]) if row else 0


def create(conn: sqlite3.Connection) -> None:
    """Create the current schema's tables (inside the caller's transaction)."""
    for statement in SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute(
        "INSERT OR REPLACE INTO stbench_meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
    )


def legacy_runs(conn: sqlite3.Connection, table: str) -> list[dict[str, Any]]:
    """Schema-1 runs with a stable uid (the same on every upgrade or merge of that file)."""
    cur = conn.execute(f"SELECT * FROM {table} ORDER BY run_id")
    names = [d[0] for d in cur.description]
    out = []
    for values in cur.fetchall():
        run = dict(zip(names, values, strict=True))
        run["uid"] = uid_of(
            "run", run["started_at"], run["source"], run["env_json"], run["flags_json"]
        )
        out.append(run)
    return out


def legacy_entries(conn: sqlite3.Connection, profiles: str, runs: str) -> list[dict[str, Any]]:
    """Schema-1 profile rows as history entries (each was the only one kept for its key)."""
    cur = conn.execute(
        f"SELECT p.*, r.host AS run_host FROM {profiles} p "
        f"LEFT JOIN {runs} r ON p.run_id = r.run_id ORDER BY p.id"
    )
    names = [d[0] for d in cur.description]
    out = []
    for values in cur.fetchall():
        p = dict(zip(names, values, strict=True))
        key = [p[f] for f in KEY_FIELDS]
        entry = {f: p[f] for f in KEY_FIELDS}
        entry.update(
            uid=uid_of("entry", key, p["source"], p["stored_at"], p["status"], p["row_json"]),
            source=p["source"],
            status=p["status"],
            error=p["error"],
            run_id=p["run_id"],
            host=p["run_host"],
            stored_at=p["stored_at"],
            row=json.loads(p["row_json"]),
        )
        out.append(entry)
    return out


def upgrade_v1(
    conn: sqlite3.Connection,
    runs_table: str,
    profiles_table: str,
    insert_run: Callable[[sqlite3.Connection, dict[str, Any]], int],
    append: Callable[[sqlite3.Connection, Iterable[dict[str, Any]]], Any],
) -> None:
    """Copy schema-1 runs and rows into freshly created schema-2 tables (run ids kept)."""
    for run in legacy_runs(conn, runs_table):
        insert_run(conn, run)
    append(conn, legacy_entries(conn, profiles_table, runs_table))


def upgrade_v2(conn: sqlite3.Connection) -> None:
    """Turn a schema-2 file into schema 3 (adds `predictions`; inside a write transaction)."""
    conn.execute(PREDICTIONS_DDL)
    conn.execute(
        "INSERT OR REPLACE INTO stbench_meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
    )


def upgrade_in_place(
    conn: sqlite3.Connection,
    insert_run: Callable[[sqlite3.Connection, dict[str, Any]], int],
    append: Callable[[sqlite3.Connection, Iterable[dict[str, Any]]], Any],
) -> None:
    """Turn a schema-1 file into the current schema (inside the caller's write transaction)."""
    conn.execute("DROP INDEX IF EXISTS profiles_model")
    conn.execute("ALTER TABLE profiles RENAME TO v1_profiles")
    conn.execute("ALTER TABLE runs RENAME TO v1_runs")
    create(conn)
    upgrade_v1(conn, "v1_runs", "v1_profiles", insert_run, append)
    conn.execute("DROP TABLE v1_profiles")
    conn.execute("DROP TABLE v1_runs")
