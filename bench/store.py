"""The results store: an embedded SQLite database of profile rows and run metadata.

Tables: `runs` (one per sweep/profile/pytest-benchmark import: host, CPU, GPU, driver,
library and counter versions, git commit, flags) and `profiles` (one row per key
`(model, frames, size, batch, num_classes, device, dtype, memory_format, compile)` and
`source`, with status, error, the main metrics as columns and the full row as JSON).
Every write is one transaction: a row is stored whole or not at all. Problems with the
file (corrupt, locked, unwritable) raise `StoreError`, a `ValueError` with one line.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as _dt
import fnmatch
import io
import json
import math
import os
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

SCHEMA_VERSION = 1
DEFAULT_STORE = Path("results") / "stbench.sqlite"
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
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS stbench_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at TEXT NOT NULL,
    source TEXT NOT NULL,
    {", ".join(f"{f} {'INTEGER' if f in ('cpu_count', 'threads', 'git_dirty') else 'TEXT'}" for f in RUN_FIELDS)},
    flags_json TEXT NOT NULL,
    env_json TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS profiles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model TEXT NOT NULL, frames INTEGER NOT NULL, size INTEGER NOT NULL,
    batch INTEGER NOT NULL, num_classes INTEGER NOT NULL, device TEXT NOT NULL,
    dtype TEXT NOT NULL, memory_format TEXT NOT NULL, compile INTEGER NOT NULL,
    source TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    error TEXT,
    run_id INTEGER REFERENCES runs(run_id),
    stored_at TEXT NOT NULL,
    {", ".join(f"{m} INTEGER" for m in INT_METRICS)},
    {", ".join(f"{m} REAL" for m in REAL_METRICS)},
    {", ".join(f"{m} TEXT" for m in TEXT_METRICS)},
    row_json TEXT NOT NULL,
    UNIQUE ({", ".join(KEY_FIELDS)}, source)
);
CREATE INDEX IF NOT EXISTS profiles_model ON profiles(model);
"""
_STORE_COLUMNS = ("source", "status", "error", "run_id", "stored_at")


class StoreError(ValueError):
    """A results-store problem (corrupt, locked, unwritable, missing): one line for the user."""


def default_store_path() -> Path:
    """`$STBENCH_STORE` if set, else `results/stbench.sqlite` under the current directory."""
    env = os.environ.get("STBENCH_STORE")
    return Path(env) if env else Path.cwd() / DEFAULT_STORE


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def row_key(row: Mapping[str, Any]) -> tuple[Any, ...]:
    """The profile key of a row, with defaults for device/dtype/memory_format/compile."""
    missing = [f for f in KEY_FIELDS if row.get(f) is None and f not in KEY_DEFAULTS]
    if missing:
        raise ValueError(f"row: missing key field(s) {', '.join(missing)}")
    key: list[Any] = []
    for f in KEY_FIELDS:
        v = row.get(f)
        v = KEY_DEFAULTS[f] if v is None else v
        if f in ("frames", "size", "batch", "num_classes"):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"row: {f} must be an integer >= 1, got {v!r}")
        elif f == "compile":
            v = int(bool(v))
        else:
            v = str(v)
        key.append(v)
    return tuple(key)


def _coerce(name: str, value: Any, kind: type) -> Any:
    if value is None:
        return None
    try:
        if kind is float:
            return float(value)
        if kind is int:
            return int(value)
        return str(value)
    except (TypeError, ValueError):
        raise ValueError(f"row: {name} must be {kind.__name__}, got {value!r}") from None


def _describe(path: Path, exc: sqlite3.Error, timeout: float) -> str:
    msg = str(exc)
    low = msg.lower()
    if "locked" in low or "busy" in low:
        return f"store: {path} is locked by another process (waited {timeout:g} s); retry later"
    if "not a database" in low or "malformed" in low or "encrypted" in low:
        return f"store: {path} is corrupt or not an SQLite database ({msg})"
    if "readonly" in low or "read-only" in low or "unable to open" in low or "i/o" in low:
        return f"store: cannot write {path} ({msg}); check permissions or use --store PATH"
    return f"store: {path}: {msg}"


