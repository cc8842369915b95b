"""The stbench model zoo: named variants of the four papers as specs over `models/`, and
models registered from outside (`register_model`, `--module`, the `stbench.models` entry points)."""

from stbench.zoo.plugins import load_module
from stbench.zoo.registry import (
    PAPERS,
    ModelSpec,
    create_model,
    get_spec,
    is_registered,
    list_models,
    list_specs,
    register_model,
)

__all__ = [
    "PAPERS",
    "ModelSpec",
    "create_model",
    "get_spec",
    "is_registered",
    "list_models",
    "list_specs",
    "load_module",
    "register_model",
]
