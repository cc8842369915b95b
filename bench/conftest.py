"""The zoo's pytest-benchmark suites run on stbench's pytest plugin (`stbench.bench.pytest_plugin`).

Installing stbench registers the plugin (entry point ``pytest11``): the ``--bench-*``
options, ``--stbench-store`` and the ``stbench_bench`` fixture come from there, exactly as
in a user's own suite. Here it also adds stbench's run metadata to ``machine_info`` for the
suites that time with ``benchmark`` directly.
"""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to run without the plugin (one line), else ask for the run metadata."""
    plugin = config.pluginmanager.get_plugin("stbench")
    if plugin is None:
        raise pytest.UsageError(
            "bench/: stbench's pytest plugin is not loaded; allowed: an installed stbench "
            "(pip install -e .) without PYTEST_DISABLE_PLUGIN_AUTOLOAD or -p no:stbench"
        )
    plugin.use_environment(config)
