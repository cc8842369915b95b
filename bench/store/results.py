"""The results store: an SQLite file that never destroys a measurement.

Every stored row and every failure is appended to a history (run id, time, host, key,
outcome, the row as JSON); the row per key `(model, frames, size, batch, num_classes,
device, dtype, memory_format, compile)` and `source` that `get`, `rows` and
`to_dataframe` return is the *current view* derived from that history field group by
field group (`bench.store.history`): a static-only profile never erases a measured latency,
memory or throughput, and a failure never replaces a success. `merge_from` copies
history entries it does not hold yet, so merging a file twice changes nothing.
Concurrent sweeps share work through leases (`claim`, `release`). Opening checks the
file's integrity and refuses a damaged one. Every write is one transaction; problems
with the file raise `StoreError`, a `ValueError` with one line.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import fnmatch
import hashlib
import json
import math
import os
import platform
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from stbench.bench.store import schema as schema
from stbench.bench.store.benchmark_import import benchmark_rows, doc_rows
from stbench.bench.store.history import NOISY_REL_IQR, VIEW_FIELDS, Entry, current_view, with_noise
from stbench.bench.store.schema import (
    INT_METRICS,
    KEY_DEFAULTS,
    KEY_FIELDS,
    REAL_METRICS,
    RUN_FIELDS,
    SCHEMA_VERSION,
    TEXT_METRICS,
    VIEW_COLUMNS,
)

from stbench.output import Table, reads, render, write_atomic
from stbench.values import INT64_MAX, FieldError, fits_int64, integer, store_path

__all__ = [
    "DEFAULT_LEASE_S",
    "KEY_FIELDS",
    "NOISY_REL_IQR",
    "SCHEMA_VERSION",
    "ResultsStore",
    "StoreError",
    "benchmark_rows",
    "default_owner",
    "default_store_path",
    "row_key",
]

DEFAULT_STORE = Path("results") / "stbench.sqlite"
DEFAULT_LEASE_S = 3600.0
_HISTORY_COLUMNS = ("uid", "source", "status", "error", "run_id", "host", "stored_at", "noisy")
_last_stamp = ""


class StoreError(ValueError):
    """A results-store problem (corrupt, locked, unwritable, missing): one line for the user."""


def default_store_path() -> Path:
    """`$STBENCH_STORE` if set, else `results/stbench.sqlite` under the current directory."""
    env = os.environ.get("STBENCH_STORE")
    return Path(env) if env else Path.cwd() / DEFAULT_STORE


# Fields exports put first (the key, the outcome, the headline numbers); the rest follow.
EXPORT_FIRST = (*KEY_FIELDS, "status", "error", *INT_METRICS[:3], *REAL_METRICS)


def default_owner() -> str:
    """A claim owner id unique to this process: `host:pid:random`."""
    return f"{platform.node()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")


def _stamp() -> str:
    """A UTC time in microseconds, strictly increasing within this process."""
    global _last_stamp
    now = _dt.datetime.now(_dt.timezone.utc)
    text = now.isoformat(timespec="microseconds")
    if text <= _last_stamp:
        last = _dt.datetime.fromisoformat(_last_stamp)
        text = (last + _dt.timedelta(microseconds=1)).isoformat(timespec="microseconds")
    _last_stamp = text
    return text


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
            v = integer(f, v, low=1, high=INT64_MAX)  # a stored row may exceed today's limits
        elif f == "compile":
            v = int(bool(v))
        else:
            v = str(v)
        key.append(v)
    return tuple(key)


def _as_key(key: Sequence[Any] | Mapping[str, Any]) -> tuple[Any, ...]:
    return row_key(key if isinstance(key, Mapping) else dict(zip(KEY_FIELDS, key, strict=True)))


def _coerce(name: str, value: Any, kind: type) -> Any:
    if value is None:
        return None
    try:
        if kind is float:
            return float(value)
        if kind is int:
            return fits_int64(name, int(value))
        return str(value)
    except FieldError:
        raise
    except (TypeError, ValueError, OverflowError):
        raise FieldError(name, value, f"a value of type {kind.__name__}") from None


def _metrics(row: Mapping[str, Any]) -> dict[str, Any]:
    """The metric columns of a row, type-checked (ValueError names a bad one)."""
    out = {m: _coerce(m, row.get(m), int) for m in INT_METRICS}
    out.update({m: _coerce(m, row.get(m), float) for m in REAL_METRICS})
    out.update({m: _coerce(m, row.get(m), str) for m in TEXT_METRICS})
    return out


def _damaged(path: Path, problem: str) -> str:
    hint = schema.DAMAGED_HINT.replace("FILE", str(path))
    return f"store: {path} is damaged ({problem}); {hint}"


def _roll_back(conn: sqlite3.Connection) -> None:
    """Roll back the open transaction, if SQLite has not already ended it on the error."""
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def _describe(path: Path, exc: sqlite3.Error, timeout: float) -> str:
    msg = str(exc)
    low = msg.lower()
    if "could not decode" in low:
        return _damaged(path, "a stored row is not valid UTF-8")
    if "locked" in low or "busy" in low:
        return f"store: {path} is locked by another process (waited {timeout:g} s); retry later"
    if "malformed" in low:
        return _damaged(path, msg)
    if "not a database" in low or "encrypted" in low:
        return f"store: {path} is corrupt or not an SQLite database ({msg})"
    if "readonly" in low or "read-only" in low or "unable to open" in low or "i/o" in low:
        return f"store: cannot write {path} ({msg}); check permissions or use --store PATH"
    return f"store: {path}: {msg}"


def _dicts(cur: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description]
    return [dict(zip(names, values, strict=True)) for values in cur.fetchall()]


def _key_where(alias: str = "") -> str:
    return " AND ".join(f"{alias}{f} = ?" for f in KEY_FIELDS)


class ResultsStore:
    """Profile history, its current view, run metadata and claims in one SQLite file."""

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        readonly: bool = False,
        timeout: float = 10.0,
    ) -> None:
        self.path = Path(path) if path is not None else default_store_path()
        reads(self.path, "the results store")
        self.readonly = readonly
        self.timeout = timeout
        self._legacy = False  # a schema-1 file read through an in-memory copy
        self._hosts: dict[int, str | None] = {}
        self._conn = self._open()

    # -------------------------------------------------------------- connection

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StoreError(_describe(self.path, exc, self.timeout)) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:  # damage inside a row
            raise StoreError(_damaged(self.path, f"a stored row cannot be read: {exc}")) from None

    def _loads(self, text: str) -> Any:
        """A stored row's JSON; damage inside it is a StoreError naming the file."""
        with self._errors():
            return json.loads(text)

    def _connect(self, target: str, uri: bool) -> sqlite3.Connection:
        conn = sqlite3.connect(target, timeout=self.timeout, uri=uri, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _open(self) -> sqlite3.Connection:
        try:  # a file path, a regular file if it exists (never /dev/null, a pipe, a folder)
            store_path(self.path)
        except FieldError as exc:
            raise StoreError(str(exc)) from None
        if self.readonly:
            if not self.path.exists():
                raise StoreError(
                    f"store: no results store at {self.path} "
                    "(run `stbench sweep` first, or pass --store PATH / set STBENCH_STORE)"
                )
            self._roll_back_hot_journal()
            target, uri = f"file:{self.path.resolve()}?mode=ro", True
        else:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"store: cannot create {self.path.parent} ({exc})") from None
            target, uri = str(self.path), False
        new = not self.path.exists()
        try:
            with self._errors():
                conn = self._connect(target, uri)
                try:
                    version = self._check(conn)
                    if version in (0, 2) and not self.readonly:
                        self._create(conn)
                    if not self.readonly:
                        self._check_contents(conn)
                except BaseException:
                    conn.close()
                    raise
        except BaseException:
            if new:  # no empty file left behind by a store that could not be created
                with contextlib.suppress(OSError):
                    Path(f"{self.path}-journal").unlink(missing_ok=True)
                    if self.path.stat().st_size == 0:
                        self.path.unlink()
            raise
        if version == 1:
            conn.close()
            self._legacy = True
            with self._errors():
                return self._legacy_copy()
        return conn

    def _check_contents(self, conn: sqlite3.Connection) -> None:
        """Refuse to write to a store whose rows are damaged inside (invalid JSON or UTF-8,
        which `quick_check` does not see): later rows would be built on unreadable ones."""
        tables = schema.tables(conn)
        for table in ("history", "current"):
            if table not in tables:
                continue
            cur = conn.execute(
                f"SELECT rowid, CAST(row_json AS BLOB), CAST(error AS BLOB) FROM {table}"
            )
            for rowid, *texts in cur:
                try:
                    for text in texts:
                        if text is not None:
                            bytes(text).decode("utf-8")
                    json.loads(bytes(texts[0]))
                except (UnicodeDecodeError, ValueError, TypeError):
                    raise StoreError(
                        _damaged(self.path, f"{table} row {rowid} cannot be read")
                    ) from None

    def _roll_back_hot_journal(self) -> None:
        """A killed writer leaves a journal that a read-only connection cannot roll back."""
        journal = Path(f"{self.path}-journal")
        if journal.exists() and os.access(self.path, os.W_OK):
            with self._errors(), contextlib.closing(self._connect(str(self.path), False)) as c:
                c.execute("SELECT count(*) FROM sqlite_master").fetchone()

    def _check(self, conn: sqlite3.Connection) -> int:
        """Integrity (`PRAGMA quick_check`) and schema version of a freshly opened file."""
        problem = schema.integrity_problem(conn)
        if problem is not None:
            raise StoreError(_damaged(self.path, problem))
        try:
            version = schema.schema_version(conn, self.path)
        except ValueError as exc:
            raise StoreError(str(exc)) from None
        if version not in (0, 1, 2, SCHEMA_VERSION):
            raise StoreError(
                f"store: {self.path} has schema version {version}; "
                f"this stbench reads versions 1 to {SCHEMA_VERSION}"
            )
        return version

    def _create(self, conn: sqlite3.Connection) -> None:
        """Create an empty file's tables, or add schema 3's to a schema-2 file."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            names = schema.tables(conn)  # another process may have done it meanwhile
            if not names:
                schema.create(conn)
            elif "predictions" not in names and "history" in names:
                schema.upgrade_v2(conn)
            conn.execute("COMMIT")
        except BaseException:
            _roll_back(conn)  # the real error, not "cannot rollback - no transaction is active"
            raise

    def _legacy_copy(self) -> sqlite3.Connection:
        """A schema-2 in-memory copy of a schema-1 file, which stays untouched."""
        mem = self._connect("file::memory:", True)
        mem.execute("ATTACH DATABASE ? AS v1", (f"file:{self.path.resolve()}?mode=ro",))
        mem.execute("BEGIN")
        schema.create(mem)
        schema.upgrade_v1(mem, "v1.runs", "v1.profiles", self._insert_run, self._append)
        mem.execute("COMMIT")
        mem.execute("DETACH DATABASE v1")
        return mem

    def _upgrade(self) -> None:
        """Upgrade a schema-1 file in place (first write), then use it directly."""
        conn = self._connect(str(self.path), False)
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if schema.schema_version(conn, self.path) == 1:
                    schema.upgrade_in_place(conn, self._insert_run, self._append)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except BaseException:
            conn.close()
            raise
        self._conn.close()
        self._conn, self._legacy = conn, False

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        if self.readonly:
            raise StoreError(f"store: {self.path} was opened read-only")
        with self._errors():
            if self._legacy:
                self._upgrade()
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                _roll_back(self._conn)
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
            return "history" in schema.tables(self._conn)

    @staticmethod
    def _run_record(env: Mapping[str, Any], flags: Mapping[str, Any], source: str) -> dict:
        rec = {f: env.get(f) for f in RUN_FIELDS}
        if rec["git_dirty"] is not None:
            rec["git_dirty"] = int(bool(rec["git_dirty"]))
        rec.update(
            uid=uuid.uuid4().hex,
            started_at=str(env.get("timestamp") or _now()),
            source=source,
            flags_json=json.dumps(dict(flags), default=str, sort_keys=True),
            env_json=json.dumps(dict(env), default=str, sort_keys=True),
        )
        return rec

    @staticmethod
    def _insert_run(conn: sqlite3.Connection, rec: Mapping[str, Any]) -> int:
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
    def _entry(
        row: Mapping[str, Any], source: str, status: str | None, error: str | None
    ) -> dict[str, Any]:
        """A validated history entry for `row` (run_id, host and time filled in later)."""
        key = row_key(row)
        status = status or row.get("status") or "ok"
        if status not in ("ok", "failed"):
            raise FieldError("status", status, "'ok' or 'failed'")
        error = error if error is not None else row.get("error")
        _metrics(row)
        clean = {k: v for k, v in row.items() if k not in VIEW_FIELDS}
        clean.update(zip(KEY_FIELDS, key, strict=True))
        clean["compile"] = bool(clean["compile"])
        entry: dict[str, Any] = dict(zip(KEY_FIELDS, key, strict=True))
        entry.update(
            uid=uuid.uuid4().hex,
            source=source,
            status=status,
            error=None if error is None else str(error),
            row=clean,
        )
        return entry

    def _host(self, conn: sqlite3.Connection, run_id: int | None) -> str | None:
        if run_id is None:
            return platform.node()
        if run_id not in self._hosts:
            found = conn.execute("SELECT host FROM runs WHERE run_id = ?", (run_id,)).fetchone()
            self._hosts[run_id] = found[0] if found else None
        return self._hosts[run_id]

    def _stamped(
        self, conn: sqlite3.Connection, entries: Iterable[dict[str, Any]], run_id: int | None
    ) -> list[dict[str, Any]]:
        host = self._host(conn, run_id)
        return [{**e, "run_id": run_id, "host": host, "stored_at": _stamp()} for e in entries]

    @staticmethod
    def _append(conn: sqlite3.Connection, entries: Iterable[dict[str, Any]]) -> int:
        """Insert entries whose uid is new, then refresh their keys' views; returns how many."""
        cols = ["uid", *KEY_FIELDS, "source", "status", "error", "run_id", "host", "stored_at"]
        sql = (
            f"INSERT OR IGNORE INTO history ({', '.join(cols)}, noisy, row_json) "
            f"VALUES ({', '.join('?' * (len(cols) + 2))})"
        )
        touched: set[tuple[Any, ...]] = set()
        added = 0
        for e in entries:
            row = with_noise(e["row"])
            noisy = row.get("noisy")
            values = [e[c] for c in cols]
            values += [
                None if noisy is None else int(noisy),
                json.dumps(row, default=str, sort_keys=True),
            ]
            if conn.execute(sql, values).rowcount:
                added += 1
                touched.add((*(e[f] for f in KEY_FIELDS), e["source"]))
        for key_source in sorted(touched, key=str):
            ResultsStore._refresh(conn, key_source)
        return added

    @staticmethod
    def _refresh(conn: sqlite3.Connection, key_source: tuple[Any, ...]) -> None:
        """Recompute the current view of one key and source from its history."""
        found = conn.execute(
            "SELECT uid, status, error, run_id, stored_at, row_json FROM history "
            f"WHERE {_key_where()} AND source = ? ORDER BY stored_at, uid",
            key_source,
        ).fetchall()
        entries = [
            Entry(json.loads(r[5]), status=r[1], error=r[2], run_id=r[3], stored_at=r[4], uid=r[0])
            for r in found
        ]
        view = current_view(entries)
        rec: dict[str, Any] = dict(zip((*KEY_FIELDS, "source"), key_source, strict=True))
        rec.update({c: view[c] for c in VIEW_COLUMNS if c != "source"})
        rec["noisy"] = int(rec["noisy"])
        rec.update(_metrics(view))
        rec["row_json"] = json.dumps(view, default=str, sort_keys=True)
        cols = list(rec)
        conn.execute(
            f"INSERT OR REPLACE INTO current ({', '.join(cols)}) "
            f"VALUES ({', '.join('?' * len(cols))})",
            [rec[c] for c in cols],
        )

    def add_row(
        self,
        row: Mapping[str, Any],
        *,
        run_id: int | None = None,
        source: str = "stbench",
        status: str | None = None,
        error: str | None = None,
        release: str | None = None,
    ) -> int:
        """Append one row (or failure) to the history in its own transaction; returns its id.

        The key's current view keeps every measured field group this row does not carry,
        and a failure never replaces a success (see `bench.store.history`). `release`: an owner
        whose claim on the key ends in the same transaction.
        """
        entry = self._entry(row, source, status, error)  # validate first
        with self._write() as conn:
            self._append(conn, self._stamped(conn, [entry], run_id))
            if release is not None:
                self._release(conn, row_key(row), release)
            found = conn.execute("SELECT id FROM history WHERE uid = ?", (entry["uid"],))
            return int(found.fetchone()[0])

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
        entries = [self._entry(r, source, None, None) for r in rows]
        with self._write() as conn:
            run_id = self._insert_run(conn, run)
            self._append(conn, self._stamped(conn, entries, run_id))
        return run_id

    # -------------------------------------------------------------- claims

    def claim(
        self,
        key: Sequence[Any] | Mapping[str, Any],
        owner: str,
        lease_s: float = DEFAULT_LEASE_S,
    ) -> bool:
        """Take (or renew) the lease on a key for `lease_s` seconds; False if another holds it.

        A lease whose holder died expires after `lease_s`, and the key can be claimed again.
        """
        if not (isinstance(lease_s, (int, float)) and 0 < lease_s < math.inf):
            raise ValueError(f"lease_s: got {lease_s!r}; allowed: a number of seconds > 0")
        k = _as_key(key)
        with self._write() as conn:
            now = time.time()
            held = conn.execute(
                f"SELECT owner, expires_at FROM claims WHERE {_key_where()}", k
            ).fetchone()
            if held is not None and held[0] != owner and held[1] > now:
                return False
            conn.execute(
                f"INSERT OR REPLACE INTO claims ({', '.join(KEY_FIELDS)}, owner, claimed_at, "
                f"expires_at) VALUES ({', '.join('?' * (len(KEY_FIELDS) + 3))})",
                (*k, owner, _now(), now + lease_s),
            )
            return True

    def release(self, key: Sequence[Any] | Mapping[str, Any], owner: str) -> bool:
        """Give up `owner`'s lease on a key; False if it held none (expired and re-claimed)."""
        k = _as_key(key)
        with self._write() as conn:
            return self._release(conn, k, owner)

    @staticmethod
    def _release(conn: sqlite3.Connection, key: tuple[Any, ...], owner: str) -> bool:
        cur = conn.execute(f"DELETE FROM claims WHERE {_key_where()} AND owner = ?", (*key, owner))
        return cur.rowcount > 0

    def claims(self) -> list[dict[str, Any]]:
        """Leases not yet expired: key fields, owner, claimed_at, expires_at (Unix seconds)."""
        if not self._tables_ready():
            return []
        with self._errors():
            cur = self._conn.execute(
                "SELECT * FROM claims WHERE expires_at > ? ORDER BY claimed_at", (time.time(),)
            )
            return _dicts(cur)

    # -------------------------------------------------------------- reading

    def get(self, key: Sequence[Any] | Mapping[str, Any], source: str = "stbench") -> dict | None:
        """The current row of a key (tuple in KEY_FIELDS order, or a row), or None."""
        k = _as_key(key)
        if not self._tables_ready():
            return None
        rows = self._select("current", f"{_key_where('p.')} AND p.source = ?", [*k, source])
        return rows[0] if rows else None

    def has(
        self,
        key: Sequence[Any] | Mapping[str, Any],
        source: str = "stbench",
        status: str | None = None,
    ) -> bool:
        """Whether a row with this key (and current status, if given) is stored."""
        row = self.get(key, source)
        return row is not None and (status is None or row["status"] == status)

    def _select(
        self, table: str, where: str, params: list[Any], with_run: bool = False
    ) -> list[dict[str, Any]]:
        own = VIEW_COLUMNS if table == "current" else _HISTORY_COLUMNS
        order = "p.stored_at, p.uid" if table == "history" else "p.source"
        run_cols = ", ".join(f"r.{f} AS run_{f}" for f in ("started_at", *RUN_FIELDS))
        sql = (
            f"SELECT p.row_json, {', '.join('p.' + c for c in own)}, {run_cols} "
            f"FROM {table} p LEFT JOIN runs r ON p.run_id = r.run_id WHERE {where} "
            "ORDER BY p.model, p.frames, p.size, p.batch, p.num_classes, p.device, p.dtype, "
            f"p.memory_format, p.compile, {order}"
        )
        with self._errors():
            found = _dicts(self._conn.execute(sql, params))
        out = []
        for rec in found:
            row = self._loads(rec.pop("row_json"))
            row.update({c: rec[c] for c in own})
            if row.get("noisy") is not None:
                row["noisy"] = bool(row["noisy"])
            if with_run:
                row.update({k: v for k, v in rec.items() if k.startswith("run_")})
            out.append(row)
        return out

    def _filtered(
        self, table: str, model: str | None, with_run: bool, equals: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        columns = VIEW_COLUMNS if table == "current" else _HISTORY_COLUMNS
        allowed = (*KEY_FIELDS, *columns)
        bad = sorted(set(equals) - set(allowed))
        if bad:
            raise ValueError(f"rows: cannot filter on {bad}; allowed: {', '.join(allowed)}")
        if not self._tables_ready():
            return []
        clauses, params = ["1=1"], []
        for k, v in equals.items():
            if v is not None:
                clauses.append(f"p.{k} = ?")
                params.append(int(bool(v)) if k in ("compile", "noisy") else v)
        rows = self._select(table, " AND ".join(clauses), params, with_run)
        if model:
            rows = [r for r in rows if fnmatch.fnmatchcase(r["model"], model.lower())]
        return rows

    def rows(
        self, model: str | None = None, *, with_run: bool = False, **equals: Any
    ) -> list[dict[str, Any]]:
        """The current view, one row per key and source, filtered by a model pattern and
        column equalities.

        `equals` keys are key fields or source/status/error/run_id/stored_at/attempts/
        failed_attempts/last_error/noisy; `with_run` adds the metadata of the run that
        measured the row (newest measurement, else newest success) as `run_*` fields.
        """
        return self._filtered("current", model, with_run, equals)

    def history(
        self, model: str | None = None, *, with_run: bool = False, **equals: Any
    ) -> list[dict[str, Any]]:
        """Every stored attempt, oldest first: the row as written plus uid, source, status,
        error, run_id, host, stored_at and noisy (`equals` filters on those or key fields)."""
        return self._filtered("history", model, with_run, equals)

    def runs(self) -> list[dict[str, Any]]:
        """Every run's metadata, oldest first."""
        if not self._tables_ready():
            return []
        with self._errors():
            return _dicts(self._conn.execute("SELECT * FROM runs ORDER BY run_id"))

    def to_dataframe(self, model: str | None = None, **equals: Any) -> Any:
        """The current view (with run metadata) as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(self.rows(model, with_run=True, **equals))

    # -------------------------------------------------------------- predictions

    def add_predictions(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Store `bench.predict.predictor` rows (one transaction); a newer prediction of the same key
        and options (train, optimizer, cuda_graphs, predictor) replaces an older one.

        Returns how many rows were written. Predictions never enter the measured history.
        """
        recs = [_prediction_record(r) for r in rows]  # validate first
        with self._write() as conn:
            return self._put_predictions(conn, recs)

    @staticmethod
    def _put_predictions(conn: sqlite3.Connection, recs: Sequence[dict[str, Any]]) -> int:
        written = 0
        for rec in recs:
            cols = list(rec)
            pk = (*KEY_FIELDS, *schema.PREDICTION_OPTIONS)
            updates = ", ".join(f"{c} = excluded.{c}" for c in cols if c not in pk)
            cur = conn.execute(
                f"INSERT INTO predictions ({', '.join(cols)}) VALUES "
                f"({', '.join('?' * len(cols))}) ON CONFLICT ({', '.join(pk)}) DO UPDATE "
                f"SET {updates} WHERE excluded.stored_at > predictions.stored_at",
                [rec[c] for c in cols],
            )
            written += cur.rowcount
        return written

    def predictions(self, model: str | None = None, **equals: Any) -> list[dict[str, Any]]:
        """Stored predictions (the rows `bench.predict.predictor` made, plus `stored_at`), filtered by
        a model pattern and equalities on key fields, prediction options or `gpu`."""
        allowed = (*KEY_FIELDS, *schema.PREDICTION_OPTIONS, "gpu")
        bad = sorted(set(equals) - set(allowed))
        if bad:
            raise ValueError(f"predictions: cannot filter on {bad}; allowed: {', '.join(allowed)}")
        with self._errors():
            if "predictions" not in schema.tables(self._conn):
                return []
            clauses, params = ["1=1"], []
            for k, v in equals.items():
                if v is not None:
                    clauses.append(f"{k} = ?")
                    params.append(int(bool(v)) if k in ("compile", "train", "cuda_graphs") else v)
            found = self._conn.execute(
                f"SELECT row_json, stored_at FROM predictions WHERE {' AND '.join(clauses)} "
                f"ORDER BY {', '.join(KEY_FIELDS)}, {', '.join(schema.PREDICTION_OPTIONS)}",
                params,
            ).fetchall()
        out = [{**self._loads(r[0]), "stored_at": r[1]} for r in found]
        if model:
            out = [r for r in out if fnmatch.fnmatchcase(r["model"], model.lower())]
        return out

    # -------------------------------------------------------------- export / import

    def _export(
        self,
        dest: str | os.PathLike[str] | IO[str],
        fmt: str,
        history: bool,
        filters: Mapping[str, Any],
    ) -> int:
        """Write the view (or every attempt) in `fmt` (json or csv); returns the count."""
        read = self.history if history else self.rows
        rows = read(with_run=True, **filters)
        _write_text(dest, render(Table(rows, first=EXPORT_FIRST), fmt))
        return len(rows)

    def export_json(
        self, dest: str | os.PathLike[str] | IO[str], *, history: bool = False, **filters: Any
    ) -> int:
        """Write the current view (or, with `history`, every attempt) as JSON; returns the count."""
        return self._export(dest, "json", history, filters)

    def export_csv(
        self, dest: str | os.PathLike[str] | IO[str], *, history: bool = False, **filters: Any
    ) -> int:
        """Write the current view (or every attempt) as CSV, nested values JSON-encoded."""
        return self._export(dest, "csv", history, filters)

    def import_benchmark_json(self, path: str | os.PathLike[str]) -> tuple[int, int]:
        """Load a pytest-benchmark JSON run; returns (rows imported, benchmarks skipped).

        Importing the same file again imports nothing (its entries are known by content).
        """
        rows, skipped, env, flags = benchmark_rows(path)
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        return self._import_benchmark(rows, skipped, env, flags, digest)

    def import_benchmark_doc(self, doc: Mapping[str, Any], source: str) -> tuple[int, int]:
        """Load a parsed pytest-benchmark document (what `--benchmark-json` would write) read
        from `source`; returns (rows imported, benchmarks skipped), once per document."""
        rows, skipped, env, flags = doc_rows(doc, source)
        text = json.dumps(doc, sort_keys=True, default=str)
        digest = hashlib.sha256(text.encode()).hexdigest()
        return self._import_benchmark(rows, skipped, env, flags, digest)

    def _import_benchmark(
        self, rows: list[dict], skipped: int, env: dict, flags: dict, digest: str
    ) -> tuple[int, int]:
        if not rows:
            return 0, skipped
        run = {**self._run_record(env, flags, "pytest-benchmark"), "uid": schema.uid_of(digest)}
        entries = [self._entry(r, "pytest-benchmark", None, None) for r in rows]
        for i, e in enumerate(entries):
            e["uid"] = schema.uid_of(digest, i)
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM runs WHERE uid = ?", (run["uid"],)).fetchone():
                return 0, skipped
            run_id = self._insert_run(conn, run)
            added = self._append(conn, self._stamped(conn, entries, run_id))
        return added, skipped

    def merge_from(self, other: str | os.PathLike[str] | MergeSource) -> tuple[int, int]:
        """Copy another store's runs and history entries that this one lacks (one transaction).

        Returns (runs added, entries added). For sweeps sharded over hosts: each host writes
        its own store, then one merges them. The current view is re-derived field by field
        from the union of the histories, so the order of merges does not matter and merging
        a file twice changes nothing. `other` may be a `merge_source` already read (so that
        every source is checked before anything is merged).
        """
        source = other if isinstance(other, MergeSource) else merge_source(other, self.timeout)
        runs, entries = source.runs, [dict(e) for e in source.entries]
        predicted = source.predictions
        with self._write() as conn:
            self._put_predictions(conn, predicted)
            new_runs, local = 0, {}
            for run in runs:
                have = conn.execute("SELECT run_id FROM runs WHERE uid = ?", (run["uid"],))
                found = have.fetchone()
                if found is None:
                    found = (
                        self._insert_run(conn, {k: v for k, v in run.items() if k != "run_id"}),
                    )
                    new_runs += 1
                local[run["run_id"]] = found[0]
            for e in entries:
                e["run_id"] = local.get(e["run_id"])
            return new_runs, self._append(conn, entries)

    def _raw_history(self) -> list[dict[str, Any]]:
        """History entries as `_append` takes them (for merges)."""
        if not self._tables_ready():
            return []
        with self._errors():
            found = _dicts(self._conn.execute("SELECT * FROM history ORDER BY id"))
        for e in found:
            e["row"] = self._loads(e.pop("row_json"))
            e.pop("id")
            e.pop("noisy")
        return found


@dataclasses.dataclass(frozen=True)
class MergeSource:
    """What a merge copies from one store: its runs, history entries and predictions."""

    path: Path
    runs: list[dict[str, Any]]
    entries: list[dict[str, Any]]
    predictions: list[dict[str, Any]]


def merge_source(path: str | os.PathLike[str], timeout: float = 10.0) -> MergeSource:
    """Read (and so check) the store at `path` for a merge: StoreError for a bad one."""
    if not Path(path).exists():
        raise StoreError(f"merge source: no results store at {path}")
    with ResultsStore(path, readonly=True, timeout=timeout) as src:
        runs = src.runs()
        entries = src._raw_history()
        predicted = [_prediction_record(r, r["stored_at"]) for r in src.predictions()]
    return MergeSource(Path(path), runs, entries, predicted)


def _prediction_record(row: Mapping[str, Any], stored_at: str | None = None) -> dict[str, Any]:
    """The `predictions` columns of one `bench.predict.predictor` row (ValueError for a bad one)."""
    if row.get("kind") != "predicted" or not str(row.get("device", "")).startswith("predicted:"):
        raise ValueError(
            f"prediction: got kind {row.get('kind')!r}, device {row.get('device')!r}; "
            "allowed: rows of bench.predict.predictor (kind 'predicted', device 'predicted:<gpu>')"
        )
    rec: dict[str, Any] = dict(zip(KEY_FIELDS, row_key(row), strict=True))
    train = "train_peak_memory_bytes" in row
    rec.update(
        train=int(train),
        optimizer=str(row.get("optimizer") or "") if train else "",
        cuda_graphs=int(bool(row.get("cuda_graphs"))),
        predictor=str(row.get("predictor") or ""),
        stored_at=stored_at or _stamp(),
    )
    for names, kind in (
        (schema.PREDICTION_INT, int),
        (schema.PREDICTION_REAL, float),
        (schema.PREDICTION_TEXT, str),
    ):
        rec.update({c: _coerce(c, row.get(c), kind) for c in names})
    clean = {k: v for k, v in row.items() if k != "stored_at"}
    rec["row_json"] = json.dumps(clean, default=str, sort_keys=True)
    return rec


def _write_text(dest: str | os.PathLike[str] | IO[str], text: str) -> None:
    """Write to a file object, or through the one atomic file writer to a path."""
    if hasattr(dest, "write"):
        dest.write(text)  # type: ignore[union-attr]
        return
    write_atomic(dest, text, option="out")
