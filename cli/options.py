"""Options every command shares: model selection, --module, the output flags (--format,
--out), --store, --records, and the wording of errors in the user's terms."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import NoReturn

from stbench.errors import UserError
from stbench.values import positive_int, positive_number

STORE_HELP = "results store (default: $STBENCH_STORE or results/stbench.sqlite)"
LEGACY_FLAGS = ("json", "csv", "markdown")


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (`stbench CMD: error: ...`), exit 2."""

    def error(self, message: str) -> NoReturn:
        """Print the error and where to read the usage, then exit 2."""
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def command(
    sub: argparse._SubParsersAction,
    name: str,
    summary: str = "",
    description: str | None = None,
    *,
    doc: str | None = None,
) -> argparse.ArgumentParser:
    """Add one subcommand parser: `summary` in `stbench --help`, `description` in its own;
    or both from `doc`, a command module's docstring (`doc_help`)."""
    if doc is not None:
        summary, description = doc_help(doc)
    return sub.add_parser(name, help=summary, description=description or summary)


def doc_help(doc: str) -> tuple[str, str | None]:
    """A command module's docstring as (summary, description): its first line after
    "`stbench NAME`: " is the summary in `stbench --help`, the paragraphs after it the
    description in the command's own help (one text for both, never a second copy)."""
    head, _, body = doc.strip().partition("\n\n")
    summary = head.split(": ", 1)[-1].rstrip(".")
    return " ".join(summary.split()), " ".join(body.split()) or None


def add_input(p: argparse.ArgumentParser, batch_help: str = "batch size (default 1)") -> None:
    """Add --frames, --size, --batch and --classes (checked later, one line naming each)."""
    p.add_argument("--frames", metavar="T", help="clip length T (default: the model's spec)")
    p.add_argument("--size", metavar="S", help="spatial size S (S x S; default: the spec's)")
    p.add_argument("--batch", metavar="B", default="1", help=batch_help)
    p.add_argument("--classes", metavar="C", help="number of classes (default: the spec's)")


def input_options(args: argparse.Namespace) -> dict[str, int | None]:
    """The --frames/--size/--batch/--classes given, as integers checked by the one rule of
    each (`stbench.values`); a bad value is one line naming the option."""
    given = {"frames": args.frames, "size": args.size, "batch": args.batch}
    given["num_classes"] = args.classes
    return {k: None if v is None else positive_int(k, v) for k, v in given.items()}


MODULE_HELP = (
    "import this .py file or module first: the models it registers with "
    "stbench.register_model work like zoo names (repeatable)"
)


def add_module(p: argparse.ArgumentParser) -> None:
    """Add --module FILE.py|package.module (repeatable): modules that register your own models
    (once per parser: model arguments and --records both bring it)."""
    if "--module" in p._option_string_actions:
        return
    kind = {"action": "append", "default": [], "metavar": "FILE.py|MODULE"}
    p.add_argument("--module", dest="modules", help=MODULE_HELP, **kind)


# Options naming files a command reads: (attribute, how the output rule names it).
INPUT_OPTIONS = (
    ("records", "--records"),
    ("for_records", "--for-records"),
    ("files", "FILE"),
    ("file", "FILE"),
)


def note_inputs(args: argparse.Namespace) -> None:
    """Tell the output rule every file the command's options name for reading."""
    from stbench.output import reads

    for attr, role in INPUT_OPTIONS:
        value = getattr(args, attr, None)
        for item in [value] if isinstance(value, (str, Path)) else value or []:
            if str(item):
                reads(item, role)
    for spec in getattr(args, "modules", None) or []:
        if spec.endswith(".py") or "/" in spec:
            reads(spec, "--module")
    if hasattr(args, "store"):
        from stbench.bench.store.results import default_store_path

        reads(args.store or default_store_path(), "--store")


def load_modules(args: argparse.Namespace) -> tuple[str, ...]:
    """Import the --module files/modules (before any model name is looked up); their specs."""
    specs = getattr(args, "modules", None)
    if not specs:
        return ()
    from stbench.zoo.plugins import load_modules as load

    return load(specs)


PATTERN_CHARS = "*?["
# (what matched, word for the closest names, where to look) per kind of name list
SOURCES = {
    "zoo": (
        "zoo model",
        "registered",
        " (see `stbench list`; models of your own: --module FILE.py)",
    ),
    "store": ("stored model", "stored", ""),
    "targets": ("model with a published figure", "published", ""),
}


