"""The stbench model zoo: named variants of the four papers as specs over `models/`, and
models registered from outside (`register_model`, `--module`, the `stbench.models` entry points).

The registry's names load on first use, so that the zoo's torch-free modules (the published
targets, the records) import without torch (the CLI's start-up needs them).
"""

from __future__ import annotations

from stbench.lazy import lazy_attributes

_HOMES = {
    "PAPERS": "stbench.zoo.registry",
    "ModelSpec": "stbench.zoo.registry",
    "create_model": "stbench.zoo.registry",
    "get_spec": "stbench.zoo.registry",
    "is_registered": "stbench.zoo.registry",
    "list_models": "stbench.zoo.registry",
    "list_specs": "stbench.zoo.registry",
    "register_model": "stbench.zoo.registry",
    "load_module": "stbench.zoo.plugins",
}
__all__ = sorted(_HOMES)
__getattr__, __dir__ = lazy_attributes(__name__, _HOMES)
