"""Counting: params and MACs on the ``meta`` device (`counting`) through the op-handle
table (`handles`: which aten op counts how; `register_op_handle`), the one cached static
count (`static`), cross-checks against other counters (`crosscheck`), what MACs leave out
(`macs_scope`) and the reproduction report against published figures (`reproduce`)."""

from __future__ import annotations

from stbench.lazy import lazy_package

__all__, __getattr__, __dir__ = lazy_package(
    __name__,
    {
        "counting": "static_count StaticCount",
        "static": "count_static",
        "crosscheck": "cross_check",
        "handles": "register_op_handle",
        "macs_scope": "matmul_share",
    },
)
