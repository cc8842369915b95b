"""Shared test setup: no progress lines on stderr unless a test asks for them (tests that
check stderr must not depend on how fast this machine is)."""

import pytest


@pytest.fixture(autouse=True)
def _no_progress(monkeypatch):
    monkeypatch.setenv("STBENCH_PROGRESS", "off")
