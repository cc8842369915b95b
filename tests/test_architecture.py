"""The package layout: one `stbench` namespace, arrows cli -> plots -> bench -> zoo -> models."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# folder -> subpackage it installs as, bottom layer first
LAYERS = {"models": "models", "zoo": "zoo", "bench": "bench", "plots": "plots", "cli": "cli"}
ORDER = list(LAYERS)


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


def test_lazy_exports_refuses_a_docstring_without_its_table():
    from stbench.lazy import lazy_exports

    with pytest.raises(ValueError, match="Public names"):
        lazy_exports("pkg", "no table here")
