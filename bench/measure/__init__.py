"""Measuring on a real device: latency and throughput (`timing`), peak memory (`memory`),
out-of-memory as a result (`fit`), the profiling pipeline (`profiler`) and one model timed
under pytest-benchmark (`benchmark_run`)."""

from __future__ import annotations

from stbench.lazy import lazy_attributes

_HOMES = {
    "profile": "stbench.bench.measure.profiler",
    "run_profile": "stbench.bench.measure.profiler",
    "measure_latency": "stbench.bench.measure.timing",
    "measure_throughput": "stbench.bench.measure.timing",
    "OutOfMemory": "stbench.bench.measure.fit",
    "benchmark_model": "stbench.bench.measure.benchmark_run",
}
__all__ = sorted(_HOMES)
__getattr__, __dir__ = lazy_attributes(__name__, _HOMES)
