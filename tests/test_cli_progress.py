"""Commands that can run over two seconds say so on stderr, and their counters count models."""

import subprocess
import sys

import pytest
from stbench.cli import main

from stbench import progress


@pytest.fixture
def shown(monkeypatch, tmp_path):
    """Progress lines from the first moment (plain lines, no delay); a store to read."""
    from stbench.bench.store.results import ResultsStore

    monkeypatch.setenv("STBENCH_PROGRESS", "plain")
    monkeypatch.setattr(progress, "DELAY_S", 0.0)
    store = tmp_path / "s.sqlite"
    with ResultsStore(store) as s:
        s.add_row(dict(model="tam_resnet50", frames=8, size=224, batch=1, num_classes=87, macs=1))
    return store


@pytest.mark.parametrize(
    ("label", "argv"),
    [
        ("records list", ["records", "list", "--dataset", "mini_ssv2"]),
        ("records join", ["records", "join", "--store", "STORE", "--format", "json"]),
        ("compare", ["compare", "tsn_resnet18", "tam_resnet18", "--size", "64"]),
        ("reproduce", ["reproduce", "--paper", "xie2018", "--model", "xie_s3d"]),
        ("predict --validate", ["predict", "--validate", "--store", "STORE"]),
    ],
)
def test_slow_commands_show_progress(shown, capsys, label, argv):
    assert main([str(shown) if a == "STORE" else a for a in argv]) == 0
    err = capsys.readouterr().err
    assert err.startswith(f"{label}: ") and "finished" in err, err


def test_profile_counter_counts_models_not_steps(shown, capsys):
    argv = ["profile", "tsn_resnet18", "tam_resnet18", "--size", "32", "--frames", "4"]
    assert main(argv) == 0
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("profile:")]
    assert lines and all("/2" in ln for ln in lines), lines
    assert lines[-1].startswith("profile: 2/2 finished")


def test_list_gpus_is_a_static_table_without_torch():
    probe = (
        "import contextlib, io, sys\n"
        "from stbench.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    main(['predict', '--list-gpus', '--format', 'csv'])\n"
        "print('torch' in sys.modules, 'h100_sxm' in out.getvalue())\n"
    )
    got = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert got.stdout.split() == ["False", "True"], got.stderr[-2000:]


def fresh_runs(tmp_path, argv: list[str]) -> list[subprocess.CompletedProcess]:
    """`main(argv)` in two fresh interpreters sharing the cache folder `tmp_path`; each prints
    whether torch was imported, then a line break and main's stdout."""
    import os

    probe = (
        "import contextlib, io, sys\n"
        "from stbench.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        f"    main({argv!r})\n"
        "print('torch' in sys.modules)\n"
        "print(out.getvalue())\n"
    )
    env = {**os.environ, "STBENCH_CACHE_DIR": str(tmp_path)}
    return [
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env)
        for _ in range(2)
    ]


def test_records_list_does_not_import_torch(tmp_path):
    runs = fresh_runs(tmp_path, ["records", "list", "--format", "csv"])
    torch_imported = runs[1].stdout.split("\n", 1)[0]
    assert torch_imported == "False", runs[1].stderr[-2000:]  # the zoo index, cached
