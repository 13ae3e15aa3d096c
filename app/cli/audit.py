"""``patchdesk audit``: list the tamper-evident audit log, verify its hash chain."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, TextIO

from app.cli.common import EXIT_FAILED, EXIT_OK, Parser, dump_json, open_db, print_table


def add_commands(sub: Any) -> None:
    audit = sub.add_parser("audit", help="the tamper-evident audit log")
    asub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True, parser_class=Parser)
    alist = asub.add_parser("list", help="list audit entries, newest first")
    alist.set_defaults(func=list_entries)
    alist.add_argument("--limit", type=int, default=100)
    alist.add_argument("--action", help="only this action, e.g. host.added")
    alist.add_argument("--json", action="store_true")
    averify = asub.add_parser("verify", help="check the hash chain; exit 1 naming the first broken entry")
    averify.set_defaults(func=verify)
    averify.add_argument("--json", action="store_true")


def verify(args: argparse.Namespace, out: TextIO) -> int:
    from app.services import audit

    check = audit.verify(open_db(args))
    if args.json:
        dump_json(
            out,
            {
                "ok": check.ok,
                "entries": check.entries,
                "broken_id": check.broken_id,
                "reason": check.reason,
                "anchor": check.anchor or None,
            },
        )
    else:
        print(audit.describe(check), file=out if check.ok else sys.stderr)
    return EXIT_OK if check.ok else EXIT_FAILED


def list_entries(args: argparse.Namespace, out: TextIO) -> int:
    from app.services import audit

    entries = audit.entries(open_db(args), limit=args.limit, action=args.action)
    if args.json:
        dump_json(out, {"entries": [e.as_json() for e in entries]}, ensure_ascii=False)
        return EXIT_OK
    print_table(
        out,
        ["ID", "TIME (UTC)", "ACTOR", "ACTION", "TARGET", "DETAILS"],
        [
            [
                str(e.id),
                e.at[:19].replace("T", " "),
                e.actor,
                e.action,
                e.target,
                json.dumps(e.details, ensure_ascii=False, sort_keys=True),
            ]
            for e in entries
        ],
    )
    return EXIT_OK
