"""The stbench model zoo: named variants of the four papers as specs over `models/`, and
models registered from outside (`register_model`, `--module`, the `stbench.models` entry points).

The registry's names load on first use, so that the zoo's torch-free modules (the published
targets, the records) import without torch (the CLI's start-up needs them).
"""

from __future__ import annotations

from stbench.lazy import lazy_package

__all__, __getattr__, __dir__ = lazy_package(
    __name__,
    {
        "registry": "PAPERS ModelSpec create_model get_spec is_registered list_models list_specs register_model",
        "plugins": "load_module",
    },
)
