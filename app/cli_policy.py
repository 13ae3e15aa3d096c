"""The policy commands of the CLI: advisories, rules, windows, approvals, run-due, exports.

Kept apart from app/cli.py (which wires them in) so the policy face reads as one piece. Same
conventions: exit 0 when everything succeeded, 1 when something failed, 2 on usage errors; ``--json``
for machines.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from app.domain.errors import ConfigError
from app.services import audit

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
COMMANDS = (
    "advisories",
    "rules",
    "policy",
    "windows",
    "approve",
    "decline",
    "defer",
    "rollouts",
    "run-due",
    "export",
)


def add_commands(sub: Any) -> None:
    adv = sub.add_parser("advisories", help="import, refresh and list advisories (CISA KEV, OSV)")
    asub = adv.add_subparsers(
        dest="advisories_command", metavar="ACTION", required=True, parser_class=type(adv)
    )
    imp = asub.add_parser("import", help="import a KEV catalog, an OSV file or a directory of OSV files")
    imp.add_argument("path", type=Path, nargs="?")
    imp.add_argument(
        "--osv", type=Path, action="append", default=[], metavar="DIR", help="OSV file or directory"
    )
    imp.add_argument("--json", action="store_true")
    ref = asub.add_parser("refresh", help="fetch the KEV feed and OSV.dev advisories for pending packages")
    ref.add_argument("--kev-url", default=None, help="KEV feed URL (default: CISA's)")
    ref.add_argument("--osv-url", default=None, help="OSV API base URL (default: https://api.osv.dev/v1)")
    ref.add_argument("--no-osv", action="store_true", help="only the KEV catalog")
    ref.add_argument("--timeout", type=float, default=8.0, help="seconds per request (default 8)")
    ref.add_argument("--json", action="store_true")
    lst = asub.add_parser("list", help="advisories, the ones hosts need first")
    lst.add_argument("--all", action="store_true", help="also those no host needs")
    lst.add_argument("--json", action="store_true")
    show = asub.add_parser("hosts", help="which hosts need an advisory, KB or CVE")
    show.add_argument("id")
    show.add_argument("--json", action="store_true")

    rules = sub.add_parser("rules", help="classification rules (urgent / important / noncritical)")
    rsub = rules.add_subparsers(
        dest="rules_command", metavar="ACTION", required=True, parser_class=type(rules)
    )
    rl = rsub.add_parser("list", help="the rules in the order they are tried")
    rl.add_argument("--json", action="store_true")
    rs = rsub.add_parser("set", help="add or change a rule")
    rs.add_argument("name")
    rs.add_argument("--classification", required=True, help="urgent | important | noncritical")
    rs.add_argument("--kev", default="any", help="yes | no | any")
    rs.add_argument("--security", default="any", help="yes | no | any")
    rs.add_argument(
        "--severity", default="any", help="comma list of critical,high,medium,low,none,unknown | any"
    )
    rs.add_argument(
        "--kinds", default="any", help="comma list of security,bugfix,enhancement,firmware,driver | any"
    )
    rs.add_argument("--position", type=int, help="1-based place in the order")
    rs.add_argument("--description", default=None)
    rs.add_argument("--disable", action="store_true")
    rr = rsub.add_parser("remove", help="remove a rule")
    rr.add_argument("name")
    rsub.add_parser("reset", help="back to the default rules")

    pol = sub.add_parser("policy", help="policy settings: soak times, verification share, reserve, intervals")
    psub = pol.add_subparsers(dest="policy_command", metavar="ACTION", required=True, parser_class=type(pol))
    ps = psub.add_parser("show")
    ps.add_argument("--json", action="store_true")
    pset = psub.add_parser("set")
    pset.add_argument("key")
    pset.add_argument("value")

    win = sub.add_parser("windows", help="maintenance windows")
    wsub = win.add_subparsers(dest="windows_command", metavar="ACTION", required=True, parser_class=type(win))
    wa = wsub.add_parser("add", help="add a window")
    wa.add_argument("name")
    wa.add_argument("--rrule", required=True, help='RFC 5545 RRULE, e.g. "FREQ=WEEKLY;BYDAY=SA;BYHOUR=22"')
    wa.add_argument("--duration", type=float, required=True, help="minutes")
    wa.add_argument("--tz", required=True, help="IANA time zone, e.g. Europe/Berlin")
    wa.add_argument("--groups", required=True, help="comma-separated patch groups")
    wa.add_argument("--start", help="local date-time the rule starts from (default: today 00:00)")
    wa.add_argument("--description", default="")
    wl = wsub.add_parser("list", help="windows and their next openings")
    wl.add_argument("--now", help="ISO time to count from (default: now)")
    wl.add_argument("--json", action="store_true")
    wr = wsub.add_parser("remove")
    wr.add_argument("name")

    for verb, text in (
        ("approve", "approve an update for every ring"),
        ("decline", "never install an update"),
    ):
        ap = sub.add_parser(verb, help=text)
        ap.add_argument("update", help="name, name=version, manager:name=version or KB number")
        ap.add_argument("--note", default="")
        ap.add_argument("--json", action="store_true")
        if verb == "approve":
            ap.add_argument(
                "--override-window",
                action="store_true",
                help="mission-critical hosts need not wait for a window",
            )
    df = sub.add_parser("defer", help="hold an update back (until a time, or until approved)")
    df.add_argument("update")
    df.add_argument("--until", help="ISO date-time")
    df.add_argument("--note", default="")
    df.add_argument("--json", action="store_true")
    ro = sub.add_parser("rollouts", help="rollout state of every known update")
    ro.add_argument("--json", action="store_true")

    rd = sub.add_parser("run-due", help="run due work once: scans, promotions, urgent pushes, windows")
    rd.add_argument("--now", help="simulate this ISO time (default: now)")
    rd.add_argument("--dry-run", action="store_true", help="say what is due, change nothing")
    rd.add_argument(
        "--override-windows", action="store_true", help="urgent pushes ignore mission-critical windows"
    )
    rd.add_argument("--connect-timeout", type=float, default=10.0)
    rd.add_argument("--deadline", type=float, default=3600.0, help="overall seconds per host")
    rd.add_argument("--json", action="store_true")

    ex = sub.add_parser("export", help="export windows (.ics) or the change log (.ics / CSV)")
    esub = ex.add_subparsers(dest="export_command", metavar="WHAT", required=True, parser_class=type(ex))
    ei = esub.add_parser("ics", help="upcoming maintenance windows as iCalendar")
    ei.add_argument("-o", "--output", type=Path)
    ei.add_argument("--days", type=int, default=90)
    ei.add_argument("--now")
    ec = esub.add_parser("changes", help="what changed where, when")
    ec.add_argument("--format", choices=["ics", "csv"], default="csv")
    ec.add_argument("-o", "--output", type=Path)
    ec.add_argument("--since", help="ISO date-time")


def run(args: argparse.Namespace, out: TextIO, db: Any) -> int:
    handler = {
        "advisories": _advisories,
        "rules": _rules,
        "policy": _policy,
        "windows": _windows,
        "approve": _decide,
        "decline": _decide,
        "defer": _decide,
        "rollouts": _rollouts,
        "run-due": _run_due,
        "export": _export,
    }[args.command]
    return handler(args, out, db)


def _dump(out: TextIO, data: object) -> None:
    json.dump(data, out, indent=2)
    out.write("\n")


def parse_time(value: str | None, what: str = "--now") -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"{what} {value!r} is not an ISO date-time (e.g. 2026-05-02T22:30+02:00).") from exc
    return dt if dt.tzinfo else dt.astimezone()


def _table(out: TextIO, header: list[str], rows: list[list[str]]) -> None:
    from app.cli import _print_table

    _print_table(out, header, rows)


# -- advisories ---------------------------------------------------------------------------------------------


def _advisories(args: argparse.Namespace, out: TextIO, db: Any) -> int:
    from app.services import advisories as service
    from db import advisories as db_adv

    action = args.advisories_command
    if action in ("import", "refresh"):
        if action == "import":
            paths = ([args.path] if args.path else []) + list(args.osv)
            batch = service.read_paths(paths)  # everything parsed before anything is stored
        else:
            batch = _refresh(args, db)
        outcome = service.store(db, batch)
        data = outcome.as_json()
        urgent = outcome.urgent_pending
        if args.json:
            _dump(out, data)
        else:
            print(outcome.sentence(), file=out)
            if urgent:
                print(
                    f"{urgent} urgent update(s) pending: `patchdesk run-due` pushes them (test ring first).",
                    file=out,
                )
        return EXIT_OK
    if action == "list":
        rows = db_adv.list_advisories(db, relevant_only=not args.all)
        if args.json:
            _dump(out, {"advisories": [r.as_json() for r in rows]})
        else:
            _table(
                out,
                ["ADVISORY", "SEVERITY", "CVES", "KEV DUE", "PACKAGES", "HOSTS"],
                [
                    [
                        r.id,
                        r.severity or "",
                        ",".join(r.cves[:3]) + ("…" if len(r.cves) > 3 else ""),
                        r.kev_due or "",
                        ",".join(r.packages[:3]),
                        str(r.affected_hosts),
                    ]
                    for r in rows
                ],
            )
        return EXIT_OK
    if action == "hosts":
        affected = db_adv.affected_hosts(db, args.id)
        if args.json:
            _dump(out, {"id": args.id, "hosts": [a.as_json() for a in affected]})
        else:
            _table(
                out,
                ["HOST", "RING", "PACKAGE", "INSTALLED", "AVAILABLE", "CLASS"],
                [
                    [a.host_name, a.ring, a.package, a.installed or "", a.available, a.classification]
                    for a in affected
                ],
            )
        return EXIT_OK
    raise ConfigError(f"Unknown advisories action {action!r}.")


def _hosts(db: Any) -> list[Any]:
    from db import hosts as db_hosts

    return db_hosts.list_hosts(db)


def _refresh(args: argparse.Namespace, db: Any) -> Any:
    from app.services import advisories as service

    return service.fetch_online(
        db, kev_url=args.kev_url, osv_url=args.osv_url, include_osv=not args.no_osv, timeout=args.timeout
    )


# -- rules and settings -------------------------------------------------------------------------------------


def _tri(value: str, flag: str) -> bool | None:
    v = value.strip().lower()
    if v in ("any", ""):
        return None
    if v in ("yes", "true", "1"):
        return True
    if v in ("no", "false", "0"):
        return False
    raise ConfigError(f"{flag} takes yes, no or any, not {value!r}.")


def _rules(args: argparse.Namespace, out: TextIO, db: Any) -> int:
    from app.domain.inventory import parse_choice
    from app.domain.models import Classification, UpdateKind
    from app.domain.rules import DEFAULT_RULES, Rule
    from app.domain.severity import Severity
    from app.services.classification import reclassify_all
    from db import rules as db_rules

    action = args.rules_command
    if action == "list":
        rules = db_rules.list_rules(db)
        if args.json:
            _dump(
                out,
                {"rules": [{**r.as_json(), "when": r.describe()} for r in rules], "otherwise": "noncritical"},
            )
        else:
            rows = [
                [str(i + 1), r.name, str(r.classification), r.describe(), "" if r.enabled else "disabled"]
                for i, r in enumerate(rules)
            ]
            rows.append(["", "(otherwise)", "noncritical", "", ""])
            _table(out, ["#", "RULE", "CLASS", "WHEN", ""], rows)
        return EXIT_OK
    if action == "set":
        cls = Classification(parse_choice(Classification, args.classification, "--classification"))
        sev = None
        if args.severity.strip().lower() != "any":
            sev = frozenset(
                Severity(parse_choice(Severity, s.strip(), "--severity"))
                for s in args.severity.split(",")
                if s.strip()
            )
        kinds = None
        if args.kinds.strip().lower() != "any":
            kinds = frozenset(
                UpdateKind(parse_choice(UpdateKind, k.strip(), "--kinds"))
                for k in args.kinds.split(",")
                if k.strip()
            )
        existing = {r.name.lower(): r for r in db_rules.list_rules(db)}.get(args.name.lower())
        rule = Rule(
            args.name,
            cls,
            kev=_tri(args.kev, "--kev"),
            severities=sev,
            kinds=kinds,
            security=_tri(args.security, "--security"),
            description=args.description
            if args.description is not None
            else (existing.description if existing else ""),
            enabled=not args.disable,
        )
        db_rules.save_rule(db, rule, args.position)
        changed = reclassify_all(db)
        print(
            f"Rule {args.name!r}: {cls} when {rule.describe()}. {changed} pending update(s) changed class.",
            file=out,
        )
        return EXIT_OK
    if action == "remove":
        if not db_rules.remove_rule(db, args.name):
            raise ConfigError(f"No rule named {args.name!r}. See `patchdesk rules list`.")
        changed = reclassify_all(db)
        print(f"Removed rule {args.name!r}. {changed} pending update(s) changed class.", file=out)
        return EXIT_OK
    if action == "reset":
        db_rules.reset_rules(db, DEFAULT_RULES)
        changed = reclassify_all(db)
        print(f"Default rules restored. {changed} pending update(s) changed class.", file=out)
        return EXIT_OK
    raise ConfigError(f"Unknown rules action {action!r}.")


def _policy(args: argparse.Namespace, out: TextIO, db: Any) -> int:
    from app.domain.rollout import SETTING_UNITS
    from db import settings as db_settings

    if args.policy_command == "set":
        db_settings.set_policy_setting(db, args.key, args.value)
    settings = db_settings.policy_settings(db).as_json()
    if getattr(args, "json", False):
        _dump(out, settings)
    else:
        _table(
            out, ["SETTING", "VALUE", "UNIT"], [[k, str(v), SETTING_UNITS[k]] for k, v in settings.items()]
        )
    return EXIT_OK


# -- windows ----------------------------------------------------------------------------------------------


def _windows(args: argparse.Namespace, out: TextIO, db: Any) -> int:
    from app.domain.maintenance_windows import MaintenanceWindow, next_windows, parse_dtstart, validate
    from db import maintenance_windows as db_windows

    action = args.windows_command
    if action == "add":
        if args.duration <= 0:
            raise ConfigError("--duration must be a positive number of minutes.")
        groups = tuple(g.strip() for g in args.groups.split(",") if g.strip())
        if not groups:
            raise ConfigError("--groups needs at least one group name.")
        w = MaintenanceWindow(
            name=args.name,
            rrule=args.rrule,
            duration=timedelta(minutes=args.duration),
            tz=args.tz,
            dtstart=parse_dtstart(args.start, args.tz, datetime.now(UTC)),
            groups=groups,
            description=args.description,
        )
        validate(w)
        saved = db_windows.add_window(db, w)
        audit.record(db, audit.WINDOW_EDITED, saved.name, {"action": "added", **saved.as_json()})
        nxt = next_windows([saved], datetime.now(UTC), 1)
        when = f"; next opening {nxt[0].local_start().isoformat()}" if nxt else "; it has no future openings"
        print(f"Added window {saved.name} for {', '.join(saved.groups)}{when}.", file=out)
        return EXIT_OK
    if action == "list":
        now = parse_time(args.now) or datetime.now(UTC)
        windows = db_windows.list_windows(db)
        entries: list[dict[str, Any]] = []
        for w in windows:
            nxt = next_windows([w], now, 3)
            entries.append({**w.as_json(), "next": [o.as_json() for o in nxt]})
        if args.json:
            _dump(out, {"windows": entries})
        else:
            _table(
                out,
                ["WINDOW", "RULE", "MIN", "TZ", "GROUPS", "NEXT"],
                [
                    [
                        e["name"],
                        e["rrule"],
                        f"{e['duration_minutes']:.0f}",
                        e["tz"],
                        ",".join(e["groups"]),
                        e["next"][0]["local_start"] if e["next"] else "-",
                    ]
                    for e in entries
                ],
            )
        return EXIT_OK
    if action == "remove":
        old = db_windows.get_window(db, args.name)
        if old is None or not db_windows.remove_window(db, args.name):
            raise ConfigError(f"No window named {args.name!r}.")
        audit.record(db, audit.WINDOW_EDITED, args.name, {"action": "removed", **old.as_json()})
        print(f"Removed window {args.name}.", file=out)
        return EXIT_OK
    raise ConfigError(f"Unknown windows action {action!r}.")


# -- approvals ---------------------------------------------------------------------------------------------


def resolve_update(db: Any, spec: str) -> list[Any]:
    """Rollouts a user's UPDATE text names (creating rows for everything pending first)."""
    from db import rollouts as db_rollouts
    from db import scans as db_scans

    pending = [u for h in _hosts(db) if h.id is not None for u in db_scans.pending_for_host(db, h.id)]
    db_rollouts.ensure_rollouts(db, pending)
    found = db_rollouts.find_rollouts(db, spec)
    if not found:
        raise ConfigError(f"No pending or known update matches {spec!r}. See `patchdesk rollouts`.")
    return found


