"""README.md tells the truth: its zoo table is the registry's, its commands exist."""

import re
import shlex
from pathlib import Path

from stbench.cli import build_parser
from stbench.cli.list_models import markdown_table
from stbench.zoo import list_models, list_specs

README = Path(__file__).resolve().parents[1] / "README.md"


def _section(text: str, tag: str) -> str:
    m = re.search(rf"<!-- {tag}:BEGIN -->\n(.*?)<!-- {tag}:END -->", text, re.S)
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
