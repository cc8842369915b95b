"""`stbench results`, `export`, `import-benchmark` and `merge-store`: the results store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from stbench.cli.options import (
    SELECTION_HELP,
    add_output,
    add_store,
    command,
    expand_names,
    output_format,
)

from stbench.errors import UserError
from stbench.output import Column, Table, check_writable, emit


def _filters(p: argparse.ArgumentParser) -> None:
    add_store(p)
    p.add_argument(
        "--model", nargs="+", metavar="MODEL", help=f"only these models: {SELECTION_HELP}"
    )
    p.add_argument("--device", help="only rows of this device")
    p.add_argument("--status", choices=["ok", "failed"], help="only ok or failed rows")
    p.add_argument("--source", choices=["stbench", "pytest-benchmark"], help="only this source")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `results`, `export`, `import-benchmark` and `merge-store` subcommands."""
    p = command(sub, "results", "show the stored profile rows as a table")
    _filters(p)
    add_output(p, what="the rows (csv/json: every stored field)")
    p.set_defaults(func=run_results)

    p = command(sub, "export", "export stored rows (with run metadata) to CSV or JSON")
    p.add_argument(
        "--history",
        action="store_true",
        help="every stored attempt (successes and failures, oldest first) instead of the "
        "current row per key",
    )
    _filters(p)
    add_output(p, default="csv", what="the rows")
    p.set_defaults(func=run_export)

    p = command(
        sub, "import-benchmark", "load a `pytest bench/ --benchmark-json` file into the store"
    )
    p.add_argument("file", help="pytest-benchmark JSON file")
    add_store(p)
    p.set_defaults(func=run_import)

    p = command(
        sub, "merge-store", "merge other stores (e.g. one per host of a sharded sweep) into one"
    )
    p.add_argument("files", nargs="+", help="stbench SQLite stores to copy rows from")
    add_store(p)
    p.set_defaults(func=run_merge)


def _open(args: argparse.Namespace, readonly: bool = True) -> Any:
    from stbench.bench.store.results import ResultsStore

    return ResultsStore(args.store, readonly=readonly)


def _equals(args: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(args, k) for k in ("device", "status", "source") if getattr(args, k)}


def _show_rows(args: argparse.Namespace, *, with_run: bool, default: str) -> int:
    """Print or write the stored rows: a table people read, or every field as CSV/JSON."""
    fmt = output_format(args, default=default)
    if args.out:
        check_writable(args.out)
    history = getattr(args, "history", False)
    with _open(args) as store:
        read = store.history if history else store.rows
        rows = read(None, with_run=with_run, **_equals(args))
        path = store.path
    if args.model:  # a selection that matches no stored row is an error, as everywhere
        stored = {r["model"] for r in rows}
        where = f"in {path}"
        chosen = expand_names(
            args.model, option="--model", names=stored, source="store", where=where
        )
        rows = [r for r in rows if r["model"] in set(chosen)]
    emit(_rows_table(rows, path), fmt, out=args.out)
    if args.out:
        what = "history entr(ies)" if history else "row(s)"
        print(f"{args.command}: wrote {len(rows)} {what} as {fmt} to {args.out}", file=sys.stderr)
    return 0


def run_results(args: argparse.Namespace) -> int:
    """Show the stored rows (a table by default; columns equal on every row go to the title)."""
    return _show_rows(args, with_run=False, default="table")


def run_export(args: argparse.Namespace) -> int:
    """Export the stored rows with their run metadata (CSV by default)."""
    return _show_rows(args, with_run=True, default="csv")


def run_import(args: argparse.Namespace) -> int:
    """Import one pytest-benchmark JSON file."""
    from stbench.bench.store.results import benchmark_rows

    benchmark_rows(args.file)  # validate the file before creating a store for it
    with _open(args, readonly=False) as store:
        n, skipped = store.import_benchmark_json(args.file)
        path = store.path
    extra = f" (skipped {skipped} benchmark(s) without stbench extra_info)" if skipped else ""
    again = " (this file was imported before)" if n == 0 and not skipped else ""
    print(f"import-benchmark: imported {n} row(s) into {path}{extra}{again}")
    return 0


