"""Group defaults and criticality rules (app/domain/criticality.py), and the effective hosts a job
is started with."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from app.domain.criticality import (
    DEFAULT_RULES,
    CriticalityRule,
    GroupDefaults,
    effective_host,
    effective_settings,
    rule_for,
    rule_from_json,
    setting_sources,
)
from app.domain.errors import ConfigError
from app.domain.inventory import validate_command, validate_services
from app.domain.models import AutoRollback, Criticality, Host, RebootPolicy
from db.connection import Database
from db.database import now_iso
from db.hosts import ensure_group

# -- criticality rules -----------------------------------------------------------------------------


def criticality_rules(db: Database) -> dict[Criticality, CriticalityRule]:
    """Every criticality's rule: the stored one, else the built-in default."""
    out = dict(DEFAULT_RULES)
    for crit, raw in db.execute("SELECT criticality, rule FROM criticality_rules"):
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        if isinstance(data, dict):
            out[Criticality(crit)] = rule_from_json(Criticality(crit), data)
    return out


def save_criticality_rule(db: Database, rule: CriticalityRule) -> None:
    data = rule.as_json()
    data.pop("criticality")
    with db.atomic():
        db.execute(
            "INSERT INTO criticality_rules (criticality, rule, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (criticality) DO UPDATE SET rule = excluded.rule, updated_at = excluded.updated_at",
            [str(rule.criticality), json.dumps(data), now_iso()],
        )


def reset_criticality_rule(db: Database, criticality: Criticality) -> None:
    with db.atomic():
        db.execute("DELETE FROM criticality_rules WHERE criticality = ?", [str(criticality)])


# -- group defaults --------------------------------------------------------------------------------

_GD_SELECT = (
    "SELECT g.name, d.reboot_policy, d.pre_command, d.post_command, d.services, d.check_command, "
    "d.auto_rollback FROM group_defaults d JOIN groups g ON g.id = d.group_id"
)


def _gd(row: tuple[object, ...]) -> GroupDefaults:
    name, reboot, pre, post, services, check, auto = row
    return GroupDefaults(
        group=str(name),
        reboot_policy=RebootPolicy(str(reboot)) if reboot else None,
        pre_command=str(pre) if pre is not None else None,
        post_command=str(post) if post is not None else None,
        services=tuple(json.loads(str(services) or "[]")),
        check_command=str(check) if check is not None else None,
        auto_rollback=AutoRollback(str(auto)) if auto else None,
    )


def group_defaults(db: Database, group: str) -> GroupDefaults:
    """The defaults of ``group`` (all unset when it has none, or does not exist yet)."""
    row = db.execute(_GD_SELECT + " WHERE g.name = ?", [group]).fetchone()
    return _gd(row) if row else GroupDefaults(group)


def all_group_defaults(db: Database) -> dict[str, GroupDefaults]:
    """Defaults by group name (casefolded key: group names compare without case)."""
    return {
        d.group.casefold(): d for d in map(_gd, db.execute(_GD_SELECT + " ORDER BY g.name COLLATE NOCASE"))
    }


def save_group_defaults(db: Database, defaults: GroupDefaults) -> GroupDefaults:
    """Store the defaults of a group (creating the group); all unset removes them."""
    where = f"group {defaults.group!r}"
    if not defaults.group.strip() or not defaults.group.isprintable():
        raise ConfigError("A group name must be plain text.")
    for what, cmd in (
        ("pre-command", defaults.pre_command),
        ("post-command", defaults.post_command),
        ("check command", defaults.check_command),
    ):
        validate_command(cmd, f"The {what} of {where}")
    validate_services(defaults.services, where)
    with db.atomic():
        group_id = ensure_group(db, defaults.group)
        if defaults.is_empty():
            db.execute("DELETE FROM group_defaults WHERE group_id = ?", [group_id])
        else:
            db.execute(
                "INSERT INTO group_defaults (group_id, reboot_policy, pre_command, post_command, services, "
                "check_command, auto_rollback, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (group_id) DO UPDATE SET reboot_policy = excluded.reboot_policy, "
                "pre_command = excluded.pre_command, post_command = excluded.post_command, "
                "services = excluded.services, check_command = excluded.check_command, "
                "auto_rollback = excluded.auto_rollback, updated_at = excluded.updated_at",
                [
                    group_id,
                    str(defaults.reboot_policy) if defaults.reboot_policy else None,
                    defaults.pre_command,
                    defaults.post_command,
                    json.dumps(list(defaults.services)),
                    defaults.check_command,
                    str(defaults.auto_rollback) if defaults.auto_rollback else None,
                    now_iso(),
                ],
            )
    return group_defaults(db, defaults.group)


# -- effective hosts -------------------------------------------------------------------------------


def effective_hosts(db: Database, hosts: Iterable[Host]) -> list[Host]:
    """``hosts`` with their group's defaults and their criticality's rule filled in where they set
    nothing: what a job runs with (its tasks never read the database)."""
    rules = criticality_rules(db)
    groups = all_group_defaults(db)
    return [
        effective_host(h, groups.get((h.group or "").casefold()), rule_for(rules, h.criticality))
        for h in hosts
    ]


def effective(db: Database, host: Host) -> Host:
    return effective_hosts(db, [host])[0]


def effective_settings_of(db: Database, hosts: Iterable[Host]) -> list[dict[str, Any]]:
    """For each host the defaultable settings that apply, and where each comes from (``sources``)."""
    rules = criticality_rules(db)
    groups = all_group_defaults(db)
    out: list[dict[str, Any]] = []
    for h in hosts:
        group = groups.get((h.group or "").casefold())
        values = effective_settings(h, group, rule_for(rules, h.criticality))
        values["sources"] = setting_sources(h, group)
        out.append(values)
    return out
