"""Counting: params and MACs on the ``meta`` device (`counting`), the one cached static
count (`static`), cross-checks against other counters (`crosscheck`), what MACs leave out
(`macs_scope`) and the reproduction report against published figures (`reproduce`).

Public names:
    counting: static_count StaticCount
    static: count_static count_many
    crosscheck: cross_check
    macs_scope: matmul_share
"""

from __future__ import annotations

from stbench.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, __doc__)
