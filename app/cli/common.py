"""What every command module shares: exit codes, the parser class, the database, output helpers."""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
from collections.abc import Callable
from datetime import datetime
from typing import Any, TextIO

from app.domain.errors import ConfigError

logger = logging.getLogger("app.cli")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class Parser(argparse.ArgumentParser):
    """A usage error exits with EXIT_USAGE, the sentence after the usage line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


#: The databases a command opened, kept open to the end of a process that leaves by ``end_process``
#: (armed by ``keep_databases_open``; None: not armed, a connection closes when dropped as usual).
_kept: list[Any] | None = None


def keep_databases_open() -> None:
    """For a one-shot process only: the last connection to close checkpoints the WAL into the database
    (two fdatasync, about 0.1 s); kept open until ``end_process`` it never closes, and the next opener
    checkpoints instead. Nothing committed is lost: a commit is in the WAL, which SQLite reads."""
    global _kept
    _kept = []


def open_db(args: argparse.Namespace) -> Any:
    from db.database import open_database
    from db.jobs import mark_interrupted

    db = open_database(args.db)
    if _kept is not None:
        _kept.append(db)
    # A console killed mid-job left steps "running": say they were interrupted, before anything else.
    marked = mark_interrupted(db)
    if marked:
        logger.warning("marked %d unfinished host step(s) of an earlier run as interrupted", marked)
    return db


def secret_store() -> Any:
    from app.secrets import SecretStore

    return SecretStore()


def dump_json(out: TextIO, data: object, **kw: Any) -> None:
    # One write: json.dump hands the stream every token on its own (tens of thousands for a scan's
    # report), each a call into the stream and, unbuffered (PYTHONUNBUFFERED, a pipe), a system call.
    out.write(json.dumps(data, indent=2, **kw) + "\n")


def print_table(out: TextIO, header: list[str], rows: list[list[str]]) -> None:
    def clean(s: str) -> str:  # host text may carry control characters; never let it drive the terminal
        return "".join(c if c.isprintable() else "?" for c in s)

    table = [header] + [[clean(c) for c in r] for r in rows]
    widths = [min(60, max(len(r[i]) for r in table)) for i in range(len(header))]
    for r in table:
        print("  ".join(c[:60].ljust(w) for c, w in zip(r, widths, strict=True)).rstrip(), file=out)


def parse_time(value: str | None, what: str = "--now") -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"{what} {value!r} is not an ISO date-time (e.g. 2026-05-02T22:30+02:00).") from exc
    return dt if dt.tzinfo else dt.astimezone()


#: The longest per-host deadline or timeout an option takes (a week): beyond it the job's timers
#: overflow, and nobody means it.
MAX_SECONDS = 7 * 24 * 3600.0


def positive_number(limit: float, unit: str) -> Callable[[str], float]:
    """An argparse type: a finite number above 0 and at most ``limit``. ``nan`` compares false with
    everything, so a NaN deadline would never run out; it and negative values are usage errors."""

    def parse(value: str) -> float:
        try:
            number = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value[:40]!r} is not a number of {unit}") from None
        if not math.isfinite(number) or not 0 < number <= limit:
            raise argparse.ArgumentTypeError(
                f"must be a number of {unit} above 0 and at most {limit:.0f}, not {value[:40]!r}"
            )
        return number

    return parse


#: Deadlines and timeouts in seconds.
seconds = positive_number(MAX_SECONDS, "seconds")


def int_between(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from ``low`` to ``high``."""

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, not {value}")
        return number

    return parse


def split_list(value: str | None) -> list[str] | None:
    """A comma-separated option as a list; None when not given, a ConfigError when empty."""
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    if not items:
        raise ConfigError("An empty list was given.")
    return items
