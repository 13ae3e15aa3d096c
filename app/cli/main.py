"""Parsing and dispatch: the global options, the command parsers of every group, and ``run``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TextIO

from app import __version__
from app.cli.boundary import (
    EXIT_BUG,
    EXIT_INTERRUPTED,
    EXIT_PIPE,
    exit_status,
    known_error,
    log_bug,
    output_closed,
    silence_stdout,
)
from app.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Parser, keep_databases_open
from app.domain.errors import ConfigError

__all__ = [
    "EXIT_BUG",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_PIPE",
    "EXIT_USAGE",
    "build_parser",
    "end_process",
    "main",
    "one_shot",
    "parse",
    "run",
]


def _global_parser() -> argparse.ArgumentParser:
    """The options that come before a command (and are all a GUI start takes)."""
    p = Parser(
        prog="patchdesk", description="Agentless patch-administration console. No command opens the GUI."
    )
    p.add_argument("--version", action="version", version=f"patchdesk {__version__}")
    p.add_argument("--db", type=Path, help="database file (default: under the platform data dir)")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging to stderr")
    p.add_argument(
        "--no-first-run",
        dest="first_run",
        action="store_false",
        help="GUI: do not open the first-run assistant on a start with an empty inventory",
    )
    return p


#: Arguments of a plain GUI start, parsed without building every command's parser (which would slow
#: the window's start-up); anything else, --help included, goes through the full parser.
_GUI_FLAGS = frozenset({"-v", "--verbose", "--no-first-run"})


def _gui_start(argv: Sequence[str]) -> bool:
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--db":
            if i + 1 >= len(argv) or argv[i + 1].startswith("-"):
                return False  # let the full parser say what is missing
            i += 2
            continue
        if not (arg in _GUI_FLAGS or (arg.startswith("--db=") and len(arg) > 5)):
            return False
        i += 1
    return True


def build_parser(only: Sequence[ModuleType] | None = None) -> argparse.ArgumentParser:
    """The parser of every command group; ``only``: of just these group modules (see ``parse``)."""
    p = _global_parser()
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for group in only or _all_groups():
        group.add_commands(sub)
    return p


def _all_groups() -> tuple[ModuleType, ...]:
    from app.cli import (
        audit,
        baseline,
        bundle,
        changes,
        database,
        export,
        firmware,
        hosts,
        jobs,
        policy,
        report,
        run_due,
    )

    # The order here is the order of `patchdesk --help`.
    return (
        hosts,
        jobs,
        baseline,
        changes,
        report,
        audit,
        policy,
        run_due,
        export,
        firmware,
        database,
        bundle,
    )


#: The commands that run jobs on hosts, whose group (app/cli/jobs.py) alone is parsed for them: a
#: one-shot scan waits for its start-up, and every other group's imports and parsers are not its.
_JOB_COMMANDS = frozenset({"scan", "patch", "verify", "rollback", "history"})


def _command_word(argv: Sequence[str]) -> str | None:
    """The command of ``argv`` after the global options (None: an option comes first that the global
    options do not take, such as --help or --version)."""
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--db":
            i += 2
        elif arg in _GUI_FLAGS or arg.startswith("--db="):
            i += 1
        else:
            return None if arg.startswith("-") else arg
    return None


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    args = list(sys.argv[1:] if argv is None else argv)
    if _gui_start(args):
        return _global_parser().parse_args(args, argparse.Namespace(command=None))
    if _command_word(args) in _JOB_COMMANDS:
        from app.cli import jobs

        return build_parser(only=[jobs]).parse_args(args)
    return build_parser().parse_args(args)


def one_shot(args: argparse.Namespace) -> bool:
    """Whether this process may end by ``end_process`` after ``run(args)``: a job command (whose
    runner closes before it returns). The process entry arms it before ``run``."""
    if args.command not in _JOB_COMMANDS:
        return False
    keep_databases_open()
    return True


#: The thread that writes a job's events (app/jobs/recorder.py): while it lives, not everything
#: the job did is in the database.
_RECORDER_THREAD = "patchdesk-recorder"


def end_process(code: int) -> int:
    """End a one-shot process at once with ``code``, skipping what its ordinary exit does after the
    command: closing its database connections (the last one checkpoints the WAL, which the next
    opener does anyway), tearing down modules and the garbage collector's final passes.

    Only when that skips nothing of the command's: it ran to its end (ok or failed: not interrupted,
    not a bug), the job's recorder has written everything and stopped, and no other non-daemon thread
    still runs (the ordinary exit would wait for it). Otherwise ``code`` is returned, to exit as usual.
    """
    if code not in (EXIT_OK, EXIT_FAILED):
        return code
    for t in threading.enumerate():
        if t is threading.main_thread() or not t.is_alive():
            continue
        if t.name == _RECORDER_THREAD or not t.daemon:
            return code
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            return code  # a closed pipe or stream: the ordinary exit says so
    logging.shutdown()  # the log file's last lines
    os._exit(code)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run a parsed command behind the error boundary: a known condition becomes a sentence on stderr
    and an exit status; a bug one line on stderr, its traceback in the log file."""
    from app.logsetup import setup_logging

    out = out or sys.stdout
    setup_logging(verbose=args.verbose)
    try:
        func = getattr(args, "func", None)
        if func is None:
            raise ConfigError(f"Unknown command {args.command!r}.")
        code: int = func(args, out)
        out.flush()  # a closed pipe shows here, inside the boundary, not at the interpreter's exit
        return code
    except KeyboardInterrupt:
        print("patchdesk: interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError as exc:
        if not output_closed(out):
            return _failed(exc, args)
        silence_stdout()
        return EXIT_PIPE
    except Exception as exc:
        return _failed(exc, args)


def _failed(exc: BaseException, args: argparse.Namespace) -> int:
    """The error boundary: a known condition is a sentence, a bug one line (its traceback: the log)."""
    known = known_error(exc, getattr(args, "db", None))
    if known is None:
        where = log_bug(exc)
        log = f" The details are in the log file {where}." if where else ""
        print(f"patchdesk: internal error (a bug): {type(exc).__name__}: {exc}.{log}", file=sys.stderr)
        return EXIT_BUG
    print(f"patchdesk: {known}", file=sys.stderr)
    return exit_status(known)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if args.command is None:
        build_parser().print_help()
        return EXIT_USAGE
    return run(args)
