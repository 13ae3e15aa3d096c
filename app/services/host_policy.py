"""Group defaults and criticality rules, changed and audited once for both faces.

``patchdesk hosts group-defaults`` and ``patchdesk policy criticality`` (app/cli), and the host dialog
and the Settings dialog (ui/) call these, so every change leaves the same audit entry: which fields
changed, from what to what (commands are the administrator's own text, never a secret).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

from app.domain.criticality import (
    GROUP_DEFAULT_FIELDS,
    CriticalityRule,
    GroupDefaults,
    rule_for,
    with_rule_value,
)
from app.domain.models import Criticality
from app.services import audit
from db import host_policy as db_host_policy
from db.connection import Database

GROUP_DEFAULTS_CHANGED = "group.defaults"
CRITICALITY_RULE_CHANGED = "policy.criticality"


def _shown(value: object) -> object:
    if isinstance(value, tuple):
        return list(value)
    return None if value is None else str(value) if not isinstance(value, bool | float | int) else value


def set_group_defaults(db: Database, defaults: GroupDefaults) -> tuple[GroupDefaults, list[str]]:
    """Store ``defaults`` (all unset removes the group's defaults); the saved defaults and the names
    of the fields that changed (nothing changed: nothing stored, nothing audited)."""
    old = db_host_policy.group_defaults(db, defaults.group)
    changed = [f for f in GROUP_DEFAULT_FIELDS if getattr(old, f) != getattr(defaults, f)]
    if not changed:
        return old, []
    with audit.transaction(db):
        saved = db_host_policy.save_group_defaults(db, defaults)
        audit.record(
            db,
            GROUP_DEFAULTS_CHANGED,
            saved.group,
            {
                "changed": {
                    f: {"from": _shown(getattr(old, f)), "to": _shown(getattr(saved, f))} for f in changed
                }
            },
        )
    return saved, changed


def set_criticality_rule(
    db: Database, criticality: Criticality, values: dict[str, str]
) -> tuple[CriticalityRule, list[str]]:
    """Change fields of one criticality's rule from text (``{"reboot_approval": "yes"}``); a
    ConfigError names a bad field or value before anything is stored."""
    old = rule_for(db_host_policy.criticality_rules(db), criticality)
    rule = old
    for key, text in values.items():
        rule = with_rule_value(rule, key, text)
    changed = [f.name for f in fields(CriticalityRule) if getattr(old, f.name) != getattr(rule, f.name)]
    if not changed:
        return old, []
    with audit.transaction(db):
        db_host_policy.save_criticality_rule(db, rule)
        audit.record(
            db,
            CRITICALITY_RULE_CHANGED,
            str(criticality),
            {
                "changed": {
                    f: {"from": _shown(getattr(old, f)), "to": _shown(getattr(rule, f))} for f in changed
                }
            },
        )
    return rule, changed


def reset_criticality_rule(db: Database, criticality: Criticality) -> CriticalityRule:
    """Back to the built-in rule (audited)."""
    with audit.transaction(db):
        db_host_policy.reset_criticality_rule(db, criticality)
        audit.record(db, CRITICALITY_RULE_CHANGED, str(criticality), {"reset": True})
    return rule_for(db_host_policy.criticality_rules(db), criticality)


AUTO_ROLLBACK = "rollback.automatic"


def record_auto_rollbacks(db: Database, job_id: int) -> list[str]:
    """Audit each host a finished patch job rolled back by itself on red (called by the faces once
    the job's events are recorded); the hosts' names."""
    from db import changes as db_changes

    rolled = db_changes.auto_rollbacks(db, job_id)
    if not rolled:
        return []
    with audit.transaction(db):
        for r in rolled:
            audit.record(
                db,
                AUTO_ROLLBACK,
                r.host,
                {"job": job_id, "reason": list(r.reasons), "rollback_verdict": r.rollback_verdict},
            )
    return [r.host for r in rolled]


def record_pass_auto_rollbacks(db_path: Path | str, patches: Iterable[Mapping[str, Any]]) -> list[str]:
    """Audit the automatic rollbacks of a scheduler pass's patch jobs (``DueReport.patches``): the
    scheduler runs below the audit's layer, so its faces do it once the pass is over; the hosts' names."""
    jobs = sorted({int(p["job"]) for p in patches if p.get("job")})
    if not jobs:
        return []
    from db.database import open_database

    db = open_database(db_path, migrate=False)
    try:
        return [name for job in jobs for name in record_auto_rollbacks(db, job)]
    finally:
        db.conn.close()
