"""Counting, timing, memory, sweeps, the results store and the CLI.

``from bench import profile`` gives the profiling function (the module stays importable
as ``from bench.profile import ...``).
"""

from bench.profile import profile

__all__ = ["profile"]
