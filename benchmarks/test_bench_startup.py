"""pytest-benchmark: start-up of the `stbench` command (`--help` and `list`), each round one
fresh interpreter. The target is under 1 s of the command's own work on an idle machine;
`list` reads the zoo listing from its cache (one untimed call fills it first)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

COMMANDS = {"help": ["--help"], "list": ["list"]}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_cli_startup(benchmark: Any, name: str, tmp_path: Any) -> None:
    """Wall time of `python -m stbench.cli ARGS` in a new process, output discarded."""
    argv = [sys.executable, "-m", "stbench.cli", *COMMANDS[name]]
    env = {**os.environ, "STBENCH_CACHE_DIR": str(tmp_path), "STBENCH_PROGRESS": "off"}

    def run() -> None:
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL)

    run()  # fills the zoo listing's cache, imports warm in the OS page cache
    benchmark.extra_info["command"] = "stbench " + " ".join(COMMANDS[name])
    benchmark.pedantic(run, rounds=5, iterations=1)
