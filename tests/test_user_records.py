"""Bring your own results: `--records FILE` on frontier, demo, compare and records join;
your records are checked before any work, validated against the registry (your own models
too), kept apart from the published ones and drawn and listed as yours."""

import dataclasses
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from stbench.bench.store.results import ResultsStore
from stbench.cli import build_parser, main
from stbench.plots.dashboard import build_payload
from stbench.plots.runs import one_per_run
from stbench.zoo import records, registry
from test_dashboard import sample_joined
from test_pipeline import _records
from test_records import _row, _write

MODEL = dict(model="tsn_resnet18", published_name="", frames="4", input_size="32")


@pytest.fixture
def shipped(tmp_path, monkeypatch):
    """The shipped records are a three-configuration file (fast to count)."""
    path = _records(tmp_path / "shipped.csv")
    monkeypatch.setattr(records, "shipped_files", lambda: [path])
    return path


def _mine(tmp_path: Path, name: str = "mine.csv", value: str = "40") -> Path:
    """Your record of tsn_resnet18 at 4 x 32² on Mini-SSV2, better than the published 30.5."""
    row = _row(**MODEL, paper="mylab", dataset="mini_ssv2", split="val", views="1x1", value=value)
    return _write(tmp_path, name, row)


def _payload(html: str) -> dict:
    m = re.search(r'id="stbench-data">(.*?)</script>', html, re.S)
    return json.loads(m.group(1).replace("<\\/", "</"))


def test_records_is_repeatable_and_takes_several_files():
    parse = build_parser().parse_args
    for cmd in (["frontier"], ["demo"], ["compare", "x"], ["records", "join"]):
        assert parse([*cmd, "--records", "a.csv", "--records", "b.csv", "c.csv"]).records == [
            "a.csv",
            "b.csv",
            "c.csv",
        ]
        assert parse(cmd).records == []


def test_frontier_draws_and_lists_your_records(tmp_path, capsys, shipped):
    mine, html = _mine(tmp_path), tmp_path / "f.html"
    store = tmp_path / "s.sqlite"
    base = ["frontier", "--dashboard", str(html), "--store", str(store), "--records", str(mine)]
    assert main([*base, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["model"], r["accuracy (%)"], r["your record"]) for r in rows] == [
        ("tsn_resnet18", 40.0, str(mine)),  # yours dominates the published 30.5 and 35.0
    ]
    payload = _payload(html.read_text())
    (yours,) = [p for p in payload["points"] if p["user"]]
    assert yours["user"] == str(mine) and yours["value"] == 40.0
    assert f"<b>your record: {mine}</b>" in yours["hover"]
    assert all("your record" not in p["hover"] for p in payload["points"] if not p["user"])
    assert payload["outlines"]["user"] == {"width": 3, "color": "#000"}
    assert payload["outlines"]["user"] != payload["outlines"]["published"]
    assert any(n.startswith(f"Your records ({mine}): 1 point(s)") for n in payload["notes"])
    assert main(base) == 0
    out = capsys.readouterr().out
    assert "tsn_resnet18 (yours)" in out and f"(yours): your record, from {mine}" in out


def test_without_records_nothing_is_yours(tmp_path, capsys, shipped):
    html = tmp_path / "f.html"
    argv = ["frontier", "--dashboard", str(html), "--store", str(tmp_path / "s.sqlite"), "--json"]
    assert main(argv) == 0
    assert {r["your record"] for r in json.loads(capsys.readouterr().out)} == {""}
    payload = _payload(html.read_text())
    assert not any(p["user"] for p in payload["points"])
    assert not any(n.startswith("Your records") for n in payload["notes"])


def test_demo_with_records(tmp_path, capsys, shipped):
    mine = _mine(tmp_path)
    out_dir = tmp_path / "demo"
    argv = ["demo", "--out-dir", str(out_dir), "--store", str(tmp_path / "s.sqlite")]
    assert main([*argv, "--records", str(mine)]) == 0
    out = capsys.readouterr().out
    assert "4 records plotted" in out and "tsn_resnet18 (yours)" in out
    payload = _payload((out_dir / "dashboard.html").read_text())
    assert [p["user"] for p in payload["points"] if p["user"]] == [str(mine)]
    frontiers = pd.read_csv(out_dir / "frontiers.csv", keep_default_na=False)
    assert set(frontiers["your record"]) == {str(mine)}


def test_compare_shows_your_record_next_to_the_published_one(tmp_path, capsys, shipped):
    mine = _mine(tmp_path)
    argv = ["compare", "tsn_resnet18", "--frames", "4", "--size", "32"]
    argv += ["--store", str(tmp_path / "s.sqlite"), "--records", str(mine)]
    assert main([*argv, "--json"]) == 0
    row = {r["figure"]: r["value"] for r in json.loads(capsys.readouterr().out)}
    assert row["top1 (%) mini_ssv2 clip 1x1"] == 30.5
    assert row["top1 (%) mini_ssv2 clip 1x1 (your record)"] == 40.0
    assert main(argv) == 0
    assert f"(your record: {mine})" in capsys.readouterr().out


