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


def lazy_exports(
    package: str, doc: str | None
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` for a package whose docstring lists its public
    names after a line ``Public names:``, one ``submodule: name name ...`` line each.

    >>> __getattr__, __dir__, __all__ = lazy_exports(__name__, __doc__)
    """
    _, marker, table = (doc or "").partition("Public names:")
    if not marker:
        raise ValueError(f"{package}: its docstring has no 'Public names:' section")
    homes = {
        name: f"{package}.{module.strip()}"
        for module, _, names in (line.partition(":") for line in table.splitlines() if ":" in line)
        for name in names.split()
    }
    return (*lazy_attributes(package, homes), sorted(homes))