class ResultsStore:
    """Profile rows and run metadata in one SQLite file (created on first write)."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        readonly: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        self.readonly = readonly
        self.timeout = timeout
        self._conn = self._open()

    # -------------------------------------------------------------- connection

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(_describe(self.path, exc, self.timeout)) from None

    def _open(self) -> sqlite3.Connection:
        if self.path.is_dir():
            raise StoreError(f"store: {self.path} is a directory; give a file path")
        if self.readonly:
            if not self.path.exists():
                raise StoreError(
                    f"store: no results store at {self.path} "
                    "(run `stbench sweep` first, or pass --store PATH / set STBENCH_STORE)"
                )
            target, uri = f"file:{self.path.resolve()}?mode=ro", True
        else:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"store: cannot create {self.path.parent} ({exc})") from None
            target, uri = str(self.path), False
        with self._errors():
            conn = sqlite3.connect(target, timeout=self.timeout, uri=uri, isolation_level=None)
            try:
                conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
                conn.execute("PRAGMA foreign_keys = ON")
                self._check_schema(conn)
            except BaseException:
                conn.close()
                raise
        return conn

    def _check_schema(self, conn: sqlite3.Connection) -> None:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if tables and "stbench_meta" not in tables:
            raise StoreError(
                f"store: {self.path} is an SQLite file but not an stbench store "
                f"(tables: {', '.join(sorted(tables))})"
            )
        if "stbench_meta" in tables:
            row = conn.execute(
                "SELECT value FROM stbench_meta WHERE key='schema_version'"
            ).fetchone()
            version = int(row[0]) if row else 0
            if version != SCHEMA_VERSION:
                raise StoreError(
                    f"store: {self.path} has schema version {version}; "
                    f"this stbench reads version {SCHEMA_VERSION}"
                )
            return
        if self.readonly:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(
                "INSERT OR REPLACE INTO stbench_meta VALUES ('schema_version', ?)",
                (str(SCHEMA_VERSION),),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        if self.readonly:
            raise StoreError(f"store: {self.path} was opened read-only")
        with self._errors():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def close(self) -> None:
        """Close the connection (rows are already committed)."""
        self._conn.close()

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -------------------------------------------------------------- writing

    def _tables_ready(self) -> bool:
        with self._errors():
            return bool(
                self._conn.execute(
                    "SELECT 1 FROM sqlite_master WHERE type='table' AND name='profiles'"
                ).fetchone()
            )

    @staticmethod
    def _run_record(env: Mapping[str, Any], flags: Mapping[str, Any], source: str) -> dict:
        rec = {f: env.get(f) for f in RUN_FIELDS}
        if rec["git_dirty"] is not None:
            rec["git_dirty"] = int(bool(rec["git_dirty"]))
        rec.update(
            started_at=str(env.get("timestamp") or _now()),
            source=source,
            flags_json=json.dumps(dict(flags), default=str, sort_keys=True),
            env_json=json.dumps(dict(env), default=str, sort_keys=True),
        )
        return rec

    def _insert_run(self, conn: sqlite3.Connection, rec: Mapping[str, Any]) -> int:
        cols = list(rec)
        cur = conn.execute(
            f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            [rec[c] for c in cols],
        )
        return int(cur.lastrowid)

    def start_run(
        self,
        env: Mapping[str, Any],
        flags: Mapping[str, Any] | None = None,
        source: str = "stbench",
    ) -> int:
        """Record run metadata (see `bench.environment`) and return its run_id."""
        rec = self._run_record(env, flags or {}, source)
        with self._write() as conn:
            return self._insert_run(conn, rec)

    @staticmethod
    def _profile_record(
        row: Mapping[str, Any],
        run_id: int | None,
        source: str,
        status: str | None,
        error: str | None,
    ) -> dict[str, Any]:
        key = row_key(row)
        status = status or row.get("status") or "ok"
        if status not in ("ok", "failed"):
            raise ValueError(f"row: status must be 'ok' or 'failed', got {status!r}")
        error = error if error is not None else row.get("error")
        full = {**row, **dict(zip(KEY_FIELDS, key, strict=True)), "status": status, "error": error}
        full["compile"] = bool(full["compile"])
        rec: dict[str, Any] = dict(zip(KEY_FIELDS, key, strict=True))
        rec.update(
            source=source,
            status=status,
            error=None if error is None else str(error),
            run_id=run_id,
            stored_at=_now(),
            row_json=json.dumps(full, default=str, sort_keys=True),
        )
        for m in INT_METRICS:
            rec[m] = _coerce(m, row.get(m), int)
        for m in REAL_METRICS:
            rec[m] = _coerce(m, row.get(m), float)
        for m in TEXT_METRICS:
            rec[m] = _coerce(m, row.get(m), str)
        return rec

    @staticmethod
    def _insert_profile(conn: sqlite3.Connection, rec: Mapping[str, Any]) -> int:
        cols = list(rec)
        cur = conn.execute(
            f"INSERT OR REPLACE INTO profiles ({', '.join(cols)}) "
            f"VALUES ({', '.join('?' * len(cols))})",
            [rec[c] for c in cols],
        )
        return int(cur.lastrowid)

    def add_row(
        self,
        row: Mapping[str, Any],
        *,
        run_id: int | None = None,
        source: str = "stbench",
        status: str | None = None,
        error: str | None = None,
    ) -> int:
        """Store one profile row in its own transaction (replacing the same key+source)."""
        rec = self._profile_record(row, run_id, source, status, error)  # validate first
        with self._write() as conn:
            return self._insert_profile(conn, rec)

    def add_rows(
        self,
        rows: Sequence[Mapping[str, Any]],
        *,
        env: Mapping[str, Any],
        flags: Mapping[str, Any] | None = None,
        source: str = "stbench",
    ) -> int:
        """Store a run and many rows in one transaction (all or nothing); returns run_id."""
        run = self._run_record(env, flags or {}, source)
        recs = [self._profile_record(r, None, source, None, None) for r in rows]
        with self._write() as conn:
            run_id = self._insert_run(conn, run)
            for rec in recs:
                self._insert_profile(conn, {**rec, "run_id": run_id})
        return run_id

    # -------------------------------------------------------------- reading

    def get(self, key: Sequence[Any] | Mapping[str, Any], source: str = "stbench") -> dict | None:
        """The stored row for a key (tuple in KEY_FIELDS order, or a row), or None."""
        k = row_key(key if isinstance(key, Mapping) else dict(zip(KEY_FIELDS, key, strict=True)))
        if not self._tables_ready():
            return None
        where = " AND ".join(f"p.{f} = ?" for f in KEY_FIELDS) + " AND p.source = ?"
        rows = self._select(where, [*k, source], with_run=False)
        return rows[0] if rows else None

    def has(
        self,
        key: Sequence[Any] | Mapping[str, Any],
        source: str = "stbench",
        status: str | None = None,
    ) -> bool:
        """Whether a row with this key (and status, if given) is stored."""
        row = self.get(key, source)
        return row is not None and (status is None or row["status"] == status)

    def _select(self, where: str, params: list[Any], with_run: bool) -> list[dict[str, Any]]:
        run_cols = ", ".join(f"r.{f} AS run_{f}" for f in ("started_at", *RUN_FIELDS))
        sql = (
            f"SELECT p.row_json, {', '.join('p.' + c for c in _STORE_COLUMNS)}, {run_cols} "
            "FROM profiles p LEFT JOIN runs r ON p.run_id = r.run_id "
            f"WHERE {where} ORDER BY p.model, p.frames, p.size, p.batch, p.device, p.dtype, p.id"
        )
        with self._errors():
            cur = self._conn.execute(sql, params)
            names = [d[0] for d in cur.description]
            out = []
            for values in cur.fetchall():
                rec = dict(zip(names, values, strict=True))
                row = json.loads(rec.pop("row_json"))
                row.update({c: rec[c] for c in _STORE_COLUMNS})
                if with_run:
                    row.update({k: v for k, v in rec.items() if k.startswith("run_")})
                out.append(row)
        return out

    def rows(
        self, model: str | None = None, *, with_run: bool = False, **equals: Any
    ) -> list[dict[str, Any]]:
        """Stored rows, filtered by a model name pattern and column equalities.

        `equals` keys are key fields or source/status/run_id; `with_run` adds run metadata
        as `run_*` fields.
        """
        allowed = (*KEY_FIELDS, *_STORE_COLUMNS)
        bad = sorted(set(equals) - set(allowed))
        if bad:
            raise ValueError(f"rows: cannot filter on {bad}; allowed: {', '.join(allowed)}")
        if not self._tables_ready():
            return []
        clauses, params = ["1=1"], []
        for k, v in equals.items():
            if v is not None:
                clauses.append(f"p.{k} = ?")
                params.append(int(bool(v)) if k == "compile" else v)
        rows = self._select(" AND ".join(clauses), params, with_run)
        if model:
            rows = [r for r in rows if fnmatch.fnmatchcase(r["model"], model.lower())]
        return rows

    def runs(self) -> list[dict[str, Any]]:
        """Every run's metadata, oldest first."""
        if not self._tables_ready():
            return []
        with self._errors():
            cur = self._conn.execute("SELECT * FROM runs ORDER BY run_id")
            names = [d[0] for d in cur.description]
            return [dict(zip(names, v, strict=True)) for v in cur.fetchall()]

    def to_dataframe(self, model: str | None = None, **equals: Any) -> Any:
        """The rows (with run metadata) as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.rows(model, with_run=True, **equals))

    # -------------------------------------------------------------- export / import

    def export_json(self, dest: str | os.PathLike[str] | IO[str], **filters: Any) -> int:
        """Write the rows (with run metadata) as a JSON list; returns the row count."""
        rows = self.rows(with_run=True, **filters)
        text = json.dumps(rows, indent=1, default=str) + "\n"
        _write_text(dest, text)
        return len(rows)

    def export_csv(self, dest: str | os.PathLike[str] | IO[str], **filters: Any) -> int:
        """Write the rows as CSV (nested values JSON-encoded); returns the row count."""
        rows = self.rows(with_run=True, **filters)
        fields: list[str] = [*KEY_FIELDS, "status", "error", *INT_METRICS[:3], *REAL_METRICS]
        fields = [f for f in fields if any(f in r for r in rows)]
        for r in rows:
            fields.extend(k for k in r if k not in fields)
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: _csv_cell(v) for k, v in r.items()})
        _write_text(dest, buf.getvalue())
        return len(rows)

    def import_benchmark_json(self, path: str | os.PathLike[str]) -> tuple[int, int]:
        """Load a pytest-benchmark JSON run; returns (rows imported, benchmarks skipped)."""
        rows, skipped, env, flags = benchmark_rows(path)
        if rows:
            self.add_rows(rows, env=env, flags=flags, source="pytest-benchmark")
        return len(rows), skipped

    def merge_from(self, other: str | os.PathLike[str]) -> tuple[int, int]:
        """Copy another store's runs and rows in (one transaction); returns (runs, rows).

        For sweeps sharded over hosts: each host writes its own store, then one merges
        them. A row replaces the same key+source here only if it was stored later.
        """
        src = ResultsStore(other, readonly=True, timeout=self.timeout)
        try:
            runs = src.runs()
            with src._errors():
                cur = src._conn.execute("SELECT * FROM profiles ORDER BY id")
                names = [d[0] for d in cur.description]
                rows = [dict(zip(names, v, strict=True)) for v in cur.fetchall()]
        finally:
            src.close()
        merged = 0
        with self._write() as conn:
            new_ids = {}
            for run in runs:
                rec = {k: v for k, v in run.items() if k != "run_id"}
                new_ids[run["run_id"]] = self._insert_run(conn, rec)
            for rec in rows:
                rec = {k: v for k, v in rec.items() if k != "id"}
                rec["run_id"] = new_ids.get(rec["run_id"])
                where = " AND ".join(f"{f} = ?" for f in (*KEY_FIELDS, "source"))
                have = conn.execute(
                    f"SELECT stored_at FROM profiles WHERE {where}",
                    [rec[f] for f in (*KEY_FIELDS, "source")],
                ).fetchone()
                if have is None or have[0] <= rec["stored_at"]:
                    self._insert_profile(conn, rec)
                    merged += 1
        return len(runs), merged


def _csv_cell(v: Any) -> Any:
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(v, default=str)
    if isinstance(v, float) and math.isnan(v):
        return ""
    return v


def _write_text(dest: str | os.PathLike[str] | IO[str], text: str) -> None:
    """Write to a file object, or atomically to a path (temp file + rename)."""
    if hasattr(dest, "write"):
        dest.write(text)  # type: ignore[union-attr]
        return
    path = Path(dest)  # type: ignore[arg-type]
    if path.is_dir():
        raise ValueError(f"out: {path} is a directory; give a file path")
    if path.parent and not path.parent.exists():
        raise ValueError(f"out: directory {path.parent} does not exist")
    if path.is_symlink() or (path.exists() and not path.is_file()):
        # /dev/stdout, a FIFO, a symlink: write through it, never replace it by a rename
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ValueError(f"out: cannot write in {path.parent} ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _benchmark_env(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Run metadata of a pytest-benchmark JSON: stbench's own block, else its machine_info."""
    mi = doc.get("machine_info") or {}
    ci = doc.get("commit_info") or {}
    env = dict(mi.get("stbench") or {})
    cpu = mi.get("cpu") or {}
    env.setdefault("host", mi.get("node"))
    env.setdefault("cpu_model", cpu.get("brand_raw") or mi.get("processor"))
    env.setdefault("cpu_count", cpu.get("count"))
    env.setdefault("git_commit", ci.get("id"))
    env.setdefault("git_dirty", ci.get("dirty"))
    env["timestamp"] = doc.get("datetime") or env.get("timestamp")
    env["pytest_benchmark_version"] = doc.get("version")
    return env


