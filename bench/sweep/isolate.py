"""Run one sweep task in this process and print its row as one marked JSON line.

Usage: ``python -m stbench.bench.sweep.isolate '<task JSON>'`` or with the task JSON on stdin. The
parent (`bench.sweep.tasks.run_isolated`) reads the line starting with the result marker, so
anything else the model prints on stdout is ignored. Exit code 0 whenever a row (ok or
failed) was printed; 130 on Ctrl-C (no row: the task is not done).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence

from stbench.bench.sweep.tasks import RESULT_MARKER, Task, failure_row, run_task


def main(argv: Sequence[str] | None = None) -> int:
    """Read one task (argument or stdin), run it, print the marked result line."""
    args = list(sys.argv[1:] if argv is None else argv)
    text = args[0] if args else sys.stdin.read()
    try:
        task = Task.from_json(text)
    except ValueError as exc:
        print(f"stbench.bench.sweep.isolate: error: {exc}", file=sys.stderr)
        return 2
    try:
        row = run_task(task)
    except KeyboardInterrupt:
        return 130
    except BaseException as exc:  # noqa: BLE001 - SystemExit etc. from model code
        row = failure_row(task, f"{type(exc).__name__}: {exc}", error_type=type(exc).__name__)
    sys.stdout.write(RESULT_MARKER + json.dumps(row, default=str) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
