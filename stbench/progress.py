"""Progress of long work, on stderr: a rich bar on a terminal, occasional plain lines when
stderr is a file or a pipe, nothing for work that ends within `DELAY_S` seconds.

``STBENCH_PROGRESS=off`` turns it off, ``STBENCH_PROGRESS=plain`` asks for plain lines on a
terminal too. Every long command shares this one helper.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import Any, TextIO

ENV = "STBENCH_PROGRESS"
DELAY_S = 2.0  # nothing is shown for work that ends sooner
EVERY_S = 10.0  # plain mode: at most one line per this many seconds


class Progress:
    """One task's progress: `label` names the command, `total` the steps (None: unknown).

    Use as a context manager; `advance` counts a finished step, `describe` says what runs
    now, `print` writes a line that stays.
    """

    def __init__(
        self,
        label: str,
        total: int | None = None,
        *,
        enabled: bool = True,
        stream: TextIO | None = None,
        delay_s: float | None = None,
        every_s: float | None = None,
    ) -> None:
        self.label, self.total, self.done, self.text = label, total, 0, ""
        self.stream = stream or sys.stderr
        setting = os.environ.get(ENV, "").strip().lower()
        self.enabled = enabled and setting not in ("0", "off", "no", "false")
        tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.mode = "rich" if tty and setting != "plain" else "plain"
        self.delay_s = DELAY_S if delay_s is None else delay_s
        self.every_s = EVERY_S if every_s is None else every_s
        self._t0 = self._last = 0.0
        self._shown = False
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._rich: Any = None
        self._job: Any = None

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Progress:
        self._t0 = time.monotonic()
        if self.enabled:
            if self.mode == "rich":
                self._rich = _rich_progress(self.label, self.stream)
                self._job = self._rich.add_task("", total=self.total)
            self._thread = threading.Thread(target=self._watch, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            if self._rich is not None and self._shown:
                self._rich.stop()
            elif self._shown and exc[0] is None:  # plain lines were printed: say it ended
                self._line("finished")

    # ------------------------------------------------------------------ updates
    def advance(self, steps: int = 1, description: str | None = None) -> None:
        """Count `steps` finished steps (and say what runs next)."""
        with self._lock:
            self.done += steps
            if description is not None:
                self.text = description
            if self._rich is not None:
                self._rich.update(self._job, advance=steps, description=self.text)

    def describe(self, description: str) -> None:
        """Say what runs now."""
        with self._lock:
            self.text = description
            if self._rich is not None:
                self._rich.update(self._job, description=description)

    def reset(self, total: int | None, description: str = "") -> None:
        """Start counting again from 0 of `total`."""
        with self._lock:
            self.total, self.done, self.text = total, 0, description
            if self._rich is not None:
                self._rich.reset(self._job, total=total, description=description)

    def print(self, message: str) -> None:
        """A line that stays (above the bar on a terminal)."""
        with self._lock:
            if self._rich is not None and self._shown:
                self._rich.console.print(message, markup=False, highlight=False)
            else:
                print(message, file=self.stream, flush=True)

    # ------------------------------------------------------------------ internals
    def _watch(self) -> None:
        """Show the bar (or the first plain line) after the delay, then plain lines now and
        then; the rich bar refreshes itself."""
        while True:
            now = time.monotonic()
            if now - self._t0 >= self.delay_s:
                with self._lock:
                    if self._rich is not None:
                        if not self._shown:
                            self._rich.start()
                            self._shown = True
                    elif not self._shown or now - self._last >= self.every_s:
                        self._line()
            if self._stop.wait(0.2):
                return

    def _line(self, state: str = "") -> None:
        self._shown, self._last = True, time.monotonic()
        count = f"{self.done}/{self.total}" if self.total is not None else f"{self.done or ''}"
        parts = [f"{self.label}:", count, self.text if not state else state]
        elapsed = f"{self._last - self._t0:.0f} s"
        print(" ".join(p for p in parts if p) + f" ({elapsed})", file=self.stream, flush=True)


def _rich_progress(label: str, stream: TextIO) -> Any:
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        SpinnerColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.progress import (
        Progress as RichProgress,
    )

    return RichProgress(
        SpinnerColumn(),
        TextColumn(f"[bold]{escape(label)}[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}", markup=False),
        console=Console(file=stream),
        transient=False,
    )
