"""Options every command shares: the output flags (--format, --out), --store and --records."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NoReturn

STORE_HELP = "results store (default: $STBENCH_STORE or results/stbench.sqlite)"
LEGACY_FLAGS = ("json", "csv", "markdown")


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line (`stbench CMD: error: ...`), exit 2."""

    def error(self, message: str) -> NoReturn:
        """Print the error and where to read the usage, then exit 2."""
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def command(
    sub: argparse._SubParsersAction, name: str, summary: str, description: str | None = None
) -> argparse.ArgumentParser:
    """Add one subcommand parser: `summary` in `stbench --help`, `description` in its own."""
    return sub.add_parser(name, help=summary, description=description or summary)


def add_input(p: argparse.ArgumentParser, batch_help: str = "batch size (default 1)") -> None:
    """Add --frames, --size, --batch and --classes (checked later, one line naming each)."""
    p.add_argument("--frames", metavar="T", help="clip length T (default: the model's spec)")
    p.add_argument("--size", metavar="S", help="spatial size S (S x S; default: the spec's)")
    p.add_argument("--batch", metavar="B", default="1", help=batch_help)
    p.add_argument("--classes", metavar="C", help="number of classes (default: the spec's)")


def _int_option(name: str, text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name}: got {text!r}; allowed: an integer >= 1") from None


def input_options(args: argparse.Namespace) -> dict[str, int | None]:
    """The --frames/--size/--batch/--classes given, as integers (their range is checked by
    the configuration); a non-integer is one line naming the option."""
    return {
        "frames": _int_option("frames", args.frames),
        "size": _int_option("size", args.size),
        "batch": _int_option("batch", args.batch),
        "num_classes": _int_option("classes", args.classes),
    }


def add_module(p: argparse.ArgumentParser) -> None:
    """Add --module FILE.py|package.module (repeatable): modules that register your own models."""
    p.add_argument(
        "--module",
        dest="modules",
        action="append",
        default=[],
        metavar="FILE.py|MODULE",
        help="import this .py file or module first: the models it registers with "
        "stbench.register_model work like zoo names (repeatable)",
    )


def load_modules(args: argparse.Namespace) -> tuple[str, ...]:
    """Import the --module files/modules (before any model name is looked up); their specs."""
    specs = getattr(args, "modules", None)
    if not specs:
        return ()
    from stbench.zoo.plugins import load_modules as load

    return load(specs)


def expand_names(patterns: list[str]) -> list[str]:
    """Zoo names for the given names/patterns; unknown names raise naming the closest ones."""
    from stbench.zoo import get_spec, list_models

    names: list[str] = []
    for pat in patterns:
        if any(c in pat for c in "*?["):
            hits = list_models(pat)
            if not hits:
                raise ValueError(f"model: no zoo model matches {pat!r} (see `stbench list`)")
            names.extend(hits)
        else:
            names.append(get_spec(pat).name)
    return list(dict.fromkeys(names))


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
    p.add_argument(
        "--throughput-batch", type=int, metavar="N", help="also measure clips/s at batch N"
    )


def add_store(p: argparse.ArgumentParser, summary: str = STORE_HELP) -> None:
    """Add --store PATH."""
    p.add_argument("--store", metavar="PATH", help=summary)


def add_records(p: argparse.ArgumentParser) -> None:
    """Add --records FILE (repeatable; several files after one flag too)."""
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
    for flag, field, kind, _summary in PROTOCOL_OPTIONS:
        text = getattr(args, field, None)
        if text is None:
            continue
        try:
            out[field] = kind(text)
        except (TypeError, ValueError):
            what = "an integer >= 1" if kind is int else "a number > 0"
            raise ValueError(f"{flag}: got {text!r}; allowed: {what}") from None
    return out
