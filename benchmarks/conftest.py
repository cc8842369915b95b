"""The zoo's pytest-benchmark suites run on stbench's pytest plugin (`stbench.bench.pytest_plugin`).

Installing stbench registers the plugin (entry point ``pytest11``): the ``--bench-*``
options, ``--stbench-store``, the ``stbench_bench`` fixture and stbench's run metadata in
``machine_info`` come from there, exactly as in a user's own suite.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to run without the plugin, in one line."""
    if not config.pluginmanager.hasplugin("stbench"):
        raise pytest.UsageError(
            "bench/: stbench's pytest plugin is not loaded; allowed: an installed stbench "
            "(pip install -e .) without PYTEST_DISABLE_PLUGIN_AUTOLOAD or -p no:stbench"
        )
