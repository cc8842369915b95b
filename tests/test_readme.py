"""README.md tells the truth: its zoo table is the registry's, its commands exist."""

import re
import shlex
from pathlib import Path

from stbench.cli import build_parser
from stbench.cli.list_models import markdown_table
from stbench.zoo import list_models, list_specs

README = Path(__file__).resolve().parents[1] / "README.md"


def _section(text: str, tag: str) -> str:
    m = re.search(rf"<!-- {tag}:BEGIN -->\n?(.*?)<!-- {tag}:END -->", text, re.S)
    assert m, f"README.md has no {tag} section"
    return m.group(1)


def test_readme_zoo_table_matches_the_registry():
    table = _section(README.read_text(), "ZOO-TABLE")
    assert table == markdown_table(list_specs()), (
        "README zoo table is stale: regenerate with `stbench list --format markdown`"
    )
    names = re.findall(r"^\| `([a-z0-9_]+)` \|", table, re.M)
    assert names == list_models()


def test_readme_cli_tour_uses_only_existing_subcommands():
    blocks = "\n".join(re.findall(r"```bash\n(.*?)```", README.read_text(), re.S))
    used = set(re.findall(r"^stbench ([a-z-]+)", blocks, re.M))
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    unknown = used - set(sub.choices)
    assert used and not unknown, f"README uses unknown subcommands: {sorted(unknown)}"


def test_readme_cli_tour_lines_parse_with_current_flags():
    parser = build_parser()
    blocks = "\n".join(re.findall(r"```bash\n(.*?)```", README.read_text(), re.S))
    lines = [ln.split(" #")[0] for ln in blocks.splitlines() if ln.startswith("stbench ")]
    for line in lines:
        argv = shlex.split(line)[1:]
        argv = argv[: next((i for i, a in enumerate(argv) if a in (">", "|")), len(argv))]
        assert not {"--json", "--csv", "--markdown"} & set(argv), f"deprecated flag: {line}"
        try:
            parser.parse_args(argv)
        except SystemExit:
            raise AssertionError(f"README tour line does not parse: {line}") from None


def _block(tag: str, lang: str) -> str:
    body = _section(README.read_text(), tag)
    m = re.search(rf"```{lang}\n(.*?)```", body, re.S)
    assert m, f"README {tag} section has no {lang} block"
    return m.group(1)


def test_readme_bring_your_own_model_example_runs(clean_registry, tmp_path, monkeypatch, capsys):
    """The README's own model, from registration to its point on the frontier, verbatim
    (the papers' records are left out here: counting them is the demo's job)."""
    from stbench.cli import main
    from stbench.zoo import records

    monkeypatch.setattr(records, "shipped_files", lambda: [])
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STBENCH_STORE", raising=False)
    module = _block("BYOM-MODULE", "python")
    assert len(module.strip().splitlines()) <= 25, "the README example should stay ~20 lines"
    Path("my_models.py").write_text(module)
    Path("my_records.csv").write_text(_block("BYOM-RECORDS", "csv"))
    for line in _block("BYOM-SHELL", "bash").splitlines():
        argv = shlex.split(line.split(" #")[0])
        assert argv[0] == "stbench" and main(argv[1:]) == 0, line
    capsys.readouterr()
    exec(compile(_block("BYOM-PYTHON", "python"), "README", "exec"), {})
    out = capsys.readouterr().out
    assert re.search(r"mini_kinetics\s+top1\s+41\.0", out), out
    page = Path("stbench_out/mine.html").read_text()
    assert "tiny_attention" in page and "matmul GMACs per clip" in page  # its hover
    assert re.search(r'"user":\s*"my_records.csv"', page)  # drawn as yours
    # its attention is 95% of its MACs: the frontier's GMACs count it, and say so
    assert main(["frontier", "--records", "my_records.csv", "--dataset", "Mini-Kinetics"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert re.search(r"tiny_attention 9\d\.\d%", out) and "total_macs" in out, out
    assert "GMACs per video (conv+linear+matmul)" in out, out


def test_readme_reproduce_summary_matches_the_targets():
    """The README's `stbench reproduce` summary line counts the shipped published figures;
    every figure the zoo does not meet carries its recorded measurement and reason."""
    from stbench.zoo.targets import load_targets

    text = " ".join(_section(README.read_text(), "REPRODUCE").split())
    targets = load_targets()
    recorded = sum(1 for t in targets if t.recorded_measurement is not None)
    met = len(targets) - recorded
    assert text == (
        f"{len(targets)} published figures (met: {met}, recorded: {recorded}, deviating: 0, "
        "error: 0)"
    )
    assert sum(1 for t in targets if t.paper == "ibm") == 384


def test_readme_pytest_plugin_example_runs(tmp_path):
    """The README's own-model benchmark test, verbatim, passes under stbench's plugin."""
    import subprocess
    import sys

    (tmp_path / "test_my_net.py").write_text(_block("PLUGIN-TEST", "python"))
    cmd = [sys.executable, "-m", "pytest", "test_my_net.py", "-q", "-p", "no:cacheprovider"]
    cmd += ["--bench-rounds", "2", "--bench-warmup", "1", "--benchmark-json", "out.json"]
    proc = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout + proc.stderr
    assert (tmp_path / "out.json").exists()
