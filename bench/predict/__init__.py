"""The device model: an op trace on ``meta`` (`trace`), simulated peak memory (`memsim`),
the roofline latency bound (`roofline`) over the GPU table (`devices`, `devices.csv`), one
prediction row (`predictor`), stored predictions (`predictions`) and the check of predicted
memory against a real CPU run (`memcheck`)."""

from __future__ import annotations

from stbench.lazy import lazy_attributes

_HOMES = {
    "predict": "stbench.bench.predict.predictor",
    "get_device": "stbench.bench.predict.devices",
    "predict_sweep": "stbench.bench.predict.predictions",
    "check_memory": "stbench.bench.predict.memcheck",
}
__all__ = sorted(_HOMES)
__getattr__, __dir__ = lazy_attributes(__name__, _HOMES)
