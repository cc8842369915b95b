"""Counting: params and MACs on the ``meta`` device (`counting`) through the op-handle
table (`handles`: which aten op counts how; `register_op_handle`), the one cached static
count (`static`), cross-checks against other counters (`crosscheck`), what MACs leave out
(`macs_scope`) and the reproduction report against published figures (`reproduce`)."""

from __future__ import annotations

from stbench.lazy import lazy_attributes

_HOMES = {
    "static_count": "stbench.bench.count.counting",
    "StaticCount": "stbench.bench.count.counting",
    "count_static": "stbench.bench.count.static",
    "cross_check": "stbench.bench.count.crosscheck",
    "register_op_handle": "stbench.bench.count.handles",
    "matmul_share": "stbench.bench.count.macs_scope",
}
__all__ = sorted(_HOMES)
__getattr__, __dir__ = lazy_attributes(__name__, _HOMES)
