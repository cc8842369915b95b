"""pytest-benchmark: forward latency of zoo models, through stbench's pytest plugin.

``stbench_zoo_model`` runs over the models ``--bench-models`` selects and ``stbench_bench``
times each at the ``--bench-*`` input, device and dtype with stbench's protocol (see
``stbench.bench.measure.benchmark_run``); ``extra_info`` carries the store key, params, MACs
(per clip, meta counter), FLOPs and the device, so ``--stbench-store PATH`` (or
``stbench import-benchmark out.json``) stores each benchmark as a profile row.
"""

from __future__ import annotations

from typing import Any


def test_forward_latency(stbench_bench: Any, stbench_zoo_model: str, benchmark: Any) -> None:
    """Latency of one forward of the zoo model at the configured input."""
    out = stbench_bench(stbench_zoo_model)
    info = benchmark.extra_info
    assert tuple(out.shape) == (info["batch"], info["num_classes"])
