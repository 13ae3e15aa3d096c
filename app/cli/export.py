"""``patchdesk export``: upcoming maintenance windows as iCalendar, the change log as iCalendar or CSV,
the hardware inventory as CSV or JSON."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from app.cli.common import EXIT_OK, Parser, int_between, open_db, parse_time

#: The furthest ahead `export ics` looks (ten years): a window's dates past year 9999 do not exist.
MAX_DAYS = 3660


def add_commands(sub: Any) -> None:
    ex = sub.add_parser(
        "export",
        help="export windows (.ics), the change log (.ics / CSV), hardware (CSV / JSON) or an Ansible "
        "inventory and playbooks",
    )
    esub = ex.add_subparsers(dest="export_command", metavar="WHAT", required=True, parser_class=Parser)
    ei = esub.add_parser("ics", help="upcoming maintenance windows as iCalendar")
    ei.set_defaults(func=export)
    ei.add_argument("-o", "--output", type=Path)
    ei.add_argument("--days", type=int_between(1, MAX_DAYS), default=90, help=f"1 to {MAX_DAYS} (default 90)")
    ei.add_argument("--now")
    ec = esub.add_parser("changes", help="what changed where, when")
    ec.set_defaults(func=export)
    ec.add_argument("--format", choices=["ics", "csv"], default="csv")
    ec.add_argument("-o", "--output", type=Path)
    ec.add_argument("--since", help="ISO date-time")
    ec.add_argument(
        "--patchdesk-only", action="store_true", help="leave out the changes made outside Patchdesk"
    )
    ea = esub.add_parser("ansible", help="an Ansible inventory and playbooks (patching per ring, baselines)")
    ea.set_defaults(func=export_ansible)
    ea.add_argument("-o", "--output", type=Path, required=True, metavar="DIR")
    eh = esub.add_parser("hardware", help="the hardware inventory of every host (CSV or JSON)")
    eh.set_defaults(func=export_hardware)
    eh.add_argument("--format", choices=["csv", "json"], default="csv")
    eh.add_argument("-o", "--output", type=Path)
    eh.add_argument("--model", metavar="TEXT", help="only hosts whose manufacturer or model contains TEXT")


def export_ansible(args: argparse.Namespace, out: TextIO) -> int:
    from app.services import ansible_export

    for path in ansible_export.export_from_db(open_db(args), args.output):
        print(f"Wrote {path}.", file=out)

    return EXIT_OK


def export_hardware(args: argparse.Namespace, out: TextIO) -> int:
    """``export hardware``: one row per host, as its last scan read the hardware (empty: not known)."""
    from app.reports.hardware import hardware_csv, hardware_json
    from db import hardware as db_hardware
    from db import hosts as db_hosts

    db = open_db(args)
    hosts = db_hosts.list_hosts(db)
    hardware = db_hardware.all_hardware(db)
    text = (hardware_csv if args.format == "csv" else hardware_json)(hosts, hardware, args.model)
    if args.output:
        from app.reports import files

        files.write_text(args.output, text)
        print(f"Wrote {args.output}.", file=sys.stderr)
    else:
        out.write(text)
    return EXIT_OK


def export(args: argparse.Namespace, out: TextIO) -> int:
    from app.domain.maintenance_windows import next_windows
    from app.reports import calendar
    from db import maintenance_windows as db_windows

    db = open_db(args)
    now = datetime.now(UTC)
    if args.export_command == "ics":
        start = parse_time(args.now) or now
        windows = db_windows.list_windows(db)
        occs = [
            o
            for o in next_windows(windows, start, limit=10000, horizon=timedelta(days=max(1, args.days)))
            if o.start <= start + timedelta(days=args.days)
        ]
        text = calendar.windows_ics(occs, now, _window_plans(db, windows))
    else:
        text = _changes(db, args, now)
    if args.output:
        from app.reports import files

        files.write_text(args.output, text)
        print(f"Wrote {args.output}.", file=sys.stderr)
    else:
        out.write(text)
    return EXIT_OK


def _changes(db: Any, args: argparse.Namespace, now: datetime) -> str:
    """Patchdesk's change records and, unless left out, the changes made outside it (each CSV row says
    "job N" or "outside" in its ``authorized`` column)."""
    from app.reports import calendar
    from app.services import outside_changes
    from db import changelog
    from db import outside_changes as db_outside

    since = parse_time(args.since, "--since")
    entries = changelog.change_log(db, since)
    outside = [] if args.patchdesk_only else db_outside.history(db, since=since, outside_only=True)
    if args.format == "ics":
        return calendar.changes_ics(entries, now, outside_changes.outside_events(outside))
    return outside_changes.change_log_csv(entries, outside)


def _window_plans(db: Any, windows: list[Any]) -> dict[str, str]:
    from app.services.maintenance_windows import window_plan

    return {w.name: window_plan(db, w).summary() for w in windows}
