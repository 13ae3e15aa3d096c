"""``patchdesk policy criticality [show | set CRITICALITY FIELD=VALUE... | reset CRITICALITY]``: the
editable rules of what each criticality does by default (app/domain/criticality.py)."""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from app.cli.common import EXIT_OK, Parser, dump_json, open_db, print_table
from app.domain.criticality import RULE_FIELDS, CriticalityRule
from app.domain.errors import ConfigError
from app.domain.inventory import parse_choice
from app.domain.models import Criticality


def add_criticality_command(psub: Any) -> None:
    crit = psub.add_parser(
        "criticality",
        help="what each criticality does by default (rings, windows, reboot, automatic rollback)",
    )
    crit.set_defaults(func=criticality, criticality_command="show")
    csub = crit.add_subparsers(dest="criticality_command", metavar="ACTION", parser_class=Parser)
    show = csub.add_parser("show", help="the rules")
    show.add_argument("--json", action="store_true")
    cset = csub.add_parser(
        "set",
        help="change fields of one criticality's rule (audited)",
        description="Fields: " + "; ".join(f"{k}: {v}" for k, v in RULE_FIELDS.items()),
    )
    cset.add_argument("criticality", help="mission-critical | standard | desktop")
    cset.add_argument("values", nargs="+", metavar="FIELD=VALUE", help="e.g. auto_rollback=on-red")
    cset.add_argument("--json", action="store_true")
    reset = csub.add_parser("reset", help="back to the built-in rule (audited)")
    reset.add_argument("criticality")
    reset.add_argument("--json", action="store_true")


def _pairs(values: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"{item!r} is not FIELD=VALUE (fields: {', '.join(RULE_FIELDS)}).")
        out[key.strip().replace("-", "_")] = value
    return out


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def criticality(args: argparse.Namespace, out: TextIO) -> int:
    from app.services import host_policy
    from db import host_policy as db_host_policy

    db = open_db(args)
    action = args.criticality_command or "show"
    if action in ("set", "reset"):
        crit = Criticality(parse_choice(Criticality, args.criticality, "criticality"))
        if action == "set":
            _, changed = host_policy.set_criticality_rule(db, crit, _pairs(args.values))
            said = f"changed {', '.join(changed)}" if changed else "nothing changed"
        else:
            host_policy.reset_criticality_rule(db, crit)
            said = "back to the built-in rule"
        if not getattr(args, "json", False):
            print(f"{crit}: {said}.", file=out)
    rules = db_host_policy.criticality_rules(db)
    ordered: list[CriticalityRule] = [rules[c] for c in Criticality]
    if getattr(args, "json", False):
        dump_json(out, {"rules": [r.as_json() for r in ordered]})
    elif action == "show":
        rows = [[k, *(_cell(getattr(r, k)) for r in ordered)] for k in RULE_FIELDS]
        print_table(out, ["FIELD", *(str(r.criticality) for r in ordered)], rows)
    return EXIT_OK
