"""Bring your own model: register_model, --module, the stbench.models entry points, and a
user model through counting, isolated tasks, the spawn pool, the store, join and dashboard."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from stbench.bench.sweep.driver import Task, build_tasks, run_isolated
from stbench.bench.sweep.fill import count_many
from stbench.cli import main
from stbench.zoo import plugins, registry

REPO = Path(__file__).resolve().parents[1]
# A user file as a user writes it: module-level registration, no __main__ guard.
MODEL_FILE = """
import torch
from torch import nn

import stbench


class Attn(nn.Module):
    def __init__(self, num_classes, width=8):
        super().__init__()
        self.stem = nn.Conv3d(3, width, (1, 8, 8), stride=(1, 8, 8))
        self.qkv = nn.Linear(width, 3 * width)
        self.fc = nn.Linear(width, num_classes)

    def forward(self, x):
        t = self.stem(x).flatten(2).transpose(1, 2)
        q, k, v = self.qkv(t).chunk(3, dim=-1)
        return self.fc((torch.softmax(q @ k.transpose(1, 2), -1) @ v).mean(1))


@stbench.register_model(source="mylab2025", citation="My Lab, unpublished", family="Attn")
def {name}(num_classes, frames):
    return Attn(num_classes)
"""
RECORDS = (
    "paper,model,dataset,split,metric,value,level,views,frames,input_size,pretraining,"
    "modality,source\n"
    '{source},{name},mini_kinetics,val,top1,41.5,clip,1x1,4,32,none,rgb,"lab notebook, run 3"\n'
)


@pytest.fixture
def model_file(tmp_path, clean_registry) -> Path:
    path = tmp_path / "my models.py"  # a space: paths are not module names
    path.write_text(MODEL_FILE.replace("{name}", "tiny_attn"))
    return path


def _tiny(num_classes, frames):
    from torch import nn

    return nn.Sequential(nn.Flatten(), nn.LazyLinear(num_classes))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(source="chen2021", citation="x"), "not one of the zoo's papers"),
        (dict(source="mylab", citation=" "), "citation: got ' '"),
        (dict(source="My Lab", citation="x"), "source: got 'My Lab'"),
        (dict(source="mylab", citation="x", name="tsm_resnet50"), "registered twice"),
        (dict(source="mylab", citation="x", name="a/b"), "name: got 'a/b'"),
    ],
)
def test_register_model_refuses_bad_input_in_one_line(clean_registry, kwargs, message):
    with pytest.raises(ValueError, match=message) as info:
        registry.register_model(_tiny, **kwargs)
    assert "\n" not in str(info.value)


def test_register_model_as_call_and_decorator(clean_registry):
    registry.register_model(_tiny, source="mylab", citation="My Lab 2025", name="Plain_Net")
    deco = registry.register_model(source="mylab", citation="My Lab 2025", frames=4, size=32)
    deco(tiny_b)
    assert registry.is_registered("plain_net") and registry.is_registered("tiny_b")
    spec = registry.get_spec("tiny_b")
    assert (spec.paper, spec.citation, spec.family) == ("mylab", "My Lab 2025", "tiny_b")
    assert (spec.default_frames, spec.default_size) == (4, 32)
    assert registry.citation("mylab") == "My Lab 2025"
    with pytest.raises(ValueError, match="the citation it was registered with"):
        registry.register_model(_tiny, source="mylab", citation="other", name="third")


def tiny_b(num_classes, frames):
    """A second builder, registered by the decorator."""
    return _tiny(num_classes, frames)


def test_module_flag_loads_a_file_for_list_and_profile(model_file, tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    argv = ["--module", str(model_file), "--frames", "4", "--size", "32", "--classes", "200"]
    assert main(["profile", "tiny_attn", *argv, "--store", str(store), "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["model"] == "tiny_attn" and row["params"] > 0 and row["matmul_macs"] > 0
    assert main(["list", "tiny*", "--module", str(model_file), "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert "tiny_attn,Attn,mylab2025" in out


def test_unknown_module_is_one_line_exit_2(clean_registry, capsys, tmp_path):
    assert main(["profile", "x", "--module", str(tmp_path / "nope.py")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("stbench profile: error: --module: got") and "\n" not in err
    assert main(["list", "--module", "no_such_pkg.models"]) == 2
    assert "no module named 'no_such_pkg'" in capsys.readouterr().err


def test_a_failing_user_module_is_one_line(clean_registry, tmp_path, capsys):
    bad = tmp_path / "bad.py"
    bad.write_text("raise RuntimeError('broken on purpose')\n")
    assert main(["list", "--module", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("RuntimeError: broken on purpose") and "\n" not in err


def test_isolated_task_and_spawn_pool_import_the_module_again(model_file):
    plugins.load_module(str(model_file))
    (task,) = build_tasks("tiny_attn", [4], [32], time=False)
    assert task.modules == (str(model_file.resolve()),)
    again = Task.from_json(task.to_json())
    assert again == task
    row = run_isolated(again)  # a fresh `python -m stbench.bench.sweep.isolate`
    assert row["status"] == "ok", row.get("error")
    assert row["params"] > 0
    configs = [t.config() for t in build_tasks("tiny_attn", list(range(1, 11)), [32])]
    results = list(count_many(configs, workers=2))  # > FEW configurations: spawn workers
    assert [err for _, _, err in results] == [None] * 10
    assert {r["model"] for _, r, _ in results} == {"tiny_attn"}


def test_zoo_task_json_has_no_modules_field():
    (task,) = build_tasks("r3d_resnet18", [4], [32])
    assert "modules" not in task.to_dict()


def test_script_without_main_guard_registering_itself(tmp_path):
    """A script that registers in __main__ and counts many configurations without a guard:
    the counting stays in its process (spawn workers would re-run the script)."""
    script = tmp_path / "script.py"
    script.write_text(
        MODEL_FILE.replace("{name}", "script_attn")
        + textwrap.dedent("""
            from stbench.bench.config import ProfileConfig
            from stbench.bench.sweep.fill import count_many
            cfgs = [ProfileConfig.for_model("script_attn", frames=f, size=32) for f in range(1, 11)]
            print(sum(1 for _, row, _ in count_many(cfgs, workers=2) if row))
        """)
    )
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "10"


def test_model_registered_in_main_cannot_go_to_an_isolated_task(clean_registry):
    def in_script(num_classes, frames):
        return _tiny(num_classes, frames)

    in_script.__module__ = "__main__"  # as if a script registered it
    registry.register_model(in_script, source="mylab", citation="c", name="main_only")
    (task,) = build_tasks("main_only", [4], [32])
    assert task.modules == ()
    row = run_isolated(task)
    assert row["status"] == "failed" and "registered by a script" in row["error"]


def _end_to_end(model: str, store: Path, records: Path, html: Path) -> str:
    """profile -> store -> join with a user records file -> a dashboard point, in a fresh
    process (a new registry, entry points read from its sys.path)."""
    code = textwrap.dedent(f"""
        import sys
        from stbench.cli import main
        from stbench.plots.dashboard import write_dashboard
        from stbench.plots.pipeline import collect
        args = sys.argv[1:]
        assert main(["profile", {model!r}, "--frames", "4", "--size", "32", "--classes", "200",
                     "--store", {str(store)!r}, *args]) == 0
        from stbench.zoo import load_module
        for spec in args[1::2]:
            load_module(spec)
        data = collect(store={str(store)!r}, records_paths=[{str(records)!r}], reference=False,
                       quiet=True)
        mine = data.points[data.points.model == {model!r}]
        write_dashboard(data, {str(html)!r})
        print("POINT", len(mine), float(mine["value"].iloc[0]), mine["paper"].iloc[0])
    """)
    return code


def _run(code: str, args: list[str], cwd: Path, env: dict | None = None) -> str:
    full = {**os.environ, **(env or {})}
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_end_to_end_from_a_file(tmp_path):
    path = tmp_path / "mine.py"
    path.write_text(MODEL_FILE.replace("{name}", "file_attn"))
    records = tmp_path / "mine.csv"
    records.write_text(RECORDS.format(source="mylab2025", name="file_attn"))
    store, html = tmp_path / "s.sqlite", tmp_path / "d.html"
    code = _end_to_end("file_attn", store, records, html)
    out = _run(code, ["--module", str(path)], tmp_path)
    assert "POINT 1 41.5 mylab2025" in out
    assert "file_attn" in html.read_text()


def test_end_to_end_from_an_installed_entry_point(tmp_path):
    site = tmp_path / "site"
    (site / "userpkg_models").mkdir(parents=True)
    (site / "userpkg_models" / "__init__.py").write_text(MODEL_FILE.replace("{name}", "ep_attn"))
    dist = site / "userpkg-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: userpkg\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[stbench.models]\nmylab = userpkg_models\n")
    records = tmp_path / "mine.csv"
    records.write_text(RECORDS.format(source="mylab2025", name="ep_attn"))
    store, html = tmp_path / "s.sqlite", tmp_path / "d.html"
    code = _end_to_end("ep_attn", store, records, html)
    env = {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    out = _run(code, [], tmp_path, env)
    assert "POINT 1 41.5 mylab2025" in out
    assert "ep_attn" in html.read_text()
    # an isolated sweep task finds it through the entry point too (no --module)
    sweep = ["sweep", "ep_attn", "--frames", "4", "--sizes", "32", "--isolate"]
    code = "from stbench.cli import main; import sys; sys.exit(main(sys.argv[1:]))"
    _run(code, [*sweep, "--store", str(store), "--no-progress"], tmp_path, env)
