"""``patchdesk run-due``: run due work once (scans, promotions, urgent pushes, windows), e.g. from cron."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from app.cli.common import EXIT_FAILED, EXIT_OK, dump_json, open_db, parse_time, seconds, secret_store


def add_commands(sub: Any) -> None:
    rd = sub.add_parser("run-due", help="run due work once: scans, promotions, urgent pushes, windows")
    rd.add_argument("--now", help="simulate this ISO time (default: now)")
    rd.add_argument("--dry-run", action="store_true", help="say what is due, change nothing")
    rd.add_argument("--override-windows", action="store_true", help="urgent pushes ignore windows-only rules")
    rd.add_argument("--connect-timeout", type=seconds, default=10.0)
    rd.add_argument("--deadline", type=seconds, default=3600.0, help="overall seconds per host")
    rd.add_argument("--json", action="store_true")
    rd.set_defaults(func=run_due)


def run_due(args: argparse.Namespace, out: TextIO) -> int:
    from app.jobs import scheduler
    from db.database import default_db_path

    db = open_db(args)
    now = parse_time(args.now)
    db_path = args.db or default_db_path()
    db.conn.close()  # run_due opens its own connection
    report = scheduler.run_due(
        db_path,
        now,
        args.dry_run,
        secrets=None if args.dry_run else secret_store(),
        override_windows=args.override_windows,
        owner="patchdesk run-due",
        connect_timeout=args.connect_timeout,
        host_deadline=args.deadline,
    )
    if not args.dry_run:
        from app.services.host_policy import record_pass_auto_rollbacks

        record_pass_auto_rollbacks(db_path, report.patches)
    _soak_alerts(db_path, report, args.dry_run)
    if args.json:
        dump_json(out, report.as_json())
    else:
        _print_report(report, out)
    if report.locked_by:
        print(
            f"patchdesk: another scheduler is running due work: {report.locked_by}; nothing done.",
            file=sys.stderr,
        )
        return EXIT_OK
    return EXIT_OK if report.ok else EXIT_FAILED


def _soak_alerts(db_path: Any, report: Any, dry_run: bool) -> None:
    """Mail the alerts of red or blind soak checks (when mail is configured); problems go to stderr."""
    from app.services import alerts
    from db.database import open_database

    found = [] if dry_run else alerts.soak_alerts(report.soak)
    if not found:
        return
    db = open_database(db_path, migrate=False)
    try:
        for problem in alerts.deliver(db, found, secrets=secret_store()):
            print(f"patchdesk: {problem}", file=sys.stderr)
    finally:
        db.conn.close()


def _print_report(report: Any, out: TextIO) -> None:
    head = "Would run" if report.dry_run else "Ran"
    print(f"{head} due work at {report.now.isoformat()}:", file=out)
    for s in report.scans:
        print(f"  scan {s['host']}: {s['status']}", file=out)
    for p in report.promotions:
        print(f"  promoted {p['update']} {p['from'] or 'new'} -> {p['to']}: {p['reason']}", file=out)
    for p in report.patches:
        line = f"  patch {p['host']} ({p['trigger']}): {', '.join(p['updates'])}: {p['status']}"
        if p.get("verification"):
            line += f", verification {p['verification']['verdict']}"
        print(line, file=out)
        if p.get("error"):
            print(f"    error: {p['error']}", file=out)
    for d in report.deferred:
        print(f"  deferred {d['host']}: {d['reason']}", file=out)
    for c in report.soak:
        verdict = c["verdict"] or c["status"]
        why = f": {c['reasons'][0]}" if c["reasons"] and c["verdict"] != "green" else ""
        print(f"  soak check {c['host']} ({c['update']}, {c['ring']} ring): {verdict}{why}", file=out)
    for rb in report.rollbacks:
        print(f"  rolled back {rb['host']} (a soak check was red): {rb['status']}", file=out)
    for h in report.held:
        print(f"  held {h['update']}: {h['reason']}", file=out)
    waits: dict[tuple[str, str], list[str]] = {}
    for w in report.waiting:
        waits.setdefault((w["host"], w["reason"]), []).append(w["update"] or "")
    for (host, reason), updates in waits.items():
        names = ", ".join(u for u in updates if u)
        print(f"  waiting {host}{': ' + names if names else ''}: {reason}", file=out)
    if not (report.scans or report.promotions or report.patches or report.deferred or report.soak):
        print("  nothing due.", file=out)
