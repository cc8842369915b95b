"""Measuring on a real device: latency and throughput (`timing`), peak memory (`memory`),
out-of-memory as a result (`fit`), the profiling pipeline (`profiler`) and one model timed
under pytest-benchmark (`benchmark_run`)."""

from __future__ import annotations

from stbench.lazy import lazy_package

__all__, __getattr__, __dir__ = lazy_package(
    __name__,
    {
        "profiler": "profile run_profile",
        "timing": "measure_latency measure_throughput",
        "fit": "OutOfMemory",
        "benchmark_run": "benchmark_model",
    },
)
