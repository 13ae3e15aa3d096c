"""``patchdesk advisories | rules | policy | windows | approve | decline | defer | rollouts``."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from app.cli.common import (
    EXIT_OK,
    MAX_SECONDS,
    Parser,
    dump_json,
    open_db,
    parse_time,
    positive_number,
    print_table,
    seconds,
)
from app.domain.errors import ConfigError
from app.domain.models import Ring


def add_commands(sub: Any) -> None:
    adv = sub.add_parser("advisories", help="import, refresh and list advisories (CISA KEV, OSV)")
    asub = adv.add_subparsers(dest="advisories_command", metavar="ACTION", required=True, parser_class=Parser)
    imp = asub.add_parser("import", help="import a KEV catalog, an OSV file or a directory of OSV files")
    imp.set_defaults(func=advisories_import)
    imp.add_argument("path", type=Path, nargs="?")
    imp.add_argument(
        "--osv", type=Path, action="append", default=[], metavar="DIR", help="OSV file or directory"
    )
    imp.add_argument("--json", action="store_true")
    ref = asub.add_parser("refresh", help="fetch the KEV feed and OSV.dev advisories for pending packages")
    ref.set_defaults(func=advisories_import)
    ref.add_argument("--kev-url", default=None, help="KEV feed URL (default: CISA's)")
    ref.add_argument("--osv-url", default=None, help="OSV API base URL (default: https://api.osv.dev/v1)")
    ref.add_argument("--no-osv", action="store_true", help="only the KEV catalog")
    ref.add_argument("--timeout", type=seconds, default=8.0, help="seconds per request (default 8)")
    ref.add_argument("--json", action="store_true")
    lst = asub.add_parser("list", help="advisories, the ones hosts need first")
    lst.set_defaults(func=advisories_list)
    lst.add_argument("--all", action="store_true", help="also those no host needs")
    lst.add_argument("--json", action="store_true")
    show = asub.add_parser("hosts", help="which hosts need an advisory, KB or CVE")
    show.set_defaults(func=advisories_hosts)
    show.add_argument("id")
    show.add_argument("--json", action="store_true")

    rules = sub.add_parser("rules", help="classification rules (urgent / important / noncritical)")
    rsub = rules.add_subparsers(dest="rules_command", metavar="ACTION", required=True, parser_class=Parser)
    rl = rsub.add_parser("list", help="the rules in the order they are tried")
    rl.set_defaults(func=rules_list)
    rl.add_argument("--json", action="store_true")
    rs = rsub.add_parser("set", help="add or change a rule")
    rs.set_defaults(func=rules_set)
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
    rr.set_defaults(func=rules_remove)
    rr.add_argument("name")
    rsub.add_parser("reset", help="back to the default rules").set_defaults(func=rules_reset)

    pol = sub.add_parser("policy", help="policy settings: soak times, verification share, reserve, intervals")
    pol.set_defaults(func=policy)
    psub = pol.add_subparsers(dest="policy_command", metavar="ACTION", required=True, parser_class=Parser)
    ps = psub.add_parser("show")
    ps.add_argument("--json", action="store_true")
    pset = psub.add_parser("set")
    pset.add_argument("key")
    pset.add_argument("value")
    from app.cli.criticality import add_criticality_command

    add_criticality_command(psub)

    win = sub.add_parser("windows", help="maintenance windows")
    wsub = win.add_subparsers(dest="windows_command", metavar="ACTION", required=True, parser_class=Parser)
    wa = wsub.add_parser("add", help="add a window")
    wa.set_defaults(func=windows_add)
    wa.add_argument("name")
    wa.add_argument("--rrule", required=True, help='RFC 5545 RRULE, e.g. "FREQ=WEEKLY;BYDAY=SA;BYHOUR=22"')
    wa.add_argument(
        "--duration", type=positive_number(MAX_SECONDS / 60, "minutes"), required=True, help="minutes"
    )
    wa.add_argument("--tz", required=True, help="IANA time zone, e.g. Europe/Berlin")
    wa.add_argument("--groups", required=True, help="comma-separated patch groups")
    wa.add_argument("--start", help="local date-time the rule starts from (default: today 00:00)")
    wa.add_argument("--description", default="")
    wl = wsub.add_parser("list", help="windows and their next openings")
    wl.set_defaults(func=windows_list)
    wl.add_argument("--now", help="ISO time to count from (default: now)")
    wl.add_argument("--json", action="store_true")
    wr = wsub.add_parser("remove")
    wr.set_defaults(func=windows_remove)
    wr.add_argument("name")

    for verb, text in (
        ("approve", "approve an update for every ring"),
        ("decline", "never install an update"),
    ):
        ap = sub.add_parser(verb, help=text)
        ap.set_defaults(func=decide)
        ap.add_argument("update", help="name, name=version, manager:name=version or KB number")
        ap.add_argument("--note", default="")
        ap.add_argument("--json", action="store_true")
        if verb == "approve":
            ap.add_argument(
                "--override-window",
                action="store_true",
                help="hosts whose criticality rule says windows only need not wait for a window",
            )
            ap.add_argument(
                "--ring",
                choices=[str(r) for r in Ring],
                default=str(Ring.PRODUCTION),
                help="approve only up to this ring (firmware: test first, then a second approval)",
            )
    df = sub.add_parser("defer", help="hold an update back (until a time, or until approved)")
    df.set_defaults(func=decide)
    df.add_argument("update")
    df.add_argument("--until", help="ISO date-time")
    df.add_argument("--note", default="")
    df.add_argument("--json", action="store_true")
    ro = sub.add_parser("rollouts", help="rollout state of every known update")
    ro.set_defaults(func=rollouts)
    ro.add_argument("--json", action="store_true")


# -- advisories ------------------------------------------------------------------------------------------


def advisories_import(args: argparse.Namespace, out: TextIO) -> int:
    """``advisories import`` and ``advisories refresh``: everything is read before anything is stored."""
    from app.services import advisories as service

    db = open_db(args)
    if args.advisories_command == "import":
        batch = service.read_paths(([args.path] if args.path else []) + list(args.osv))
    else:
        batch = service.fetch_online(
            db, kev_url=args.kev_url, osv_url=args.osv_url, include_osv=not args.no_osv, timeout=args.timeout
        )
    outcome = service.store(db, batch)
    if args.json:
        dump_json(out, outcome.as_json())
        return EXIT_OK
    print(outcome.sentence(), file=out)
    if outcome.urgent_pending:
        print(
            f"{outcome.urgent_pending} urgent update(s) pending: `patchdesk run-due` pushes them "
            "(test ring first).",
            file=out,
        )
    return EXIT_OK


def advisories_list(args: argparse.Namespace, out: TextIO) -> int:
    from db import advisories as db_adv

    rows = db_adv.list_advisories(open_db(args), relevant_only=not args.all)
    if args.json:
        dump_json(out, {"advisories": [r.as_json() for r in rows]})
        return EXIT_OK
    print_table(
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


def advisories_hosts(args: argparse.Namespace, out: TextIO) -> int:
    from db import advisories as db_adv

    affected = db_adv.affected_hosts(open_db(args), args.id)
    if args.json:
        dump_json(out, {"id": args.id, "hosts": [a.as_json() for a in affected]})
        return EXIT_OK
    print_table(
        out,
        ["HOST", "RING", "PACKAGE", "INSTALLED", "AVAILABLE", "CLASS"],
        [
            [a.host_name, a.ring, a.package, a.installed or "", a.available, a.classification]
            for a in affected
        ],
    )
    return EXIT_OK


# -- rules and settings ----------------------------------------------------------------------------------


def _tri(value: str, flag: str) -> bool | None:
    v = value.strip().lower()
    if v in ("any", ""):
        return None
    if v in ("yes", "true", "1"):
        return True
    if v in ("no", "false", "0"):
        return False
    raise ConfigError(f"{flag} takes yes, no or any, not {value!r}.")


def rules_list(args: argparse.Namespace, out: TextIO) -> int:
    from db import rules as db_rules

    rules = db_rules.list_rules(open_db(args))
    if args.json:
        dump_json(
            out, {"rules": [{**r.as_json(), "when": r.describe()} for r in rules], "otherwise": "noncritical"}
        )
        return EXIT_OK
    rows = [
        [str(i + 1), r.name, str(r.classification), r.describe(), "" if r.enabled else "disabled"]
        for i, r in enumerate(rules)
    ]
    rows.append(["", "(otherwise)", "noncritical", "", ""])
    print_table(out, ["#", "RULE", "CLASS", "WHEN", ""], rows)
    return EXIT_OK


def rules_set(args: argparse.Namespace, out: TextIO) -> int:
    from app.domain.inventory import parse_choice
    from app.domain.models import Classification, UpdateKind
    from app.domain.rules import Rule
    from app.domain.severity import Severity
    from app.services import classification
    from db import rules as db_rules

    db = open_db(args)
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
    changed = classification.save_rule(db, rule, args.position)
    print(
        f"Rule {args.name!r}: {cls} when {rule.describe()}. {changed} pending update(s) changed class.",
        file=out,
    )
    return EXIT_OK


def rules_remove(args: argparse.Namespace, out: TextIO) -> int:
    from app.services import classification

    changed = classification.remove_rule(open_db(args), args.name)
    print(f"Removed rule {args.name!r}. {changed} pending update(s) changed class.", file=out)
    return EXIT_OK


def rules_reset(args: argparse.Namespace, out: TextIO) -> int:
    from app.services import classification

    changed = classification.reset_rules(open_db(args))
    print(f"Default rules restored. {changed} pending update(s) changed class.", file=out)
    return EXIT_OK


def policy(args: argparse.Namespace, out: TextIO) -> int:
    """``policy show`` and ``policy set`` (which then shows the settings)."""
    from app.domain.rollout import SETTING_UNITS
    from db import settings as db_settings

    db = open_db(args)
    if args.policy_command == "set":
        db_settings.set_policy_setting(db, args.key, args.value)
    settings = db_settings.policy_settings(db).as_json()
    if getattr(args, "json", False):
        dump_json(out, settings)
    else:
        print_table(
            out, ["SETTING", "VALUE", "UNIT"], [[k, str(v), SETTING_UNITS[k]] for k, v in settings.items()]
        )
    return EXIT_OK


# -- windows ---------------------------------------------------------------------------------------------


def windows_add(args: argparse.Namespace, out: TextIO) -> int:
    from app.domain.maintenance_windows import MaintenanceWindow, next_windows, parse_dtstart
    from app.services import maintenance_windows
    from app.services.inventory import check_group_name

    db = open_db(args)
    if args.duration <= 0:
        raise ConfigError("--duration must be a positive number of minutes.")
    groups = tuple(g.strip() for g in args.groups.split(",") if g.strip())
    if not groups:
        raise ConfigError("--groups needs at least one group name.")
    for g in groups:
        check_group_name(g, "The --groups name")
    w = MaintenanceWindow(
        name=args.name,
        rrule=args.rrule,
        duration=timedelta(minutes=args.duration),
        tz=args.tz,
        dtstart=parse_dtstart(args.start, args.tz, datetime.now(UTC)),
        groups=groups,
        description=args.description,
    )
    saved = maintenance_windows.add_window(db, w)
    nxt = next_windows([saved], datetime.now(UTC), 1)
    when = f"; next opening {nxt[0].local_start().isoformat()}" if nxt else "; it has no future openings"
    print(f"Added window {saved.name} for {', '.join(saved.groups)}{when}.", file=out)
    return EXIT_OK


def windows_list(args: argparse.Namespace, out: TextIO) -> int:
    from app.domain.maintenance_windows import next_windows
    from db import maintenance_windows as db_windows

    db = open_db(args)
    now = parse_time(args.now) or datetime.now(UTC)
    entries: list[dict[str, Any]] = [
        {**w.as_json(), "next": [o.as_json() for o in next_windows([w], now, 3)]}
        for w in db_windows.list_windows(db)
    ]
    if args.json:
        dump_json(out, {"windows": entries})
        return EXIT_OK
    print_table(
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


def windows_remove(args: argparse.Namespace, out: TextIO) -> int:
    from app.services import maintenance_windows

    if not maintenance_windows.remove_window(open_db(args), args.name):
        raise ConfigError(f"No window named {args.name!r}.")
    print(f"Removed window {args.name}.", file=out)
    return EXIT_OK


# -- approvals -------------------------------------------------------------------------------------------


def decide(args: argparse.Namespace, out: TextIO) -> int:
    """``approve``, ``decline`` and ``defer``; app.services.approvals audits each decision."""
    from app.services import approvals, audit

    db = open_db(args)
    actor = audit.actor()
    changed = []
    for r in approvals.resolve_update(db, args.update):
        if args.command == "approve":
            new = approvals.approve(
                db,
                r.key,
                note=args.note,
                override_window=bool(args.override_window),
                actor=actor,
                ring=Ring(args.ring),
            )
        elif args.command == "decline":
            new = approvals.decline(db, r.key, note=args.note, actor=actor)
        else:
            new = approvals.defer(
                db, r.key, until=parse_time(args.until, "--until"), note=args.note, actor=actor
            )
        changed.append(new)
    if args.json:
        dump_json(out, {"rollouts": [r.as_json() for r in changed]})
    else:
        for r in changed:
            print(f"{r.key}: {r.state}" + (f" ({r.note})" if r.note else ""), file=out)
    return EXIT_OK


def rollouts(args: argparse.Namespace, out: TextIO) -> int:
    from app.domain.rollout import current_checks, soak_state
    from db import rollouts as db_rollouts
    from db import soak as db_soak

    db = open_db(args)
    rows = db_rollouts.list_rollouts(db)
    checks = db_soak.soak_checks_for(db, [r.key for r in rows])
    if args.json:
        # soak: the health of the present soak (state) and its checks, newest last
        dump_json(
            out,
            {
                "rollouts": [
                    {
                        **r.as_json(),
                        "soak": {
                            "state": soak_state(r, checks[r.key]),
                            "checks": [c.as_json() for c in current_checks(r, checks[r.key])],
                        },
                    }
                    for r in rows
                ]
            },
        )
        return EXIT_OK
    print_table(
        out,
        ["UPDATE", "CLASS", "KIND", "STATE", "RING", "SOAK", "NOTE"],
        [
            [
                r.key,
                str(r.classification),
                str(r.kind),
                str(r.state),
                str(r.ring or ""),
                soak_state(r, checks[r.key]) if r.ring else "",
                r.note,
            ]
            for r in rows
        ],
    )
    return EXIT_OK
