"""The results store: one SQLite file of profile rows (`results`), its schema and checks
(`schema`), latency history and noise flags (`history`), and pytest-benchmark import
(`benchmark_import`).

``from stbench.bench.store import ResultsStore`` is the public entry point.

Public names:
    results: KEY_FIELDS SCHEMA_VERSION ResultsStore StoreError default_store_path row_key
"""

from __future__ import annotations

from stbench.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, __doc__)
