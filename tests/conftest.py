"""Shared test setup: no progress lines on stderr unless a test asks for them (tests that
check stderr must not depend on how fast this machine is), and a registry a test may add to."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The benchmark suites' plain baselines (benchmarks/baselines.py) are the slow references
# some tests compare against; benchmarks/ is not part of the installed package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


@pytest.fixture
def clean_registry(monkeypatch):
    """Models, sources and modules a test registers or loads are gone afterwards."""
    from stbench.zoo import plugins, registry

    registry._ensure_loaded()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "SOURCES", dict(registry.SOURCES))
    monkeypatch.setattr(plugins, "_origin", dict(plugins._origin))
    monkeypatch.setattr(plugins, "_loaded", dict(plugins._loaded))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("stbench_user_"):
            del sys.modules[name]


@pytest.fixture(autouse=True, scope="session")
def _small_gemm_probe(tmp_path_factory):
    """Timed profiles probe a small GEMM, cached for the session outside the home folder."""
    mp = pytest.MonkeyPatch()
    mp.setenv("STBENCH_CACHE_DIR", str(tmp_path_factory.mktemp("stbench_cache")))
    mp.setenv("STBENCH_GEMM_N", "256")
    yield
    mp.undo()


@pytest.fixture(autouse=True)
def _no_progress(monkeypatch):
    monkeypatch.setenv("STBENCH_PROGRESS", "off")
