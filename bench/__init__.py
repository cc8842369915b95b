"""Counting, timing, memory, sweeps and the results store.

``from stbench.bench import profile`` gives the profiling function (the module stays importable
as ``from stbench.bench.profile import ...``).
"""

from stbench.bench.profile import profile

__all__ = ["profile"]
