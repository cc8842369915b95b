"""The reproduction report: deviation arithmetic on fake targets, formats, and the CLI."""

from __future__ import annotations

import csv
import io
import json

import pytest
import torch
from stbench.bench.count import reproduce as rp
from stbench.cli import main
from stbench.zoo.registry import _REGISTRY, ModelSpec
from stbench.zoo.targets import COLUMNS, parse_targets
from test_cli_grammar import one_error
from torch import nn

from stbench.output import render

SRC = "papers/001_108aa75c7b5a30b7.txt, Table 2, row X"
SHOWN = "Xie et al. 2018 (arXiv:1712.04851), Table 2, row X"  # what users read


def _targets(*rows: dict[str, str]):
    base = {
        "model": "fake",
        "frames": "8",
        "size": "32",
        "classes": "10",
        "quantity": "macs",
        "value": "2",
        "unit": "G",
        "convention": "paper_flops_as_macs",
        "tolerance_pct": "5",
        "source": SRC,
        "deviation_note": "",
    }
    return parse_targets([{**base, **r} for r in rows])


def test_deviation_and_status_against_hand_computed_values() -> None:
    targets = _targets(
        {},  # 2.1e9 vs 2e9: +5.000% -> met (boundary)
        {"frames": "16"},  # 1.8e9 vs 2e9: -10% -> deviating
        {"frames": "32", "deviation_note": "measured=2600000000; reason: paper rounds"},
        {"frames": "64", "deviation_note": "measured=2600000000; reason: stale"},
        {
            "quantity": "params",
            "convention": "all_params_with_fc",
            "unit": "count",
            "value": "1000",
            "tolerance_pct": "0",
        },
        {"frames": "4", "model": "broken"},
    )
    measured = {8: 2_100_000_000, 16: 1_800_000_000, 32: 2_600_000_000, 64: 2_700_000_000}

    def fake_measure(t):
        if t.model == "broken":
            raise ValueError("model: unknown model name 'broken'\nsecond line")
        return 1000 if t.quantity == "params" else measured[t.frames]

    rows = rp.reproduce(targets, fake_measure)
    assert [r.status for r in rows] == ["met", "deviating", "recorded", "deviating", "met", "error"]
    assert rows[0].deviation_pct == pytest.approx(5.0)
    assert rows[1].deviation_pct == pytest.approx(-10.0)
    assert rows[2].deviation_pct == pytest.approx(30.0) and rows[2].reason.endswith("paper rounds")
    assert rows[3].deviation_pct == pytest.approx(35.0)
    assert "differs from the recorded note" in rows[3].reason
    assert rows[4].deviation_pct == 0.0 and rows[4].zoo == "1000"
    assert rows[5].deviation_pct is None and rows[5].reason == (
        "ValueError: model: unknown model name 'broken'"
    )
    assert rows[0].zoo == "2.1" and rows[0].published == "2.0"
    assert rp.summary(rows) == {"met": 2, "recorded": 1, "deviating": 2, "error": 1}


def test_formula_rows_evaluate_the_formula() -> None:
    (t,) = _targets(
        {
            "quantity": "block_params",
            "convention": "block_conv_weights",
            "unit": "formula",
            "value": "(H*W + T)*Ci*Co",
            "tolerance_pct": "0",
        }
    )
    row = rp.evaluate(t, 12 * 64 * 64)
    assert row.status == "met" and row.published == "(H*W + T)*Ci*Co = 49152"
    assert rp.evaluate(t, 49153).status == "deviating"


def test_formats_carry_the_same_rows() -> None:
    rows = rp.reproduce(_targets({}, {"frames": "16"}), lambda t: 2_000_000_000 + t.frames)
    table = rp.report_table(rows)
    parsed = list(csv.DictReader(io.StringIO(render(table, "csv"))))
    assert [r["status"] for r in parsed] == ["met", "met"]
    assert list(parsed[0])[: len(rp.REPORT_COLUMNS)] == list(rp.REPORT_COLUMNS)
    assert float(parsed[1]["deviation_pct"]) == pytest.approx(8e-7) and parsed[1]["source"] == SHOWN
    data = json.loads(render(table, "json"))
    assert data[1]["zoo_count"] == 2_000_000_016
    md = render(table, "markdown")
    assert "| paper | model |" in md and "| +0.000 | 5.0 | met |" in md
    assert md.startswith("stbench reproduction: 2 published figures (met: 2, recorded: 0")


