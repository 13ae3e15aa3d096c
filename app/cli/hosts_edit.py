"""``patchdesk hosts edit NAME``: change any of a host's settings; an empty value clears a field.

The change goes through the inventory service like the GUI dialog's, so it is validated by the same
rules and audited with the list of fields that changed.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO

from app.cli.common import EXIT_OK, open_db
from app.domain.errors import ConfigError
from app.domain.inventory import parse_choice, parse_port
from app.domain.models import AutoRollback, Criticality, Host, RebootPolicy, Ring

#: option -> the Host field it sets
_FIELDS: dict[str, str] = {
    "address": "address",
    "port": "port",
    "user": "user",
    "key": "key_file",
    "group": "group",
    "ring": "ring",
    "criticality": "criticality",
    "tags": "tags",
    "reboot_policy": "reboot_policy",
    "pre_command": "pre_command",
    "post_command": "post_command",
    "services": "services",
    "check_command": "check_command",
    "auto_rollback": "auto_rollback",
}


def add_edit_command(hsub: Any) -> None:
    edit = hsub.add_parser(
        "edit", help="change a host's settings (an empty value clears a field; every change is audited)"
    )
    edit.set_defaults(func=edit_host)
    edit.add_argument("name")
    edit.add_argument("--rename", metavar="NEW_NAME", help="give the host a new name")
    edit.add_argument("--address")
    edit.add_argument("--port", help="empty: the transport's default or ~/.ssh/config")
    edit.add_argument("--user")
    edit.add_argument("--key", help="private key file for SSH")
    edit.add_argument("--group")
    edit.add_argument("--ring", help="test | pilot | production")
    edit.add_argument("--criticality", help="mission-critical | standard | desktop")
    edit.add_argument("--tags", help="comma-separated, e.g. dmz,linux")
    edit.add_argument(
        "--reboot-policy",
        help="never | if-needed | always (empty: its group's default, then its criticality's rule)",
    )
    edit.add_argument("--pre-command", help="run (as root) on the host before patching")
    edit.add_argument("--post-command", help="run (as root) on the host after patching")
    edit.add_argument("--services", help="comma-separated services that must be active after a change")
    edit.add_argument(
        "--check-command",
        help="custom health check run on the host (as its user, with sudo when it uses sudo) before and "
        "after a patch and by verify: exit status 0 is healthy",
    )
    edit.add_argument(
        "--auto-rollback",
        help="off | on-red: roll the host back at once when its verification after a patch is red "
        "(empty: its group's default, then its criticality's rule)",
    )
    sudo = edit.add_mutually_exclusive_group()
    sudo.add_argument("--sudo", dest="use_sudo", action="store_true", default=None, help="use sudo for root")
    sudo.add_argument("--no-sudo", dest="use_sudo", action="store_false", help="never use sudo on this host")


def edited_host(host: Host, args: argparse.Namespace) -> Host:
    """``host`` with the options given on the command line applied (not yet validated as a whole)."""
    changes: dict[str, Any] = {}
    for option, field in _FIELDS.items():
        text = getattr(args, option)
        if text is not None:
            changes[field] = _value(field, text)
    if args.rename is not None:
        changes["name"] = args.rename.strip()
    if args.use_sudo is not None:
        changes["use_sudo"] = args.use_sudo
    return replace(host, **changes)


def _value(field: str, text: str) -> Any:
    v = text.strip()
    if field == "address":
        return v
    if field == "port":
        return parse_port(v)
    if field == "ring":
        return Ring(parse_choice(Ring, v, "--ring"))
    if field == "criticality":
        return Criticality(parse_choice(Criticality, v, "--criticality"))
    if field == "reboot_policy":
        return RebootPolicy(parse_choice(RebootPolicy, v, "--reboot-policy")) if v else None
    if field == "auto_rollback":
        return AutoRollback(parse_choice(AutoRollback, v, "--auto-rollback")) if v else None
    if field in ("tags", "services"):
        return tuple(dict.fromkeys(p.strip() for p in v.split(",") if p.strip()))
    if field == "key_file" and v:
        path = Path(v).expanduser()
        if not path.is_file():
            raise ConfigError(f"The key file {v} does not exist.")
        return str(path)
    if field in ("pre_command", "post_command", "check_command"):
        return text if text.strip() else None  # a command is kept as typed
    return v or None


def edit_host(args: argparse.Namespace, out: TextIO) -> int:
    from app.services import inventory
    from db import hosts as db_hosts

    db = open_db(args)
    original = db_hosts.find_host(db, args.name)
    if original is None:
        raise ConfigError(f"Unknown host {args.name!r}. See `patchdesk hosts list`.")
    host = edited_host(original, args)
    changed = inventory.changed_fields(original, host)
    if not changed:
        print(f"{original.name}: nothing changed.", file=out)
        return EXIT_OK
    saved = inventory.update_host(db, host, original)
    print(f"{saved.name}: changed {', '.join(changed)}.", file=out)
    return EXIT_OK
