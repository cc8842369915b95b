"""The stbench model zoo: named variants of the four papers as specs over `models/`.

The registry's names load on first use, so that the zoo's torch-free modules (the published
targets, the records) import without torch (the CLI's start-up needs them).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["PAPERS", "ModelSpec", "create_model", "get_spec", "list_models", "list_specs"]


def __getattr__(name: str) -> Any:
    """Import the registry's public names on first access."""
    if name in __all__:
        value = getattr(importlib.import_module("stbench.zoo.registry"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'stbench.zoo' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
