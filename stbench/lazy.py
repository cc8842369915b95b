"""Module attributes imported on first access (PEP 562), so that importing a package does
not import torch until one of its heavy names is used."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(
    module: str, homes: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for `module`: each name of `homes` is imported from the
    module it maps to on first access and then kept as a plain attribute.

    >>> __getattr__, __dir__ = lazy_attributes(__name__, {"create_model": "stbench.zoo.registry"})
    """

    def getattr_(name: str) -> Any:
        if name not in homes:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(homes[name]), name)
        setattr(sys.modules[module], name, value)
        return value

    def dir_() -> list[str]:
        return sorted({*homes, *vars(sys.modules[module])})

    return getattr_, dir_


def lazy_package(
    package: str, modules: Mapping[str, str]
) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``(__all__, __getattr__, __dir__)`` of a package whose public names live in its
    modules: `modules` maps a module (relative to `package`) to its names, space-separated.

    >>> __all__, __getattr__, __dir__ = lazy_package(__name__, {"registry": "create_model get_spec"})
    """
    homes = {name: f"{package}.{mod}" for mod, names in modules.items() for name in names.split()}
    return sorted(homes), *lazy_attributes(package, homes)
