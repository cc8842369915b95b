"""The package layout: one `stbench` namespace, arrows cli -> plots -> bench -> zoo -> models;
inside `bench`, arrows between its units; no import cycle anywhere."""

from __future__ import annotations

import ast
import importlib
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# folder -> subpackage it installs as, bottom layer first
LAYERS = {"models": "models", "zoo": "zoo", "bench": "bench", "plots": "plots", "cli": "cli"}
ORDER = list(LAYERS)
# bench's units, bottom first: a module imports only from its own unit or units before it
# (function-level imports included). `environment`, `join` and `probes` import nothing from
# bench; `probes` (the one GEMM probe) sits below both `predict` (the probed CPU device row)
# and `measure` (the GEMM rate of a timed row); `predict` (the device model) sits below
# `measure`, whose fit check asks it for a peak.
BENCH_ORDER = [
    "environment",
    "join",
    "probes",
    "store",
    "config",
    "count",
    "predict",
    "measure",
    "sweep",
    "pytest_plugin",
]
FOLDERS = [*ORDER, "stbench"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def _sources(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize("cwd", ["/tmp"])
def test_only_stbench_is_importable_at_top_level(cwd):
    probe = (
        "import importlib.util as u, stbench, stbench.cli, stbench.models, stbench.zoo, "
        "stbench.bench, stbench.plots\n"
        "print([n for n in ('models', 'zoo', 'bench', 'plots', 'cli') if u.find_spec(n)])"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_import_stbench_does_not_import_torch():
    probe = "import sys, stbench, stbench.cli; print('torch' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd="/tmp", capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("folder", [*ORDER, "tests", "stbench"])
def test_no_module_imports_a_bare_top_level_folder(folder):
    bad = []
    for path in _sources(folder):
        for name in _imports(path):
            if name.split(".")[0] in LAYERS:
                bad.append(f"{path.relative_to(ROOT)}: {name}")
    assert bad == []


@pytest.mark.parametrize("folder", ORDER[:-1])
def test_arrows_point_one_way(folder):
    above = {f"stbench.{LAYERS[f]}" for f in ORDER[ORDER.index(folder) + 1 :]}
    bad = []
    for path in _sources(folder):
        for name in _imports(path):
            if any(name == a or name.startswith(a + ".") for a in above):
                bad.append(f"{path.relative_to(ROOT)}: {name}")
    assert bad == []


def test_store_and_cli_import_without_torch():
    probe = (
        "import sys, stbench.cli, stbench.bench.store.results, stbench.output; "
        "print('torch' in sys.modules, 'pandas' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd="/tmp", capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False False"


def test_package_exports_the_profile_function():
    from stbench.bench import profile

    import stbench

    assert callable(profile) and stbench.profile is profile


@pytest.mark.parametrize("sub", ["count", "measure", "predict", "store", "sweep"])
def test_bench_subpackage_public_names_resolve(sub):
    import importlib

    package = importlib.import_module(f"stbench.bench.{sub}")
    assert package.__all__, f"stbench.bench.{sub} names no public API"
    for name in package.__all__:
        assert getattr(package, name) is not None, f"stbench.bench.{sub}.{name}"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    parts = parts if parts[0] == "stbench" else ["stbench", *parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _lazy_homes(package: str) -> dict[str, str]:
    """What a package's lazy ``__getattr__`` (`stbench.lazy`) maps each name to."""
    getattr_ = getattr(importlib.import_module(package), "__getattr__", None)
    if getattr_ is None:
        return {}
    return dict(inspect.getclosurevars(getattr_).nonlocals.get("homes", {}))


def _import_graph() -> dict[str, dict[str, int]]:
    """module -> {stbench module it imports: line}, every import statement included
    (function level too); a name a package loads lazily counts as its home module."""
    paths = {_module_name(p): p for f in FOLDERS for p in _sources(f)}

    def resolve(name: str) -> str | None:
        while name and name not in paths:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, dict[str, int]] = {}
    for mod, path in paths.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        edges: dict[str, int] = {}
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str | None] = []
            if isinstance(node, ast.Import):
                targets = [resolve(a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*up, base] if base else up)
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    if full in paths:
                        targets.append(full)
                    elif base in paths:
                        targets.append(_lazy_homes(base).get(alias.name, base))
                    else:
                        targets.append(resolve(base))
            for target in targets:
                if target and target != mod and target.startswith("stbench"):
                    edges.setdefault(target, node.lineno)
        graph[mod] = edges
    return graph


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles_function_level_imports_included():
    graph = _import_graph()
    assert "stbench.bench.sweep.executors" in graph["stbench.bench.sweep.driver"]  # sanity
    described = [
        [f"{a} -> {b} (line {graph[a][b]})" for a in c for b in graph[a] if b in c]
        for c in _cycles(graph)
    ]
    assert described == []


def _bench_unit(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if parts[:2] == ["stbench", "bench"] and len(parts) > 2 else None


def test_bench_units_cover_the_folder():
    bench = ROOT / "bench"
    units = {p.stem for p in bench.glob("*.py")} | {
        p.parent.name for p in bench.glob("*/__init__.py")
    }
    assert units - {"__init__"} == set(BENCH_ORDER)


def test_bench_units_point_one_way():
    bad = []
    for mod, edges in _import_graph().items():
        unit = _bench_unit(mod)
        if unit is None:
            continue
        for target, line in edges.items():
            other = _bench_unit(target)
            if other and BENCH_ORDER.index(other) > BENCH_ORDER.index(unit):
                bad.append(f"{mod} (line {line}) -> {target}: {unit} is below {other}")
    assert bad == []


def test_the_cycle_check_sees_function_level_and_lazy_imports():
    tree = ast.parse("def f():\n    from stbench.bench.count import count_static\n")
    (node,) = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    homes = _lazy_homes(node.module)
    assert homes["count_static"] == "stbench.bench.count.static"
    assert _cycles({"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}, "d": {"a": 1}}) == [
        ["a", "b", "c"]
    ]


# Lower layers name the field in their errors; only the CLI maps fields to its flags
# (`cli.options.OPTION_OF`). The pytest plugin's messages are about its own pytest options;
# `bench/config.py`'s option names go with the one positive-int/range validator (issue 25).
FLAG_WRITERS = {"bench/pytest_plugin.py", "bench/config.py"}


def _raised_texts(path: Path) -> list[tuple[int, str]]:
    texts = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Raise) and node.exc is not None:
            for sub in ast.walk(node.exc):
                if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                    texts.append((node.lineno, sub.value))
    return texts


@pytest.mark.parametrize("folder", ["models", "zoo", "bench", "plots"])
def test_lower_layers_name_fields_not_cli_flags(folder):
    bad = [
        f"{path.relative_to(ROOT)}:{line}: {text!r}"
        for path in _sources(folder)
        if str(path.relative_to(ROOT)) not in FLAG_WRITERS
        for line, text in _raised_texts(path)
        if text.lstrip().startswith("--")
    ]
    assert bad == []


def test_the_cli_maps_a_field_to_its_flag():
    from stbench.cli.options import cli_message

    assert cli_message("batch: m at 1x3x8x8x8 needs 2 GiB") == "--batch: m at 1x3x8x8x8 needs 2 GiB"
    assert cli_message("per: got 'x'; allowed: clip, video").startswith("--per: got 'x'")
