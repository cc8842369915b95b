"""The device model: an op trace on ``meta`` (`trace`), simulated peak memory (`memsim`),
the roofline latency bound (`roofline`) over the GPU table (`devices`, `devices.csv`), one
prediction row (`predictor`), stored predictions (`predictions`) and the check of predicted
memory against a real CPU run (`memcheck`)."""

from __future__ import annotations

from stbench.lazy import lazy_package

__all__, __getattr__, __dir__ = lazy_package(
    __name__,
    {
        "predictor": "predict",
        "devices": "get_device",
        "predictions": "predict_sweep",
        "memcheck": "check_memory",
    },
)
