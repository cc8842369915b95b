"""Tables never cut a number: on narrow terminals columns wrap their headers and text at
spaces, and when even that does not fit the rows become blocks of `header: value` lines."""

import re
import sys

import pytest
from rich.console import Console
from stbench.cli import main

import stbench.output as output
from stbench.output import Column, Table

WIDTHS = (60, 80, 200)


def _cells(markdown: str) -> list[str]:
    """Every body cell of the markdown tables in `markdown`."""
    lines = markdown.splitlines()
    return [
        c.strip()
        for i, ln in enumerate(lines)
        if ln.startswith("| ")
        and not lines[i + 1 : i + 2] == ["|" + ln.count(" | ") * "---|" + "---|"]
        for c in ln[2:-2].split(" | ")
    ]


def _numbers(cells: list[str]) -> list[str]:
    return [c for c in cells if re.fullmatch(r"-?[\d,]+(\.\d+)?%?", c)]


def _intact(number: str, text: str) -> bool:
    return re.search(rf"(?<![\d.,]){re.escape(number)}(?![\d.,])", text) is not None


@pytest.fixture
def terminal(monkeypatch):
    """Make `emit` print tables as on a terminal of the given width."""

    def at(width: int) -> None:
        console = lambda: Console(file=sys.stdout, width=width, color_system=None)  # noqa: E731
        monkeypatch.setattr(output, "stdout_console", console)

    return at


def _run(capsys, argv: list[str]) -> str:
    assert main(argv) == 0
    return capsys.readouterr().out


def _numbers_whole(capsys, terminal, argv: list[str], width: int) -> int:
    """Every number of the command's markdown table is whole in its table at `width`."""
    numbers = _numbers(_cells(_run(capsys, [*argv, "--format", "markdown"])))
    terminal(width)
    text = _run(capsys, argv)
    assert "…" not in text and all(len(line) <= width for line in text.splitlines())
    missing = [n for n in numbers if not _intact(n, text)]
    assert not missing, (width, missing, text)
    return len(numbers)


@pytest.mark.parametrize("width", WIDTHS)
def test_profile_table_shows_every_number_whole(capsys, terminal, width):
    argv = ["profile", "r3d_resnet18", "--frames", "8", "--size", "32"]
    assert _numbers_whole(capsys, terminal, argv, width) >= 3


@pytest.mark.parametrize("width", WIDTHS)
def test_frontier_table_shows_every_number_whole(capsys, monkeypatch, terminal, tmp_path, width):
    import stbench.plots.pipeline as pipeline
    import stbench.plots.sources as sources
    from reference_fixture import FIXTURE_DIR, reference_joined

    monkeypatch.setattr(
        pipeline, "collect", lambda **_: pipeline.PlotData.from_joined(reference_joined())
    )
    shipped = sources.load_reference
    monkeypatch.setattr(sources, "load_reference", lambda *_: shipped(FIXTURE_DIR))
    argv = ["frontier", "--dataset", "mini_kinetics", "--cost", "latency"]
    argv += ["--dashboard", str(tmp_path / "f.html")]
    assert _numbers_whole(capsys, terminal, argv, width) >= 6


def _wide_table() -> Table:
    cols = [Column("model", "model")]
    cols += [Column(f"c{i}", f"cost number {i} (GMACs per clip)", digits=2) for i in range(9)]
    rows = [
        {"model": f"m{r}", **{f"c{i}": 12345.678 * (r + i) for i in range(9)}} for r in range(3)
    ]
    return Table(rows, cols, title="wide")


def _print(t: Table, width: int) -> str:
    console = Console(width=width, color_system=None, record=True, file=open("/dev/null", "w"))
    output._print_tables(console, [t])
    return console.export_text()


def test_too_wide_for_columns_becomes_blocks_of_header_value_lines():
    t = _wide_table()
    text = _print(t, 60)
    assert "┃" not in text and "│" not in text  # no grid
    assert "model: m1" in text
    assert "cost number 8 (GMACs per clip): 123,456.78" in text.replace("\n", " ")
    for r in t.records:
        for c in t.shown[1:]:
            assert _intact(c.text(r), text)
    wide = _print(t, 400)
    assert "┃" in wide and "cost number 8 (GMACs per clip)" in wide  # fits: a grid


def test_headers_wrap_before_numbers_break():
    t = _wide_table()
    t.shown = t.shown[:4]
    text = _print(t, 60)
    assert "│" in text and max(len(line) for line in text.splitlines()) <= 60
    for r in t.records:
        for c in t.shown:
            assert _intact(c.text(r), text)


@pytest.mark.parametrize("width", WIDTHS)
def test_compare_row_labels_break_between_words(capsys, terminal, width):
    argv = ["compare", "tsn_resnet50", "tsm_resnet50"]
    labels = [
        ln[2:].split(" | ")[0]
        for ln in _run(capsys, [*argv, "--format", "markdown"]).splitlines()
        if ln.startswith("| ")
    ]
    terminal(width)
    text = _run(capsys, argv)
    first = [re.split("[│┃]", ln)[1] for ln in text.splitlines() if ln.startswith(("│", "┃"))]
    parts = {p for label in labels for p in re.findall(r"[^\s_/.-]+[_/.-]?", label)}
    assert "uniform_" in parts and "crop" in parts and first
    broken = [
        p for p in parts if not any(re.search(rf"(^|[\s_/.-]){re.escape(p)}", f) for f in first)
    ]
    assert not broken, (width, broken, text)