def _decide(args: argparse.Namespace, out: TextIO, db: Any) -> int:
    import getpass

    from app.services import approvals

    try:
        actor = getpass.getuser()
    except Exception:
        actor = "unknown"
    changed = []
    for r in resolve_update(db, args.update):
        if args.command == "approve":
            new = approvals.approve(
                db, r.key, note=args.note, override_window=bool(args.override_window), actor=actor
            )
        elif args.command == "decline":
            new = approvals.decline(db, r.key, note=args.note, actor=actor)
        else:
            until = parse_time(args.until, "--until")
            new = approvals.defer(db, r.key, until=until, note=args.note, actor=actor)
        changed.append(new)  # each decision is audited by app.services.approvals
    if args.json:
        _dump(out, {"rollouts": [r.as_json() for r in changed]})
    else:
        for r in changed:
            print(f"{r.key}: {r.state}" + (f" ({r.note})" if r.note else ""), file=out)
    return EXIT_OK


def _rollouts(args: argparse.Namespace, out: TextIO, db: Any) -> int:
    from db import rollouts as db_rollouts

    rows = db_rollouts.list_rollouts(db)
    if args.json:
        _dump(out, {"rollouts": [r.as_json() for r in rows]})
    else:
        _table(
            out,
            ["UPDATE", "CLASS", "KIND", "STATE", "RING", "NOTE"],
            [
                [r.key, str(r.classification), str(r.kind), str(r.state), str(r.ring or ""), r.note]
                for r in rows
            ],
        )
    return EXIT_OK