def test_records_join_and_list_carry_the_origin(tmp_path, capsys, shipped):
    a, b = _mine(tmp_path, "a.csv"), _mine(tmp_path, "b.csv")
    b.write_text(b.read_text().replace("mylab", "otherlab"))
    store = tmp_path / "s.sqlite"
    with ResultsStore(store) as s:
        s.add_row(dict(model="tsn_resnet18", frames=4, size=32, batch=1, num_classes=87, macs=9))
    out = tmp_path / "joined.csv"
    argv = ["records", "join", "--store", str(store), "--out", str(out)]
    assert main([*argv, "--records", str(a), "--records", str(b)]) == 0
    df = pd.read_csv(out, keep_default_na=False)
    both = df[(df["match"] == "both") & (df["frames"] == 4)]
    assert sorted(both["record_origin"]) == ["", str(a), str(b)]
    assert main(["records", "list", "--records", str(a), str(b), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert sorted(r["record_origin"] for r in listed) == ["", "", "", "", str(a), str(b)]


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    columns = _write(tmp_path, "columns.csv", "x,y", header="paper,oops")
    rows = _write(
        tmp_path,
        "rows.csv",
        _row(model="no_such_model", published_name=""),
        _row(published_name="Other", value="130"),
    )
    dup = _write(tmp_path, "dup.csv", _row(), _row())
    return {
        "missing": (tmp_path / "nope.csv", "not found or not a file"),
        "columns": (columns, "line 1: unknown column(s) ['oops']; allowed: paper, model"),
        "rows": (
            rows,
            "line 2: model: 'no_such_model' is not a registered zoo model (see `stbench list`; "
            "a model of your own counts once its file or module is given with --module) "
            f"(and 1 more; `stbench records "
            f"validate {rows}` lists them all)",
        ),
        "duplicate": (dup, "line 3: duplicate key"),
    }


@pytest.mark.parametrize("case", ["missing", "columns", "rows", "duplicate"])
@pytest.mark.parametrize("command", ["frontier", "demo", "compare", "records join"])
def test_a_bad_records_file_is_one_line_before_any_work(tmp_path, capsys, command, case):
    path, reason = _bad_files(tmp_path)[case]
    store = tmp_path / "new" / "s.sqlite"
    argv = {
        "frontier": ["frontier", "--dashboard", str(tmp_path / "f.html")],
        "demo": ["demo", "--out-dir", str(tmp_path / "out")],
        "compare": ["compare", "tsn_resnet18"],
        "records join": ["records", "join"],
    }[command]
    assert main([*argv, "--store", str(store), "--records", str(path)]) == 2
    err = capsys.readouterr().err
    prefix = f"stbench {command.split()[0]}: error: --records {path}: "
    assert err.startswith(prefix + reason) and len(err.strip().splitlines()) == 1, err
    assert not store.parent.exists() and not (tmp_path / "f.html").exists()


def test_validate_accepts_your_registered_model_and_your_source(tmp_path, capsys, monkeypatch):
    mine = _write(
        tmp_path,
        "mine.csv",
        _row(model="my_net", published_name="", paper="mylab", source="our run 2024-05"),
        _row(paper="mylab", published_name="Net without a model", value="41"),
    )
    assert main(["records", "validate", str(mine)]) == 2
    assert "model: 'my_net' is not a registered zoo model" in capsys.readouterr().err
    spec = dataclasses.replace(registry.get_spec("tsn_resnet18"), name="my_net")
    monkeypatch.setitem(registry._REGISTRY, "my_net", spec)
    assert main(["records", "validate", str(mine)]) == 0
    assert "ok: 2 records in 1 file(s)" in capsys.readouterr().out
    assert main(["records", "validate", str(mine), "--with-shipped"]) == 0


def test_your_record_is_never_folded_into_a_published_run():
    run = dict(model="m", frames=8, size=224, dataset="ssv1", metric="top1", value=45.2)
    df = pd.DataFrame(
        [
            {**run, "source": "paper", "record_origin": ""},
            {**run, "source": "paper copy", "record_origin": ""},
            {**run, "source": "my run", "record_origin": "mine.csv"},
        ]
    )
    kept = one_per_run(df)
    assert list(kept["source"]) == ["paper", "my run"]
    assert list(kept["also_sources"]) == ["paper copy", ""]


def test_hover_and_note_name_your_file():
    joined = sample_joined()
    joined["record_origin"] = joined["model"].map({"tam_resnet50": "runs/mine.csv"}).fillna("")
    payload = build_payload(joined)
    yours = [p for p in payload["points"] if p["user"]]
    assert yours and {p["model"] for p in yours} == {"tam_resnet50"}
    assert all("your record: runs/mine.csv" in p["hover"] for p in yours)
    assert f"Your records (runs/mine.csv): {len(yours)} point(s)" in " ".join(payload["notes"])


USER_MODULE = """
import torch
from torch import nn

import stbench


class Pooled(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.conv = nn.Conv3d(3, 8, 3, padding=1)
        self.fc = nn.Linear(8, num_classes)

    def forward(self, x):
        return self.fc(self.conv(x).mean((2, 3, 4)))


@stbench.register_model(source="mylab", citation="My Lab, unpublished")
def my_pooled_net(num_classes, frames):
    return Pooled(num_classes)
"""


def test_your_model_and_your_records_reach_the_frontier_from_the_cli(
    tmp_path, capsys, shipped, clean_registry
):
    module = tmp_path / "my_models.py"
    module.write_text(USER_MODULE)
    cells = {**MODEL, "model": "my_pooled_net", "paper": "mylab", "dataset": "mini_ssv2"}
    row = _row(**cells, split="val", views="1x1", value="45")
    mine, html = _write(tmp_path, "mine.csv", row), tmp_path / "f.html"
    store = tmp_path / "s.sqlite"
    argv = ["frontier", "--module", str(module), "--records", str(mine), "--store", str(store)]
    assert main([*argv, "--dashboard", str(html), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert ("my_pooled_net", 45.0, str(mine)) in [
        (r["model"], r["accuracy (%)"], r["your record"]) for r in rows
    ]
    (point,) = [p for p in _payload(html.read_text())["points"] if p["model"] == "my_pooled_net"]
    assert point["user"] == str(mine) and point["params"] > 0 and point["costs"]["macs"] > 0
    stored = ResultsStore(store).rows()
    assert any(r["model"] == "my_pooled_net" and r["params"] > 0 for r in stored)
