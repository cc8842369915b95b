"""A named registry: operators and temporal modules are looked up by name through one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from stbench.models.validation import ArgumentError

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries by name; `what` names the argument in the error for an unknown name."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        """Register `entry` under `name`; a name registers once."""
        if name in self._entries:
            raise ValueError(f"{self.what} {name!r} registered twice")
        self._entries[name] = entry
        return entry

    def __getitem__(self, name: str) -> T:
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise ArgumentError(self.what, name, ", ".join(sorted(self._entries))) from None

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._entries))