class _Tiny(nn.Module):
    """A 3x3x3 conv (3->4 channels) + global pool + FC: easy to count by hand."""

    def __init__(self, num_classes: int, frames: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, 4, 3, padding=1, bias=False)
        self.fc = nn.Linear(4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).mean((2, 3, 4)))


@pytest.fixture
def tiny_model(monkeypatch):
    spec = ModelSpec("tiny_fake", "fake", "xie2018", "none", ("3d",), _Tiny)
    monkeypatch.setitem(_REGISTRY, "tiny_fake", spec)
    rp.model_counts.cache_clear()
    yield "tiny_fake"
    rp.model_counts.cache_clear()


def _write_targets(path, rows):
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows(rows)


def test_cli_end_to_end_on_a_tiny_model(tiny_model, tmp_path, capsys) -> None:
    # conv: (4 x 2 x 8 x 8) outputs x (3 x 27) MACs each = 41472 MACs; fc: 4 x 10 = 40 MACs
    # params: 324 conv + 50 fc = 374
    src = "papers/001_108aa75c7b5a30b7.txt, Table 2, row tiny"
    common = {"model": tiny_model, "frames": "2", "size": "8", "classes": "10", "source": src}
    rows = [
        {
            **common,
            "quantity": "macs",
            "value": "41512",
            "unit": "count",
            "convention": "paper_flops_as_macs",
            "tolerance_pct": "0",
            "deviation_note": "",
        },
        {
            **common,
            "quantity": "macs",
            "value": "40000",
            "unit": "count",
            "convention": "conv_macs_no_fc",
            "tolerance_pct": "1",
            "deviation_note": "",
        },
        {
            **common,
            "quantity": "params",
            "value": "374",
            "unit": "count",
            "convention": "all_params_with_fc",
            "tolerance_pct": "0",
            "deviation_note": "",
        },
    ]
    f = tmp_path / "t.csv"
    _write_targets(f, rows)
    out = tmp_path / "r.json"
    assert main(["reproduce", "--targets", str(f), "--format", "json", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert [d["zoo_count"] for d in data] == [41512, 41472, 374]
    assert [d["status"] for d in data] == ["met", "deviating", "met"]
    assert data[1]["deviation_pct"] == pytest.approx(3.68)
    assert main(["reproduce", "--targets", str(f), "--check", "--format", "csv"]) == 1
    printed = capsys.readouterr().out
    assert printed.startswith("paper,model,") and printed.count("\n") == 4
    assert main(["reproduce", "--targets", str(f), "--format", "markdown"]) == 0
    assert main(["reproduce", "--targets", str(f)]) == 0  # rich table
    assert "tiny_fake" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--paper", "nope"], "paper: got 'nope'"),
        (["--format", "xml"], "--format: got 'xml'"),
        (["--out", "/proc/nope/x.md"], "--out: cannot write '/proc/nope/x.md'"),
        (["--targets", "/nonexistent.csv"], "--targets: no such file"),
        (["--model", "no_such_model*"], "--model: no model with a published figure matches"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(argv, message, capsys) -> None:
    assert message in one_error(capsys, ["reproduce", *argv])


def test_cli_out_directory_is_rejected(tmp_path, capsys) -> None:
    assert main(["reproduce", "--paper", "xie2018", "--out", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_cli_real_subset_chen_table6(tmp_path) -> None:
    """End to end on real zoo models: Chen et al. Table 6, TAM-ResNet50 at 32x256x256."""
    out = tmp_path / "r.csv"
    assert (
        main(
            [
                "reproduce",
                "--paper",
                "chen2021",
                "--model",
                "tam_resnet50",
                "--format",
                "csv",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    (row,) = list(csv.DictReader(out.open()))
    assert row["published"] == "171.5" and row["unit"] == "G" and row["status"] == "met"
    assert abs(float(row["deviation_pct"])) < 5


def test_block_measurement_needs_the_resnet_slot(tiny_model) -> None:
    rp.block_conv_weights.cache_clear()
    with pytest.raises(ValueError, match="has no block 'stages.0.0.conv2'"):
        rp.block_conv_weights(tiny_model)
