"""Models from outside the zoo: `register_model`, `--module` files or packages, and the
`stbench.models` entry-point group.

A user's model goes into the same registry as the zoo's, so counting, timing, the store,
the join and the dashboard treat it like any zoo model. Worker processes (the spawn pool
of static counts and predictions, isolated sweep tasks, Ray workers) learn a user model
from the module that registered it: `model_modules(name)` names it, `load_modules` imports
it again there. A file is imported under a stable name (never as ``__main__``), so the
user's file needs no ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import importlib.util
import re
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from stbench.zoo.papers import PAPERS
from stbench.zoo.usercode import user_code

from stbench.errors import UserError
from stbench.output import reads

ENTRY_POINT_GROUP = "stbench.models"
MAIN = "__main__"  # origin of a model registered by a script: no module to import elsewhere
_SOURCE_KEY = re.compile(r"^[a-z][a-z0-9_.-]*$")

_loaded: dict[str, str] = {}  # module spec (absolute .py path or dotted name) -> sys.modules name
_origin: dict[str, str] = {}  # user model name -> the module spec that registers it
_loading: list[str | None] = []  # spec being imported now (None: an entry point)
_entry_points_loaded = False


def _is_file_spec(spec: str) -> bool:
    return spec.endswith(".py") or "/" in spec or "\\" in spec


def module_name(path: Path) -> str:
    """The stable `sys.modules` name a user file is imported under (the same in every process)."""
    stem = re.sub(r"\W", "_", path.stem)
    return f"stbench_user_{stem}_{zlib.crc32(str(path).encode()):08x}"


@contextlib.contextmanager
def _registering(spec: str | None) -> Iterator[None]:
    _loading.append(spec)
    try:
        yield
    finally:
        _loading.pop()


def load_module(spec: str) -> str:
    """Import a module that registers models: a ``.py`` file or a dotted module name.

    Returns the spec that imports it again in another process (the file's absolute path,
    or the dotted name). Loading the same module twice does nothing the second time.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise UserError(f"module: got {spec!r}; allowed: a .py file or a module name")
    spec = spec.strip()
    if _is_file_spec(spec):
        path = Path(spec).expanduser().resolve()
        if not path.is_file():
            raise UserError(f"module: got {spec!r}; allowed: an existing .py file (not found)")
        canonical = str(path)
        reads(path, "--module")
    else:
        canonical = spec
    if canonical in _loaded:
        return canonical
    # the user's code, in the box: one line naming the module, sys.exit included
    with _registering(canonical), user_code(f"--module {spec}", "import"):
        name = _import_file(Path(canonical)) if _is_file_spec(spec) else _import_name(spec)
    _loaded[canonical] = name
    return canonical


def _import_file(path: Path) -> str:
    name = module_name(path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise UserError(f"module: got {str(path)!r}; allowed: a Python source file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return name


def _import_name(name: str) -> str:
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise UserError(
                f"module: got {name!r}; allowed: a .py file or an importable module name "
                f"(no module named {exc.name!r})"
            ) from None
        raise
    return name


def load_modules(specs: Iterable[str]) -> tuple[str, ...]:
    """`load_module` each spec in order; returns their canonical specs."""
    return tuple(load_module(s) for s in specs)


def loaded_modules() -> tuple[str, ...]:
    """The canonical specs of every module `load_module` imported in this process."""
    return tuple(_loaded)


def load_entry_points() -> None:
    """Load every ``stbench.models`` entry point once: a module (importing it registers) or a
    function (called with no arguments). A failing entry point is one line on stderr."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            with _registering(None), user_code(f"entry point {ep.name!r} ({ep.value})", "import"):
                obj = ep.load()
                if callable(obj):
                    obj()
        except UserError as exc:  # one broken plugin must not stop every command
            print(f"stbench: warning: {exc} (group {ENTRY_POINT_GROUP}; ignored)", file=sys.stderr)


def registering_module(fn: Callable[..., Any]) -> str | None:
    """The module spec a worker imports to register `fn` too (None: an entry point)."""
    if _loading:
        return _loading[-1]
    module = getattr(fn, "__module__", None) or MAIN
    return MAIN if module in (MAIN, "__mp_main__") else module


def note_origin(name: str, builder: Callable[..., Any]) -> None:
    """Remember which module registers the user model `name` (see `model_modules`)."""
    origin = registering_module(builder)
    if origin is not None:
        _origin[name] = origin


def model_modules(name: str) -> tuple[str, ...]:
    """The module specs a worker process imports so that `name` is registered there: () for a
    zoo or entry-point model, and for one registered by a script (see `runs_here_only`)."""
    origin = _origin.get(name)
    return () if origin in (None, MAIN) else (origin,)


def script_model_error(name: str) -> str:
    """Why a model registered by a script (``__main__``) cannot run in another process."""
    return (
        f"model {name!r} was registered by a script (__main__), which another process "
        "cannot import; move register_model into a module and load it with --module "
        "FILE.py or stbench.load_module"
    )


def carried_modules(names: Iterable[str] | None = None) -> tuple[str, ...]:
    """The module specs of the user models `names` (None: every user model), each once."""
    names = list(_origin) if names is None else names
    return tuple(dict.fromkeys(m for n in names for m in model_modules(n)))


def runs_here_only(names: Iterable[str]) -> bool:
    """True when one of `names` was registered by ``__main__``: work on it stays in this process."""
    return any(_origin.get(n) == MAIN for n in names)


def check_source(source: str, citation: str) -> None:
    """A user source key must be new to the zoo's papers, lowercase, and carry a citation."""
    if not isinstance(source, str) or not _SOURCE_KEY.match(source):
        raise ValueError(
            f"source: got {source!r}; allowed: a lowercase key such as 'mylab2025' "
            "(letters, digits, _ . -)"
        )
    if source in PAPERS:
        raise ValueError(
            f"source: got {source!r}; allowed: a key that is not one of the zoo's papers "
            f"({', '.join(sorted(PAPERS))})"
        )
    if not isinstance(citation, str) or not citation.strip():
        raise ValueError(
            f"citation: got {citation!r}; allowed: a non-empty string naming where the model "
            "comes from (paper, repository, or 'unpublished, <who>')"
        )
