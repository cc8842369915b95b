"""`stbench results`, `export`, `import-benchmark` and `merge-store`: the results store."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

STORE_HELP = "results store (default $STBENCH_STORE or results/stbench.sqlite)"


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="model name pattern, e.g. 'r3d_*'")
    p.add_argument("--device", help="only rows of this device")
    p.add_argument("--status", choices=["ok", "failed"], help="only ok or failed rows")
    p.add_argument("--source", choices=["stbench", "pytest-benchmark"], help="only this source")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `results`, `export` and `import-benchmark` subcommands."""
    p = sub.add_parser("results", help="show the stored profile rows as a table")
    p.add_argument("--store", help=STORE_HELP)
    _filters(p)
    p.set_defaults(func=run_results)

    p = sub.add_parser("export", help="export stored rows (with run metadata) to CSV or JSON")
    p.add_argument("--format", choices=["csv", "json"], help="default: from --out, else csv")
    p.add_argument(
        "--history",
        action="store_true",
        help="every stored attempt (successes and failures, oldest first) instead of the "
        "current row per key",
    )
    p.add_argument("--out", help="output file (default: stdout)")
    p.add_argument("--store", help=STORE_HELP)
    _filters(p)
    p.set_defaults(func=run_export)

    p = sub.add_parser(
        "import-benchmark", help="load a `pytest bench/ --benchmark-json` file into the store"
    )
    p.add_argument("file", help="pytest-benchmark JSON file")
    p.add_argument("--store", help=STORE_HELP)
    p.set_defaults(func=run_import)

    p = sub.add_parser(
        "merge-store", help="merge other stores (e.g. one per host of a sharded sweep) into one"
    )
    p.add_argument("files", nargs="+", help="stbench SQLite stores to copy rows from")
    p.add_argument("--store", help=STORE_HELP)
    p.set_defaults(func=run_merge)


def _open(args: argparse.Namespace, readonly: bool = True) -> Any:
    from stbench.bench.store import ResultsStore

    return ResultsStore(args.store, readonly=readonly)


def _equals(args: argparse.Namespace) -> dict[str, Any]:
    return {k: getattr(args, k) for k in ("device", "status", "source") if getattr(args, k)}


def run_export(args: argparse.Namespace) -> int:
    """Write the rows as CSV or JSON to --out or stdout."""
    fmt = args.format
    if fmt is None:
        fmt = "json" if args.out and Path(args.out).suffix.lower() == ".json" else "csv"
    with _open(args) as store:
        export = store.export_json if fmt == "json" else store.export_csv
        n = export(args.out or sys.stdout, history=args.history, model=args.model, **_equals(args))
    if args.out:
        what = "history entr(ies)" if args.history else "row(s)"
        print(f"export: wrote {n} {what} as {fmt} to {args.out}", file=sys.stderr)
    return 0


def run_import(args: argparse.Namespace) -> int:
    """Import one pytest-benchmark JSON file."""
    from stbench.bench.store import benchmark_rows

    benchmark_rows(args.file)  # validate the file before creating a store for it
    with _open(args, readonly=False) as store:
        n, skipped = store.import_benchmark_json(args.file)
        path = store.path
    extra = f" (skipped {skipped} benchmark(s) without stbench extra_info)" if skipped else ""
    again = " (this file was imported before)" if n == 0 and not skipped else ""
    print(f"import-benchmark: imported {n} row(s) into {path}{extra}{again}")
    return 0


def run_merge(args: argparse.Namespace) -> int:
    """Merge every given store's history into --store (idempotent, field by field)."""
    from stbench.bench.store import ResultsStore

    with ResultsStore(args.store) as store:
        for f in args.files:
            if Path(f).resolve() == store.path.resolve():
                raise ValueError(f"merge-store: {f} is the target store itself")
            runs, entries = store.merge_from(f)
            print(
                f"merge-store: {f}: {runs} new run(s), {entries} new history entr(ies) "
                f"into {store.path}"
            )
    return 0


def _fmt(v: Any, scale: float = 1.0, digits: int = 2) -> str:
    if v is None:
        return ""
    if isinstance(v, (int, float)):
        return f"{v / scale:,.{digits}f}"
    return str(v)


def _short(text: str | None, limit: int = 60) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _status(r: dict[str, Any]) -> str:
    from rich.markup import escape

    if r["status"] != "ok":
        return f"[red]failed[/red]: {escape(_short(r.get('error')))}"
    n = r.get("failed_attempts") or 0
    return f"ok [dim]({n} failed attempt(s))[/dim]" if n else "ok"


def _cells(r: dict[str, Any]) -> dict[str, str]:
    from rich.markup import escape

    tp = r.get("throughput_clips_per_s")
    fmt = "channels_last_3d" if r["memory_format"] == "channels_last_3d" else "contiguous"
    return {
        "model": escape(r["model"]),
        "T": str(r["frames"]),
        "size": str(r["size"]),
        "batch": str(r["batch"]),
        "classes": str(r["num_classes"]),
        "device": r["device"],
        "dtype": r["dtype"],
        "format": fmt + ("+compile" if r.get("compile") else ""),
        "source": r.get("source") or "",
        "status": _status(r),
        "params (M)": _fmt(r.get("params"), 1e6),
        "MACs (G)": _fmt(r.get("macs"), 1e9),
        "latency ms (median)": _fmt(r.get("latency_ms_median"))
        + (" [yellow](noisy)[/yellow]" if r.get("noisy") else ""),
        "IQR ms": _fmt(r.get("latency_ms_iqr")),
        "p90 ms": _fmt(r.get("latency_ms_p90")),
        "clips/s (batch)": "" if tp is None else f"{tp:,.1f} ({r.get('throughput_batch_used')})",
        "peak MiB": _fmt(r.get("peak_mem_mib"), digits=1),
    }


_ALWAYS = ("model", "T", "size", "status", "params (M)", "MACs (G)")


def run_results(args: argparse.Namespace) -> int:
    """Print the stored rows as a rich table; columns equal on every row go to the title."""
    from rich.table import Table
    from stbench.bench.console import table_console

    with _open(args) as store:
        rows = store.rows(args.model, **_equals(args))
        path = store.path
    console = table_console()
    if not rows:
        console.print(f"no rows in {path}")
        return 0
    cells = [_cells(r) for r in rows]
    constant = {
        c: cells[0][c]
        for c in cells[0]
        if c not in _ALWAYS and all(x[c] == cells[0][c] for x in cells)
    }
    shown = [c for c in cells[0] if c not in constant]
    common = ", ".join(f"{k}={v}" for k, v in constant.items() if v)
    t = Table(
        title=f"stbench results: {len(rows)} row(s) in {path}" + (f"\n{common}" if common else "")
    )
    if any(r.get("noisy") for r in rows):
        from stbench.bench.history import NOISY_REL_IQR

        t.caption = (
            f"(noisy): latency IQR/median > {NOISY_REL_IQR:g}, or timing stopped on its "
            "time cap; see the row's flags"
        )
    for c in shown:
        t.add_column(c, overflow="fold", justify="left" if c in ("model", "status") else "right")
    for x in cells:
        t.add_row(*(x[c] for c in shown))
    console.print(t)
    return 0
