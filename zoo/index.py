"""A torch-free listing of the zoo (what `stbench list` shows), cached per version of the
zoo's and the models' sources: rebuilt from the live registry whenever they change, and
not used when models come from --module or installed packages (entry points).

The cache lives in ``$STBENCH_CACHE_DIR`` (default ``$XDG_CACHE_HOME/stbench`` or
``~/.cache/stbench``); when it cannot be written the listing is simply built each time.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from stbench.output import write_atomic

SOURCE_DIRS = (Path(__file__).resolve().parent, Path(__file__).resolve().parent.parent / "models")
if not SOURCE_DIRS[1].is_dir():  # installed layout: stbench/zoo next to stbench/models
    SOURCE_DIRS = (SOURCE_DIRS[0], SOURCE_DIRS[0].parent / "models")


def spec_row(spec: Any) -> dict[str, Any]:
    """One spec's display fields (read from its architecture) as plain values."""
    from stbench.zoo.registry import citation

    return {
        "model": spec.name,
        "family": spec.family,
        "paper": spec.paper,
        "paper_title": citation(spec.paper),
        "backbone": spec.backbone,
        "stem": spec.stem,
        "operators": list(spec.operators),
        "temporal_pool": spec.temporal_pool,
        "gst_alpha": spec.gst_alpha,
        "gst_beta": spec.gst_beta,
        "frames": spec.default_frames,
        "size": spec.default_size,
        "classes": spec.default_classes,
    }


def _digest() -> str:
    h = hashlib.sha256(sys.version.encode())
    for folder in SOURCE_DIRS:
        for path in sorted(folder.rglob("*.py")):
            h.update(str(path.relative_to(folder)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    """Where the listing is cached."""
    if os.environ.get("STBENCH_CACHE_DIR"):
        return Path(os.environ["STBENCH_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "stbench"


def zoo_rows(live: bool = False) -> list[dict[str, Any]]:
    """Every registered model's `spec_row`, sorted by name: from the cache when it matches
    the sources (no torch import), else (or with `live`) from the registry."""
    if live or "stbench.zoo.specs" in sys.modules or _installed_plugins():
        return _live()  # the registry is loaded already, or packages add models: use it
    path = cache_dir() / f"zoo-{_digest()}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    rows = _live()
    try:
        write_atomic(path, json.dumps(rows), option="cache")
    except ValueError:
        pass  # an unwritable cache only costs the next call the same time
    return rows


def _installed_plugins() -> bool:
    """Whether an installed package declares models (group ``stbench.models``)."""
    import importlib.metadata

    from stbench.zoo.plugins import ENTRY_POINT_GROUP

    return bool(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def _live() -> list[dict[str, Any]]:
    from stbench.zoo.registry import list_specs

    return [spec_row(s) for s in list_specs()]
