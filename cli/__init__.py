"""The `stbench` command line: the top layer, a thin dispatcher over one module per command.

Each command module exposes ``register(subparsers)``, which adds its parser and sets
``func`` (a callable taking the parsed args and returning an exit code). Arrows point one
way: ``cli -> plots -> bench -> zoo -> models``; nothing below imports from here.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import signal
import sys
import threading
from collections.abc import Sequence

from stbench.cli import list_models, plots, predict, profile, records, reproduce, store, sweep
from stbench.cli.options import OneLineParser, cli_message, load_modules, note_inputs

from stbench.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_TERMINATED,
    EXIT_USAGE,
    Terminated,
    UserError,
)
from stbench.output import command_scope
from stbench.values import store_path

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


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `stbench` console script (exit statuses: README, "Exit statuses")."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # named by the (sub)command that was typed, not by `stbench`
        _deepest(parser, args).error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    here = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if here else None
    try:
        return _run(args)
    finally:
        if here:
            signal.signal(signal.SIGTERM, previous)


def _say(args: argparse.Namespace, text: str) -> None:
    with contextlib.suppress(OSError, ValueError, AttributeError):
        print(f"stbench {args.command}: {text}", file=sys.stderr, flush=True)


def _run(args: argparse.Namespace) -> int:
    try:
        if sys.stdout is None:  # started with stdout closed (`stbench list >&-`)
            raise UserError("stdout: got a closed stdout; allowed: an open one (or --out FILE)")
        if getattr(args, "store", None) is not None:  # one rule for --store, every command
            store_path(args.store)
        with command_scope():  # what the command reads, no output of it may replace
            note_inputs(args)
            load_modules(args)
            status = int(args.func(args) or 0)
        if sys.stdout is not None:
            sys.stdout.flush()  # a full stdout is an error here, not at interpreter exit
        return status
    except BrokenPipeError:  # e.g. `stbench list --json | head`: the reader left, not an error
        _quiet_stdout()
        return EXIT_OK
    except (
        UserError,
        ValueError,
        FileNotFoundError,
        PermissionError,
        IsADirectoryError,
        NotADirectoryError,
    ) as exc:
        text = cli_message(str(exc) or type(exc).__name__)
        listing = isinstance(exc, ValueError) and hasattr(exc, "problems")  # records validate
        _say(args, f"error: {text if listing else one_line(text)}")
        return EXIT_USAGE
    except OSError as exc:
        if not _stdout_failed(exc):
            raise
        _quiet_stdout()
        _say(args, f"error: cannot write to stdout ({exc.strerror or exc})")
        return EXIT_USAGE
    except KeyboardInterrupt:
        _say(args, "interrupted")
        return EXIT_INTERRUPTED
    except Terminated:
        _say(args, "terminated (SIGTERM); work stored so far is kept, claims released")
        return EXIT_TERMINATED


# Characters that end a line for a terminal or for str.splitlines().
LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


def one_line(text: str) -> str:
    """`text` on one line: a value's line breaks shown escaped (e.g. a path holding `\\r`)."""
    return text.translate({ord(c): repr(c)[1:-1] for c in LINE_BREAKS})


def _stdout_failed(exc: OSError) -> bool:
    """Whether an OSError is stdout refusing output (full disk, closed descriptor)."""
    return exc.errno in (errno.ENOSPC, errno.EBADF, errno.EPIPE, errno.EIO) or sys.stdout is None


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that no second error comes at interpreter exit."""
    with contextlib.suppress(OSError, ValueError, AttributeError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
