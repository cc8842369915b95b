"""One CLI grammar: model selection (several arguments, comma lists, shell patterns,
case-insensitive exact names; no match is one line and exit 2) in every command, --version,
a description in every --help, errors in the user's terms, progress on stderr."""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys

import pytest
from stbench.cli import build_parser, main
from stbench.cli.options import cli_message, doc_help, expand_names
from test_cli_progress import fresh_runs

from stbench.errors import UserError
from stbench.progress import Progress

SMALL = ["--frames", "8", "--size", "32"]
MC2 = ["mc2_resnet18", "mc2_resnet34"]


def one_error(capsys, argv: list[str]) -> str:
    """Run argv; it must fail with exit 2 and one line on stderr, nothing on stdout."""
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"stbench {argv[0]}: error: ")
    return lines[0]


def csv_models(capsys, argv: list[str]) -> list[str]:
    """The `model` column of argv's CSV output."""
    assert main([*argv, "--format", "csv"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    col = lines[0].split(",").index("model")
    return [line.split(",")[col] for line in lines[1:]]


# ------------------------------------------------------------------ the grammar itself


def test_expand_names_args_commas_patterns_and_case():
    names = ["mc2_resnet18", "mc2_resnet34", "rmc2_resnet18", "r3d_resnet18"]
    got = expand_names(["MC2*,rmc2_RESNET18", " r3d_resnet18 ", "mc2_resnet18"], names=names)
    assert got == names  # argument order, each once


@pytest.mark.parametrize(
    "items, message",
    [
        (["zz*"], "MODEL: no zoo model matches 'zz*'"),
        (["mc2_resnet1"], "MODEL: unknown model name 'mc2_resnet1'; closest registered names"),
        ([" , "], "MODEL: got nothing"),
    ],
)
def test_expand_names_no_match_is_one_line(items, message):
    with pytest.raises(UserError, match=message.replace("*", r"\*")):
        expand_names(items, names=["mc2_resnet18"])


def test_errors_name_the_cli_option():
    assert cli_message("x: got spatial size 16x16; allowed: H and W >= 32").startswith("--size:")
    assert cli_message("frames: got 4; allowed: >= 8").startswith("--frames: got 4")
    assert cli_message("num_classes: got 0").startswith("--classes: got 0")
    assert cli_message("r3d: something else") == "r3d: something else"


# ------------------------------------------------------------------ every command


@pytest.mark.parametrize(
    "argv",
    [
        ["list"],
        ["profile", *SMALL],
        ["predict", "--gpu", "a100", *SMALL],
        ["compare", "--frames", "8", "--size", "32"],
    ],
)
def test_selection_is_the_same_in_every_command(capsys, argv):
    head, opts = argv[:1], argv[1:]
    want = [*MC2, "rmc2_resnet18", "r3d_resnet18"]
    got = csv_models(capsys, [*head, "MC2_*,rmc2_resnet18", "R3D_ResNet18", *opts])
    if head == ["compare"]:  # its CSV has a row per (model, figure)
        got = list(dict.fromkeys(got))
    assert [m for m in got if m in want] == want
    assert len(got) == len(want)


@pytest.mark.parametrize(
    "argv",
    [
        ["list"],
        ["profile"],
        ["predict", "--gpu", "a100"],
        ["compare"],
        ["sweep", "--list-tasks"],
    ],
)
@pytest.mark.parametrize("selection", ["zz*", "mc2_resnet18,zz*", "nope_resnet"])
def test_no_match_is_one_line_exit_2(capsys, argv, selection):
    line = one_error(capsys, [*argv[:1], selection, *argv[1:]])
    assert "no zoo model matches 'zz*'" in line or "unknown model name 'nope_resnet'" in line


def test_sweep_takes_several_arguments_and_commas(capsys):
    assert main(["sweep", "MC2_*", "r3d_resnet18,rmc2_resnet18", "--list-tasks"]) == 0
    tasks = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [t["model"] for t in tasks] == [*MC2, "r3d_resnet18", "rmc2_resnet18"]


@pytest.fixture
def store(tmp_path, capsys):
    path = tmp_path / "s.sqlite"
    argv = ["sweep", "mc2_resnet18,r3d_resnet18", *SMALL, "--store", str(path), "--no-progress"]
    assert main(argv) == 0
    capsys.readouterr()
    return str(path)


@pytest.mark.parametrize("command", ["results", "export"])
def test_results_and_export_use_the_grammar(capsys, store, command):
    got = csv_models(capsys, [command, "--store", store, "--model", "MC2*,r3d*", "R3D_RESNET18"])
    assert sorted(got) == ["mc2_resnet18", "r3d_resnet18"]
    line = one_error(capsys, [command, "--store", store, "--model", "mc3*,rmc3*"])
    assert "--model: no stored model matches 'mc3*'" in line and store in line


def test_reproduce_model_uses_the_grammar(capsys):
    got = csv_models(capsys, ["reproduce", "--model", "R2D_RESNET18,r3d_resnet1?"])
    assert set(got) >= {"r2d_resnet18", "r3d_resnet18"}
    line = one_error(capsys, ["reproduce", "--paper", "xie2018", "--model", "gst*"])
    assert "--model: no model with a published figure matches 'gst*' in --paper xie2018" in line


# ------------------------------------------------------------------ errors in the user's terms


def test_errors_name_the_option_and_the_model(capsys):
    line = one_error(capsys, ["profile", "tsn_resnet18", "r3d_resnet18", "--frames", "4"])
    assert "error: r3d_resnet18: --frames: got 4" in line
    line = one_error(capsys, ["profile", "i3d_resnet18", "--size", "16"])
    assert "error: --size: got spatial size 16x16" in line
    line = one_error(
        capsys, ["predict", "tsn_resnet18", "r3d_resnet18", "--gpu", "a100", "--frames", "4"]
    )
    assert "error: r3d_resnet18: --frames: got 4" in line


def test_frontier_refuses_bad_input_before_counting(capsys, tmp_path, monkeypatch):
    import stbench.plots.pipeline as pipeline

    monkeypatch.setattr(pipeline, "collect", lambda **_: pytest.fail("counted before refusing"))
    store = str(tmp_path / "new.sqlite")
    line = one_error(capsys, ["frontier", "--store", store, "--cost", "latency", "--no-reference"])
    assert "--cost latency: no latency measurements" in line
    bad = tmp_path / "bad.sqlite"
    bad.write_text("not a database")
    assert "--store: " in one_error(capsys, ["frontier", "--store", str(bad)])
    line = one_error(capsys, ["frontier", "--cost", "params", "--per", "video"])
    assert "--per video" in line
    assert "--out: got extension '.parquet'" in one_error(
        capsys, ["frontier", "--out", "x.parquet"]
    )
    assert "--out: got extension '.parquet'" in one_error(capsys, ["export", "--out", "x.parquet"])


def test_compare_states_differing_inputs(capsys):
    assert main(["compare", "r3d_resnet18", "i3d_resnet18", "--format", "json"]) == 0
    err = capsys.readouterr().err
    assert "inputs differ (r3d_resnet18 8x112², 400 classes, i3d_resnet18 8x224², 200" in err
    assert "--frames and --size (and --classes)" in err
    assert main(["compare", "r3d_resnet18", "i3d_resnet18", "--size", "112"]) == 0
    assert "inputs differ (r3d_resnet18 8x112², 400 classes, i3d" in capsys.readouterr().out
    argv = ["compare", "r3d_resnet18", "i3d_resnet18", "--size", "112", "--classes", "400"]
    assert main(argv) == 0
    assert "inputs differ" not in capsys.readouterr().out


# ------------------------------------------------------------------ --version, --help


def test_version(capsys):
    from stbench import __version__

    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"stbench {__version__}"


def _parsers(parser: argparse.ArgumentParser, path: str = "stbench"):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                assert helps.get(name), f"{path} {name}: no summary in {path} --help"
                yield from _parsers(sub, f"{path} {name}")


def test_every_help_has_a_description():
    missing = [path for path, p in _parsers(build_parser()) if not (p.description or "").strip()]
    assert missing == []


def test_a_command_docstring_is_its_summary_and_description():
    from stbench.cli import predict

    parsers = dict(_parsers(build_parser()))
    summary, description = doc_help(predict.__doc__)
    assert summary == "predicted GPU latency (estimate and lower bound) and peak memory"
    assert parsers["stbench predict"].description == description
    assert description.startswith("Trace zoo models on the meta device") and "\n" not in description


def test_help_and_list_import_no_heavy_library():
    probe = (
        "import sys\n"
        "from stbench.cli import build_parser\n"
        "build_parser()\n"
        "print(sorted(m for m in ('torch', 'pandas', 'plotly', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ------------------------------------------------------------------ progress


class Clock:
    """A fake stream that says whether it is a terminal."""

    def __init__(self, tty: bool) -> None:
        self.buffer, self.tty = io.StringIO(), tty

    def write(self, text: str) -> int:
        return self.buffer.write(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return self.tty


def test_progress_plain_lines_when_piped(monkeypatch):
    monkeypatch.delenv("STBENCH_PROGRESS")
    stream = Clock(tty=False)
    with Progress("work", 3, stream=stream, delay_s=0.0, every_s=0.05) as bar:
        for i in range(3):
            bar.advance(description=f"step {i}")
            import time

            time.sleep(0.3)
    lines = stream.buffer.getvalue().splitlines()
    assert len(lines) >= 2 and lines[0].startswith("work: ")
    assert lines[-1].startswith("work: 3/3 finished")


def test_progress_quiet_for_short_work_and_when_off(monkeypatch):
    monkeypatch.delenv("STBENCH_PROGRESS")
    stream = Clock(tty=False)
    with Progress("work", 1, stream=stream) as bar:  # ends long before the 2 s delay
        bar.advance()
    assert stream.buffer.getvalue() == ""
    monkeypatch.setenv("STBENCH_PROGRESS", "off")
    with Progress("work", 1, stream=stream, delay_s=0.0) as bar:
        import time

        time.sleep(0.3)
    assert stream.buffer.getvalue() == ""


def test_progress_bar_on_a_terminal(monkeypatch):
    monkeypatch.delenv("STBENCH_PROGRESS")
    stream = Clock(tty=True)
    with Progress("work", 2, stream=stream, delay_s=0.0) as bar:
        import time

        bar.advance(description="first")
        time.sleep(0.5)
        bar.print("a line that stays")
        bar.advance()
    text = stream.buffer.getvalue()
    assert "work" in text and "a line that stays" in text and "2/2" in text


def test_list_reads_a_cached_listing_without_torch(tmp_path):
    runs = fresh_runs(tmp_path, ["list", "--format", "json"])
    (first_torch, first), (second_torch, second) = (r.stdout.split("\n", 1) for r in runs)
    assert (first_torch, second_torch) == ("True", "False")  # built once, then read
    assert first == second
    from stbench.zoo.index import zoo_rows

    assert json.loads(second) == [
        {k: v for k, v in r.items() if k != "paper_title"}
        | {"operators": "/".join(r["operators"]), "temporal_pool": r["temporal_pool"] or ""}
        for r in zoo_rows(live=True)
    ]


@pytest.mark.parametrize(
    ("argv", "prog"),
    [
        (["profile", "tsn_resnet50", "--bogus"], "stbench profile"),
        (["records", "validate", "x.csv", "--bogus"], "stbench records validate"),
        (["--bogus"], "stbench"),
    ],
)
def test_an_unknown_option_is_named_by_the_command_typed(capsys, argv, prog):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1
    assert err.startswith(f"{prog}: error: unrecognized arguments: --bogus")