def expand_names(
    items: str | Sequence[str] | None,
    *,
    option: str = "MODEL",
    names: Iterable[str] | None = None,
    source: str = "zoo",
    where: str = "",
) -> list[str]:
    """The one model-selection grammar of every command: several arguments, each a comma
    list of exact names (case-insensitive) or shell patterns; the names in order, each once.

    `names` is what can be selected (default: the zoo's registered names; `source` words
    the messages, `where` replaces their hint). A name or pattern that matches nothing
    raises one line naming `option` (the closest names for a typo).
    """
    import difflib
    import fnmatch

    what, closest, hint = SOURCES[source]
    hint = f" {where}" if where else hint
    items = [items] if isinstance(items, str) else list(items or [])
    parts = [p.strip() for item in items for p in item.split(",") if p.strip()]
    if not parts:
        raise UserError(f"{option}: got nothing; allowed: model names or shell patterns")
    if names is None:
        from stbench.zoo import list_models

        names = list_models()
    by_lower = {n.lower(): n for n in names}
    out: list[str] = []
    for part in parts:
        key = part.lower()
        if any(c in part for c in PATTERN_CHARS):
            hits = sorted(n for low, n in by_lower.items() if fnmatch.fnmatchcase(low, key))
            if not hits:
                raise UserError(f"{option}: no {what} matches {part!r}{hint}")
            out.extend(hits)
        elif key in by_lower:
            out.append(by_lower[key])
        else:
            near = difflib.get_close_matches(key, list(by_lower), n=5, cutoff=0.5)
            near_text = f"; closest {closest} names: {', '.join(near)}" if near else ""
            raise UserError(f"{option}: unknown model name {part!r}{near_text}{hint}")
    return list(dict.fromkeys(out))


SELECTION_HELP = (
    "zoo model names or shell patterns, several or comma-separated (e.g. 'mc*,rmc*'); "
    "names ignore case"
)


def add_models(p: argparse.ArgumentParser, nargs: str = "+", summary: str = SELECTION_HELP) -> None:
    """Add the MODEL arguments of the one selection grammar (see `expand_names`) and
    --module, which registers models of your own before the names are read."""
    p.add_argument("names", nargs=nargs, metavar="MODEL", help=summary)
    add_module(p)


# Leading names of lower layers' messages (`field: got X`) -> the CLI option the user typed:
# the only place where a field meets its flag.
OPTION_OF = {
    "frames": "--frames",
    "size": "--size",
    "size/batch": "--size/--batch",
    "sizes": "--sizes",
    "batch": "--batch",
    "batches": "--batches",
    "classes": "--classes",
    "num_classes": "--classes",
    "timing": "--time",
    "dtype": "--dtype",
    "device": "--device",
    "counters": "--counters",
    "units": "--units",
    "throughput_batch": "--throughput-batch",
    "store": "--store",
    "warmup_s": "--warmup",
    "max_warmup_s": "--max-warmup",
    "min_iters": "--min-iters",
    "max_iters": "--max-iters",
    "max_time_s": "--max-time",
    "threads": "--threads",
    "timeout_s": "--timeout",
    "jobs": "--jobs",
    "ray_cpus": "--ray-cpus",
    "time_budget_s": "--time-budget",
    "cost": "--cost",
    "per": "--per",
    "dataset": "--dataset",
    "metric": "--metric",
    "level": "--level",
    "dashboard": "--dashboard",
    "module": "--module",
    "executor": "--executor",
    "address": "--address",
    "preset": "--preset",
    "gpu": "--gpu",
}
# The models' input check names the tensor; at the CLI its spatial size is --size.
INPUT_MESSAGES = {"x: got spatial size": "--size: got spatial size"}


def cli_message(text: str) -> str:
    """A lower layer's one-line message with its argument name replaced by the CLI option."""
    for internal, public in INPUT_MESSAGES.items():
        if text.startswith(internal):
            return public + text[len(internal) :]
    name, sep, rest = text.partition(": ")
    field, space, value = name.partition(" ")  # 'executor ray: ...' names a field and its value
    if not sep or (name not in OPTION_OF and field not in OPTION_OF):
        return text
    return (
        f"{OPTION_OF[name]}: {rest}" if name in OPTION_OF else f"{OPTION_OF[field]} {value}: {rest}"
    )