def _benchmark_row(b: Mapping[str, Any], source_file: str) -> dict[str, Any] | None:
    """One profile row from one pytest-benchmark entry, or None if it is not a zoo timing."""
    extra = dict(b.get("extra_info") or {})
    stats = b.get("stats") or {}
    if any(extra.get(f) is None for f in KEY_FIELDS if f not in KEY_DEFAULTS):
        return None
    if not isinstance(stats.get("median"), (int, float)):
        return None
    row = dict(extra)
    ms = {k: stats[k] * 1e3 for k in ("median", "iqr", "mean", "min", "max") if k in stats}
    row.update({f"latency_ms_{k}": v for k, v in ms.items()})
    if "stddev" in stats:
        row["latency_ms_std"] = stats["stddev"] * 1e3
    data = stats.get("data")
    if isinstance(data, list) and data:
        s = sorted(data)
        pos = (len(s) - 1) * 0.9
        lo, hi = math.floor(pos), math.ceil(pos)
        row["latency_ms_p90"] = (s[lo] + (s[hi] - s[lo]) * (pos - lo)) * 1e3
    opts = b.get("options") or {}
    row.update(
        iterations=stats.get("rounds"),
        iterations_per_round=stats.get("iterations"),
        timer=extra.get("timer") or opts.get("timer"),
        benchmark_name=b.get("fullname") or b.get("name"),
        benchmark_file=source_file,
    )
    return row


def benchmark_rows(path: str | os.PathLike[str]) -> tuple[list[dict], int, dict, dict]:
    """Parse a `pytest --benchmark-json` file into (rows, skipped, env, flags)."""
    p = Path(path)
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"import-benchmark: no such file {p}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"import-benchmark: cannot read {p} ({exc})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"import-benchmark: {p} is not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise ValueError(f"import-benchmark: {p} is not a pytest-benchmark JSON (no 'benchmarks')")
    rows, skipped = [], 0
    for b in doc["benchmarks"]:
        row = _benchmark_row(b, str(p)) if isinstance(b, dict) else None
        if row is None:
            skipped += 1
        else:
            rows.append(row)
    flags = {"source_file": str(p), "benchmarks": len(doc["benchmarks"])}
    return rows, skipped, _benchmark_env(doc), flags
