"""Counting, measuring, predicting, the results store and sweeps, one sub-package each:
`count`, `measure`, `predict`, `store`, `sweep`; the profile configuration (`config`), run
metadata (`environment`), profiles x records (`join`) and the pytest plugin
(`pytest_plugin`) sit here.

``from stbench.bench import profile`` gives the profiling function (defined in
``stbench.bench.measure.profiler``). It is loaded on first use, so that the store and the
other light modules import without torch.
"""

from __future__ import annotations

from stbench.lazy import lazy_attributes

__all__ = ["profile"]
__getattr__, __dir__ = lazy_attributes(__name__, {"profile": "stbench.bench.measure.profiler"})
