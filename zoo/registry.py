"""The model registry: one spec per zoo name, `create_model` and `list_models`."""

from __future__ import annotations

import contextlib
import difflib
import fnmatch
import functools
import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any

from stbench.zoo import (
    plugins,
    specs,  # noqa: F401  (importing declares every spec)
)
from stbench.zoo.papers import PAPERS
from stbench.zoo.spec import DECLARED, BuilderPlan, ModelSpec, builder_plan, user_plan
from stbench.zoo.usercode import user_code
from torch import nn

from stbench.values import positive_int

_REGISTRY: dict[str, ModelSpec] = {}
_USER_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
SOURCES: dict[str, str] = {}  # a user model's source key -> its citation (see register_model)
__all__ = [
    "PAPERS",
    "SOURCES",
    "BuilderPlan",
    "ModelSpec",
    "builder_plan",
    "citation",
    "create_model",
    "get_spec",
    "is_registered",
    "list_models",
    "list_specs",
    "register",
    "register_model",
]


def register(spec: ModelSpec) -> ModelSpec:
    """Add one spec to the registry; names are unique and lowercase."""
    if spec.name != spec.name.lower():
        raise ValueError(f"name: got {spec.name!r}; allowed: a lowercase name")
    if spec.name in _REGISTRY:
        raise ValueError(f"model name {spec.name!r} is registered twice")
    if spec.paper not in PAPERS and spec.paper not in SOURCES:
        known = sorted(PAPERS) + sorted(SOURCES)
        raise ValueError(f"spec {spec.name!r}: unknown paper {spec.paper!r}; known: {known}")
    spec.summary  # noqa: B018  (plans the architecture: a bad spec fails at import)
    _REGISTRY[spec.name] = spec
    return spec


def citation(paper: str) -> str:
    """The citation of a zoo paper key or a registered user source key."""
    try:
        return PAPERS.get(paper) or SOURCES[paper]
    except KeyError:
        raise ValueError(
            f"paper: got {paper!r}; allowed: {', '.join(sorted(PAPERS) + sorted(SOURCES))}"
        ) from None


def is_user_model(name: str) -> bool:
    """Whether `name` is a registered model of a user (not one of the zoo's papers)."""
    spec = _REGISTRY.get(name)
    return spec is not None and spec.paper not in PAPERS


def model_code(
    name: str, phase: str, *, passing: tuple[type[BaseException], ...] = ()
) -> contextlib.AbstractContextManager[None]:
    """`user_code` around a phase of model `name` when it is a user's model; else nothing."""
    if is_user_model(name):
        return user_code(f"model {name}", phase, passing=passing)
    return contextlib.nullcontext()


def check_builder(fn: Callable[..., Any], kwargs: Mapping[str, Any]) -> None:
    """A builder must take num_classes= and frames= (and the registered kwargs)."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # no signature to read (a builtin): checked when called
        return
    try:
        signature.bind(num_classes=1, frames=1, **kwargs)
    except TypeError as exc:
        name = getattr(fn, "__name__", "builder")
        raise ValueError(
            f"builder: got {name}{signature} ({exc}); allowed: a function taking "
            "num_classes= and frames= (and your registered kwargs)"
        ) from None


def register_model(
    builder: Callable[..., nn.Module] | None = None,
    *,
    source: str,
    citation: str,
    name: str | None = None,
    family: str | None = None,
    backbone: str = "custom",
    operators: tuple[str, ...] = ("custom",),
    frames: int = 8,
    size: int = 224,
    classes: int = 400,
    description: str = "",
    **kwargs: Any,
) -> Any:
    """Register a model from outside the zoo; a decorator, or a call with the builder.

    `builder(num_classes=, frames=, **kwargs)` returns an ``nn.Module`` taking
    ``(B, 3, T, H, W)``. `source` is your paper/lab key (not one of the zoo's papers) and
    `citation` says where the model comes from; `name` defaults to the builder's name,
    `family` to the name. The model then works everywhere a zoo name does.
    """

    plugins.check_source(source, citation)
    if SOURCES.get(source, citation) != citation:
        raise ValueError(
            f"citation: got {citation!r} for source {source!r}; allowed: the citation it "
            f"was registered with ({SOURCES[source]!r})"
        )

    def add(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if not callable(fn):
            raise ValueError(f"builder: got {fn!r}; allowed: a function returning an nn.Module")
        check_builder(fn, kwargs)
        model = (name or getattr(fn, "__name__", "")).lower()
        if not _USER_NAME.match(model):
            raise ValueError(
                f"name: got {model!r}; allowed: ASCII letters a-z (any case), digits 0-9 and "
                "_ . - (starting with a letter or digit)"
            )
        _ensure_loaded()  # a user name must not shadow a zoo name
        SOURCES.setdefault(source, citation)
        spec = ModelSpec(
            model,
            family or model,
            source,
            backbone,
            functools.partial(user_plan, model, fn, tuple(operators)),
            kwargs,
            frames,
            size,
            classes,
            citation,
            description,
        )
        register(spec)
        plugins.note_origin(model, fn)
        return fn

    return add if builder is None else add(builder)


def is_registered(name: str) -> bool:
    """True when `name` is a zoo model or a registered user model (entry points included)."""
    _ensure_loaded()
    return (name.lower() if isinstance(name, str) else name) in _REGISTRY


_loaded = False


def _ensure_loaded() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True

    for spec in DECLARED:
        if spec.name not in _REGISTRY:
            register(spec)
    plugins.load_entry_points()


def get_spec(name: str) -> ModelSpec:
    """Return the spec of a registered model, or raise naming the closest names."""
    _ensure_loaded()
    try:
        return _REGISTRY[name.lower() if isinstance(name, str) else name]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(name.lower(), list(_REGISTRY), n=5, cutoff=0.5)
        hint = f"; closest registered names: {', '.join(close)}" if close else ""
        raise ValueError(
            f"model: unknown model name {name!r}{hint} (see `stbench list` for all names; "
            "your own models: --module FILE.py)"
        ) from None


def list_models(pattern: str = "*") -> list[str]:
    """Sorted registered names matching a shell-style pattern (case-insensitive)."""
    _ensure_loaded()
    pat = pattern.lower()
    return sorted(n for n in _REGISTRY if fnmatch.fnmatchcase(n, pat))


def list_specs(pattern: str = "*") -> list[ModelSpec]:
    """Specs of every registered model matching `pattern`, sorted by name."""
    return [_REGISTRY[n] for n in list_models(pattern)]


def create_model(
    name: str,
    num_classes: int | None = None,
    frames: int | None = None,
    **overrides: Any,
) -> nn.Module:
    """Build a zoo model by name; defaults come from its spec."""
    spec = get_spec(name)
    num_classes = spec.default_classes if num_classes is None else num_classes
    frames = spec.default_frames if frames is None else frames
    num_classes = positive_int("num_classes", num_classes)
    frames = positive_int("frames", frames)
    return spec.build(num_classes=num_classes, frames=frames, **overrides)
