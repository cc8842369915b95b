"""The results store: one SQLite file of profile rows (`results`), its schema and checks
(`schema`), latency history and noise flags (`history`), and pytest-benchmark import
(`benchmark_import`).

``from stbench.bench.store import ResultsStore`` is the public entry point.
"""

from __future__ import annotations

from stbench.lazy import lazy_package

__all__, __getattr__, __dir__ = lazy_package(
    __name__,
    {"results": "KEY_FIELDS SCHEMA_VERSION ResultsStore StoreError default_store_path row_key"},
)
