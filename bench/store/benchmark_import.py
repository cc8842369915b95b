"""Rows of a `pytest --benchmark-json` file: one profile row per zoo timing it holds."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stbench.bench.store.schema import KEY_DEFAULTS, KEY_FIELDS


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
    return doc_rows(doc, str(p))


def doc_rows(doc: Any, source: str) -> tuple[list[dict], int, dict, dict]:
    """(rows, skipped, env, flags) of a parsed pytest-benchmark document read from `source`."""
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise ValueError(
            f"import-benchmark: {source} is not a pytest-benchmark JSON (no 'benchmarks')"
        )
    rows, skipped = [], 0
    for b in doc["benchmarks"]:
        row = _benchmark_row(b, source) if isinstance(b, dict) else None
        if row is None:
            skipped += 1
        else:
            rows.append(row)
    flags = {"source_file": source, "benchmarks": len(doc["benchmarks"])}
    return rows, skipped, _benchmark_env(doc), flags