def run_merge(args: argparse.Namespace) -> int:
    """Merge every given store's history into --store, once every store checked out good."""
    from stbench.bench.store.results import ResultsStore, default_store_path, merge_source

    target = Path(args.store) if args.store else default_store_path()
    if target.exists():  # a bad target is refused as --store, before any source is read
        ResultsStore(target, readonly=True).close()
    sources = []
    for f in args.files:
        if Path(f).resolve() == target.resolve():
            raise ValueError(f"merge-store: {f} is the target store itself")
        try:
            sources.append(merge_source(f))
        except ValueError as exc:  # named by its own role, not as --store
            text = str(exc).splitlines()[0]
            for prefix in ("store: ", "merge source: "):
                text = text.removeprefix(prefix)
            raise UserError(f"FILE {f}: {text}") from None
    with ResultsStore(target) as store:
        for f, source in zip(args.files, sources, strict=True):
            runs, entries = store.merge_from(source)
            print(
                f"merge-store: {f}: {runs} new run(s), {entries} new history entr(ies) "
                f"into {store.path}"
            )
    return 0


def _short(text: str | None, limit: int = 60) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _status(r: dict[str, Any]) -> str:
    if r["status"] != "ok":
        return f"failed: {_short(r.get('error'))}"
    n = r.get("failed_attempts") or 0
    return f"ok ({n} failed attempt(s))" if n else "ok"


def _format(r: dict[str, Any]) -> str:
    fmt = "channels_last_3d" if r.get("memory_format") == "channels_last_3d" else "contiguous"
    return fmt + ("+compile" if r.get("compile") else "")


def _throughput(r: dict[str, Any]) -> str | None:
    tp = r.get("throughput_clips_per_s")
    return None if tp is None else f"{tp:,.1f} ({r.get('throughput_batch_used')})"


def _latency(r: dict[str, Any]) -> str | None:
    v = r.get("latency_ms_median")
    if v is None:
        return None
    return f"{v:,.2f}" + (" (noisy)" if r.get("noisy") else "")


# The columns of the results table, with units; those equal on every row go to the title.
RESULT_COLUMNS = (
    Column("model"),
    Column("frames", "T"),
    Column("size", "size (px)"),
    Column("batch"),
    Column("num_classes", "classes"),
    Column("device"),
    Column("dtype"),
    Column("memory_format", "format", get=_format),
    Column("source"),
    Column("status", get=_status),
    Column("params", "params (M)", scale=1e6),
    Column("macs", "MACs (G)", scale=1e9),
    Column("latency_ms_median", "latency ms (median)", get=_latency, justify="right"),
    Column("latency_ms_iqr", "IQR ms", digits=2),
    Column("latency_ms_p90", "p90 ms", digits=2),
    Column("throughput_clips_per_s", "clips/s (batch)", get=_throughput, justify="right"),
    Column("peak_mem_mib", "peak MiB", digits=1),
)
_ALWAYS = ("model", "frames", "size", "status", "params", "macs")


def _rows_table(rows: list[dict[str, Any]], path: Path) -> Table:
    """The rows as a Table: columns empty or equal on every row move to the title."""
    cols = RESULT_COLUMNS
    constant = {
        c.title: c.text(rows[0])
        for c in cols
        if rows and c.key not in _ALWAYS and all(c.text(r) == c.text(rows[0]) for r in rows)
    }
    shown = [c for c in cols if c.title not in constant]
    common = ", ".join(f"{k}={v}" for k, v in constant.items() if v not in ("", "-"))
    title = f"stbench results: {len(rows)} row(s) in {path}" + (f"\n{common}" if common else "")
    styles = ["red" if r.get("status") != "ok" else None for r in rows]
    first = [c.key for c in cols[:10]] + ["error"]  # the profile key, source, status, error
    notes = []
    if any(r.get("noisy") for r in rows):
        from stbench.bench.store.history import NOISY_REL_IQR

        notes.append(
            f"(noisy): latency IQR/median > {NOISY_REL_IQR:g}, or timing stopped on its "
            "time cap; see the row's flags"
        )
    return Table(rows, shown, title=title, styles=styles, first=first, notes=notes)
