"""``patchdesk hosts group-defaults [GROUP] [--reboot-policy ...] ...``: settings a group gives its hosts
where a host sets nothing (an empty value clears one; every change is audited)."""

from __future__ import annotations

import argparse
from dataclasses import replace
from typing import Any, TextIO

from app.cli.common import EXIT_OK, dump_json, open_db, print_table
from app.domain.criticality import GroupDefaults
from app.domain.inventory import parse_choice
from app.domain.models import AutoRollback, RebootPolicy

_OPTIONS = ("reboot_policy", "pre_command", "post_command", "services", "check_command", "auto_rollback")


def add_group_defaults_command(hsub: Any) -> None:
    gd = hsub.add_parser(
        "group-defaults",
        help="show or set the settings a group gives its hosts where a host sets nothing",
        description="Without a GROUP: every group's defaults. With a GROUP and no option: its defaults. "
        "With options: change them (an empty value clears one; every change is audited).",
    )
    gd.set_defaults(func=group_defaults)
    gd.add_argument("group", nargs="?")
    gd.add_argument("--reboot-policy", help="never | if-needed | always")
    gd.add_argument("--pre-command", help="run (as root) on the hosts before patching")
    gd.add_argument("--post-command", help="run (as root) on the hosts after patching")
    gd.add_argument("--services", help="comma-separated services that must be active after a change")
    gd.add_argument("--check-command", help="custom health check (exit status 0 is healthy)")
    gd.add_argument("--auto-rollback", help="off | on-red")
    gd.add_argument("--json", action="store_true")


def edited_defaults(old: GroupDefaults, args: argparse.Namespace) -> GroupDefaults:
    changes: dict[str, Any] = {}
    for name in _OPTIONS:
        text = getattr(args, name)
        if text is None:
            continue
        v = text.strip()
        if name == "reboot_policy":
            changes[name] = RebootPolicy(parse_choice(RebootPolicy, v, "--reboot-policy")) if v else None
        elif name == "auto_rollback":
            changes[name] = AutoRollback(parse_choice(AutoRollback, v, "--auto-rollback")) if v else None
        elif name == "services":
            changes[name] = tuple(dict.fromkeys(p.strip() for p in v.split(",") if p.strip()))
        else:
            changes[name] = text if v else None  # a command is kept as typed
    return replace(old, **changes)


def group_defaults(args: argparse.Namespace, out: TextIO) -> int:
    from app.domain.errors import ConfigError
    from app.services import host_policy
    from db import host_policy as db_host_policy

    db = open_db(args)
    wanted = any(getattr(args, n) is not None for n in _OPTIONS)
    if args.group is None:
        if wanted:
            raise ConfigError("Name the group whose defaults to change.")
        shown = list(db_host_policy.all_group_defaults(db).values())
    else:
        old = db_host_policy.group_defaults(db, args.group)
        if wanted:
            saved, changed = host_policy.set_group_defaults(db, edited_defaults(old, args))
            if not args.json:
                said = f"changed {', '.join(changed)}" if changed else "nothing changed"
                print(f"Group {saved.group}: {said}.", file=out)
                return EXIT_OK
            old = saved
        shown = [old]
    if args.json:
        dump_json(out, {"groups": [d.as_json() for d in shown]})
        return EXIT_OK
    rows = [
        [
            d.group,
            str(d.reboot_policy or ""),
            str(d.auto_rollback or ""),
            ",".join(d.services),
            d.check_command or "",
            d.pre_command or "",
            d.post_command or "",
        ]
        for d in shown
    ]
    print_table(out, ["GROUP", "REBOOT", "AUTO-ROLLBACK", "SERVICES", "CHECK", "PRE", "POST"], rows)
    return EXIT_OK
