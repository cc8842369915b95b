"""stbench: FLOPs and speed-accuracy benchmarking for video action-recognition CNNs.

The package maps the repository's folders to subpackages: ``stbench.models`` (operators,
skeletons, heads), ``stbench.zoo`` (registry, specs, records), ``stbench.bench`` (counting,
timing, memory, store, sweeps), ``stbench.plots`` (frontier, dashboard, tables) and
``stbench.cli`` (the `stbench` command). The names below are loaded on first use, so that
``import stbench`` (and the CLI's start-up) does not import torch.

>>> import stbench
>>> model = stbench.create_model("tsm_resnet50", frames=8)      # doctest: +SKIP
>>> row = stbench.profile("tsm_resnet50", frames=8, size=224)    # doctest: +SKIP
>>> @stbench.register_model(source="mylab2025", citation="unpublished, My Lab")  # doctest: +SKIP
... def my_net(num_classes, frames): ...
"""

from __future__ import annotations

from stbench.lazy import lazy_attributes

__version__ = "0.1.0"

_LAZY = {
    "create_model": "stbench.zoo",
    "list_models": "stbench.zoo",
    "get_spec": "stbench.zoo",
    "register_model": "stbench.zoo",
    "load_module": "stbench.zoo",
    "is_registered": "stbench.zoo",
    "profile": "stbench.bench",
    "register_profiler": "stbench.bench.sweep",
    "register_op_handle": "stbench.bench.count.handles",
}

__all__ = ["__version__", *_LAZY]
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
