"""One check per kind of value (counts, sizes, seconds, paths, stores, record numbers).

Every command and every layer checks a value of one kind with the one function here, so a
value means the same everywhere and is refused with the same words:
``field: got V; allowed: Y`` (`FieldError`, a ValueError). Errors name the *field*
(``frames``, ``timeout_s``, ``store``); only the CLI maps a field to the flag the user
typed. Numbers are finite and fit SQLite's 64-bit INTEGER; text is read as plain ASCII
digits (Python's ``int()`` would also take ``7_5`` or non-Latin digits). Nothing here
imports torch or pandas.
"""

from __future__ import annotations

import math
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import Any

INT64_MAX = 2**63 - 1  # SQLite INTEGER is a signed 64-bit integer
# The largest value of each input dimension stbench accepts (far above any paper's clip).
LIMITS = {
    "frames": 4096,
    "size": 8192,
    "batch": 65536,
    "num_classes": 1_000_000,
    "throughput_batch": 65536,
    "threads": 4096,
    "jobs": 1024,
}
_INT = re.compile(r"\+?[0-9]+", re.ASCII)
_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?", re.ASCII)


class FieldError(ValueError):
    """A value refused, worded ``field: got V; allowed: Y`` (one line)."""

    def __init__(self, field: str, value: Any, allowed: str, *, shown: str | None = None) -> None:
        if shown is None and isinstance(value, str) and _NUMBER.fullmatch(value):
            shown = value  # a number typed as text reads as the number: `frames: got 0`
        if shown is None:
            shown = repr(
                value[:77] + "..." if isinstance(value, str) and len(value) > 80 else value
            )
        super().__init__(f"{field}: got {shown}; allowed: {allowed}")
        self.field, self.value, self.allowed = field, value, allowed


def integer(field: str, value: Any, *, low: int = 1, high: int | None = None) -> int:
    """`value` (an int, or text of plain ASCII digits) if `low <= value <= high`."""
    high = LIMITS.get(field, INT64_MAX) if high is None else high
    allowed, given = f"an integer >= {low}", value  # errors show the value as given
    if isinstance(value, str):
        text = value.strip()
        if not _INT.fullmatch(text):
            raise FieldError(field, given, allowed)
        value = int(text)
    elif isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(field, given, allowed)
    if value < low:
        raise FieldError(field, given, allowed)
    if value > high:
        raise FieldError(field, given, f"an integer from {low} to {high}")
    return value


def positive_int(field: str, value: Any) -> int:
    """`value` if it is an integer >= 1 within the field's limit (`LIMITS`, else int64)."""
    return integer(field, value, low=1)


def positive_ints(
    field: str, values: Iterable[Any] | None, each: str | None = None
) -> list[int] | None:
    """Every value of a list checked as `positive_int` (None stays None; empty is refused).
    `each`: the field whose limit applies to each value (default: `field`)."""
    if values is None:
        return None
    out = list(values)
    if not out:
        raise FieldError(field, out, "one or more integers >= 1")
    try:
        return [integer(each or field, v) for v in out]
    except FieldError as exc:
        raise FieldError(field, exc.value, exc.allowed) from None


def number(
    field: str,
    value: Any,
    *,
    low: float = 0.0,
    high: float = math.inf,
    strict: bool = True,
    what: str | None = None,
) -> float:
    """`value` (a number, or plain ASCII decimal text) if finite and in range: above `low`
    (or equal, with `strict=False`) and at most `high`."""
    bound = f"> {low:g}" if strict else f">= {low:g}"
    allowed = what or (
        f"a finite number {bound}" if high == math.inf else f"a number from {low:g} to {high:g}"
    )
    given = value  # errors show the value as given
    if isinstance(value, str):
        text = value.strip()
        if not _NUMBER.fullmatch(text):
            raise FieldError(field, given, allowed)
        value = float(text)
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FieldError(field, given, allowed)
    value = float(value)
    if not math.isfinite(value) or value < low or (strict and value == low) or value > high:
        raise FieldError(field, given, allowed)
    return value


def positive_number(field: str, value: Any) -> float:
    """`value` if it is a finite number > 0 (seconds, rates)."""
    return number(field, value, low=0.0, strict=True)


def fits_int64(field: str, value: Any) -> Any:
    """`value` unless it is an int SQLite's INTEGER cannot hold."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > INT64_MAX:
        digits = len(str(abs(value)))
        raise FieldError(field, value, "below 2**63", shown=f"a number of {digits} digits")
    return value


def _kind(mode: int) -> str:
    for test, word in (
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a directory"),
    ):
        if test(mode):
            return word
    return "not a regular file"


def _text_path(field: str, value: Any, allowed: str) -> str:
    text = os.fspath(value) if isinstance(value, os.PathLike) else value
    if not isinstance(text, str) or not text.strip() or "\0" in text:
        raise FieldError(field, value, allowed)
    return text


def input_file(field: str, value: Any) -> Path:
    """A file stbench reads: it exists and is a regular file (no device, pipe or folder)."""
    path = Path(_text_path(field, value, "an existing file"))
    try:
        mode = path.stat().st_mode
    except OSError:
        raise FieldError(field, str(path), "an existing file (not found)") from None
    if not stat.S_ISREG(mode):
        raise FieldError(field, str(path), f"a regular file (this is {_kind(mode)})")
    return path


def store_path(value: Any, field: str = "store", *, must_exist: bool = False) -> Path:
    """A results store's path: a file name (not empty, not ending in `/`), a regular file if
    it exists (never a device such as /dev/null, a pipe or a folder); `must_exist`: for
    commands that only read it."""
    text = _text_path(field, value, "a store file path")
    if text.endswith(("/", os.sep)):
        raise FieldError(field, text, "a store file path (this ends in '/')")
    path = Path(text)
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):  # creating it will say what is wrong
        if must_exist:
            raise FieldError(field, text, "an existing store (not found)") from None
        return path
    except OSError as exc:
        raise FieldError(field, text, f"a readable path ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        raise FieldError(field, text, f"a regular file (this is {_kind(mode)})")
    return path
