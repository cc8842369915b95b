"""The `stbench` command line: the top layer, a thin dispatcher over one module per command.

Each command module exposes ``register(subparsers)``, which adds its parser and sets
``func`` (a callable taking the parsed args and returning an exit code). Arrows point one
way: ``cli -> plots -> bench -> zoo -> models``; nothing below imports from here.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from stbench.cli import list_models, plots, predict, profile, records, reproduce, store, sweep
from stbench.cli.options import OneLineParser, cli_message, load_modules, note_inputs

from stbench.errors import UserError
from stbench.output import command_scope

__all__ = ["UserError", "build_parser", "main"]

# Order here is the order in `stbench --help`.
COMMAND_MODULES = (list_models, profile, predict, sweep, store, records, reproduce, plots)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available subcommand registered."""
    parser = OneLineParser(
        prog="stbench",
        description=(
            "FLOPs and speed-accuracy benchmarking for video action-recognition CNNs. "
            "MACs are multiply-accumulates (1 multiply-add = 1 MAC); FLOPs = 2 x MACs."
        ),
    )
    parser.add_argument("--version", action="version", version=f"stbench {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def _deepest(parser: argparse.ArgumentParser, args: argparse.Namespace) -> argparse.ArgumentParser:
    """The innermost subcommand parser `args` went through (`stbench records validate`)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            chosen = action.choices.get(getattr(args, action.dest, None) or "")
            if chosen is not None:
                return _deepest(chosen, args)
    return parser


def _version() -> str:
    from stbench import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `stbench` console script."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # named by the (sub)command that was typed, not by `stbench`
        _deepest(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with command_scope():  # what the command reads, no output of it may replace
            note_inputs(args)
            load_modules(args)
            return int(args.func(args) or 0)
    except BrokenPipeError:  # e.g. `stbench list --json | head`: the reader left, not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second BrokenPipeError at interpreter exit
        return 0
    except (
        UserError,
        ValueError,
        FileNotFoundError,
        PermissionError,
        IsADirectoryError,
        NotADirectoryError,
    ) as exc:
        print(f"stbench {args.command}: error: {cli_message(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"stbench {args.command}: interrupted", file=sys.stderr)
        return 130
