"""``patchdesk changes NAME``: a host's package history as its scans read it, each change with the
Patchdesk job that made it, or "outside" when none did.

Exit status: 0 when the history was read (whatever it holds); 1 when it could not be read, or no scan
has read it yet, so a script never takes an unknown history for "no outside changes".
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from app.cli.common import EXIT_FAILED, EXIT_OK, dump_json, open_db, parse_time, print_table
from app.domain.errors import ConfigError


def add_commands(sub: Any) -> None:
    p = sub.add_parser("changes", help="a host's package changes: by which job, or outside Patchdesk")
    p.set_defaults(func=show)
    p.add_argument("name", metavar="NAME", help="the host")
    p.add_argument("--since", help="ISO date-time: only changes from then on")
    p.add_argument("--outside-only", action="store_true", help="only the changes no Patchdesk job made")
    p.add_argument("--json", action="store_true")


def show(args: argparse.Namespace, out: TextIO) -> int:
    from app.services import outside_changes
    from db import hosts as db_hosts

    db = open_db(args)
    host = db_hosts.find_host(db, args.name)
    if host is None:
        raise ConfigError(f"No host named {args.name!r} (see `patchdesk hosts list`).")
    found = outside_changes.host_changes(
        db, host, since=parse_time(args.since, "--since"), outside_only=args.outside_only
    )
    if args.json:
        dump_json(out, found.as_dict(), ensure_ascii=False)
    else:
        _print(out, found)
    return EXIT_OK if found.known else EXIT_FAILED


def _print(out: TextIO, found: Any) -> None:
    if found.status == "never":
        print(f"{found.host}: {found.note}; run `patchdesk scan {found.host}`.", file=out)
    elif found.status == "unknown":
        print(f"{found.host}: package history UNKNOWN at the last scan ({found.note}).", file=out)
    elif found.status == "partial":
        print(f"{found.host}: package history read in part ({found.note}).", file=out)
    rows = [
        [
            r.when.strftime("%Y-%m-%d %H:%M:%S"),
            r.manager,
            r.action,
            r.name,
            r.from_version or "-",
            r.to_version or "-",
            f"job {r.authorized_job}" if r.authorized_job is not None else "OUTSIDE",
        ]
        for r in found.rows
    ]
    if rows:
        print_table(out, ["WHEN (UTC)", "MANAGER", "ACTION", "PACKAGE", "FROM", "TO", "BY"], rows)
    elif found.known:
        print(f"{found.host}: no package changes in the history read.", file=out)