@contextlib.contextmanager
def about_model(name: str, several: bool = True) -> Iterator[None]:
    """Re-raise a ValueError inside as one line naming the CLI option and, when `several`
    models are selected, the model."""
    try:
        yield
    except ValueError as exc:
        text = cli_message(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise ValueError(f"{name}: {text}" if several else text) from None


def add_measure(p: argparse.ArgumentParser) -> None:
    """Add where and how a profile runs and what it measures: --device, --dtype,
    --channels-last, --compile, --time, --memory, --throughput-batch."""
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    p.add_argument(
        "--dtype",
        default="float32",
        help="float32, bfloat16 or float16 (autocast; default float32)",
    )
    p.add_argument("--channels-last", action="store_true", help="channels_last_3d memory format")
    p.add_argument("--compile", action="store_true", help="torch.compile the model before timing")
    p.add_argument("--time", action="store_true", help="measure latency (ms: median, IQR, p90)")
    p.add_argument("--memory", action="store_true", help="measure peak memory (MiB) of a forward")
    p.add_argument("--throughput-batch", metavar="N", help="also measure clips/s at batch N")


def add_store(p: argparse.ArgumentParser, summary: str = STORE_HELP) -> None:
    """Add --store PATH."""
    p.add_argument("--store", metavar="PATH", help=summary)


def add_records(p: argparse.ArgumentParser) -> None:
    """Add --records FILE (repeatable; several files after one flag too) and --module (your
    records may name models of your own)."""
    add_module(p)
    p.add_argument(
        "--records",
        action="extend",
        nargs="+",
        default=[],
        metavar="FILE",
        help="your own accuracy records (CSV in the records format, see `stbench records "
        "validate`), added to the shipped ones and drawn as yours; repeatable",
    )


def records_files(args: argparse.Namespace) -> list[Path]:
    """The --records files, checked before any work (a missing file, a bad column or row is
    one line `--records FILE: ...`)."""
    from stbench.zoo.records import check_user_files

    return check_user_files(getattr(args, "records", None) or [])


def add_output(
    p: argparse.ArgumentParser,
    default: str = "table",
    what: str = "the table",
    legacy: tuple[str, ...] = LEGACY_FLAGS,
    note: str = "",
) -> argparse._MutuallyExclusiveGroup:
    """Add --format and --out (the old --json/--csv/--markdown stay as hidden aliases);
    returns the group --format belongs to."""
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--format",
        metavar="FORMAT",
        help=f"table, markdown, csv or json (default: from --out's extension, else {default})",
    )
    for name in legacy:  # deprecated spellings of --format NAME, kept for old scripts
        group.add_argument(
            f"--{name}", dest="format", action="store_const", const=name, help=argparse.SUPPRESS
        )
    p.add_argument(
        "--out",
        metavar="FILE",
        help=f"write {what} to FILE instead of stdout (.txt, .md, .csv or .json; written "
        f"whole or not at all, folder created{note})",
    )
    return group


def output_format(args: argparse.Namespace, default: str = "table") -> str:
    """The format asked for by --format (or an alias) and --out's extension."""
    from stbench.output import resolve_format

    return resolve_format(args.format, args.out, default=default)


PROTOCOL_OPTIONS = (
    # (flag, field, kind, help)
    ("--warmup", "warmup_s", float, "seconds of warm-up before timing (default 0.5)"),
    (
        "--max-warmup",
        "max_warmup_s",
        float,
        "seconds of warm-up at most, even if not yet stable (default 10; at least 1 call)",
    ),
    ("--min-iters", "min_iters", int, "timed iterations at least (default 20)"),
    ("--max-iters", "max_iters", int, "timed iterations at most (default 300)"),
    ("--max-time", "max_time_s", float, "seconds of timing at most (default 20)"),
    ("--threads", "threads", int, "intra-op CPU threads while measuring (default: torch's)"),
)


def add_protocol(p: argparse.ArgumentParser) -> None:
    """Add the timing-protocol options (--warmup, --max-warmup, --min-iters, --max-iters, --max-time,
    --threads); rows record the values used."""
    group = p.add_argument_group("timing protocol (recorded in each timed row)")
    for flag, field, _kind, summary in PROTOCOL_OPTIONS:
        group.add_argument(flag, dest=field, metavar="N", help=summary)


def protocol_options(args: argparse.Namespace) -> dict[str, int | float]:
    """The protocol options given, converted; a bad value is one line naming the option."""
    out: dict[str, int | float] = {}
    for _flag, field, kind, _summary in PROTOCOL_OPTIONS:
        text = getattr(args, field, None)
        if text is not None:
            check = positive_int if kind is int else positive_number
            out[field] = check(field, text)
    return out