# -- run-due -----------------------------------------------------------------------------------------------


def _run_due(args: argparse.Namespace, out: TextIO, db: Any) -> int:
    from app.cli import _secrets
    from app.jobs.scheduler import run_due
    from db.database import default_db_path

    now = parse_time(args.now)
    db_path = args.db or default_db_path()
    db.conn.close()  # run_due opens its own connection
    report = run_due(
        db_path,
        now,
        args.dry_run,
        secrets=None if args.dry_run else _secrets(),
        override_windows=args.override_windows,
        owner="patchdesk run-due",
        connect_timeout=args.connect_timeout,
        host_deadline=args.deadline,
    )
    if args.json:
        _dump(out, report.as_json())
    else:
        _print_report(report, out)
    if report.locked_by:
        print(
            f"patchdesk: another scheduler is running due work: {report.locked_by}; nothing done.",
            file=sys.stderr,
        )
        return EXIT_OK
    return EXIT_OK if report.ok else EXIT_FAILED


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
    for h in report.held:
        print(f"  held {h['update']}: {h['reason']}", file=out)
    waits: dict[tuple[str, str], list[str]] = {}
    for w in report.waiting:
        waits.setdefault((w["host"], w["reason"]), []).append(w["update"] or "")
    for (host, reason), updates in waits.items():
        names = ", ".join(u for u in updates if u)
        print(f"  waiting {host}{': ' + names if names else ''}: {reason}", file=out)
    if not (report.scans or report.promotions or report.patches or report.deferred):
        print("  nothing due.", file=out)


# -- exports -----------------------------------------------------------------------------------------------


def _export(args: argparse.Namespace, out: TextIO, db: Any) -> int:
    from app.domain.maintenance_windows import next_windows
    from app.reports import calendar
    from db import changelog
    from db import maintenance_windows as db_windows

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
        since = parse_time(args.since, "--since")
        entries = changelog.change_log(db, since)
        text = calendar.changes_ics(entries, now) if args.format == "ics" else calendar.changes_csv(entries)
    if args.output:
        try:
            args.output.write_text(text, encoding="utf-8", newline="")
        except OSError as exc:
            raise ConfigError(f"Cannot write {args.output}: {exc.strerror or exc}.") from exc
        print(f"Wrote {args.output}.", file=sys.stderr)
    else:
        out.write(text)
    return EXIT_OK


def _window_plans(db: Any, windows: list[Any]) -> dict[str, str]:
    from app.services.maintenance_windows import window_plan

    return {w.name: window_plan(db, w).summary() for w in windows}
