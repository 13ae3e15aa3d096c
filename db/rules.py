"""Classification rules, in the order they are tried, and the classes they give pending updates."""

from __future__ import annotations

import json
from collections.abc import Sequence

from app.domain.models import Classification, PendingUpdate
from app.domain.rules import Rule
from db.connection import Database


def list_rules(db: Database) -> list[Rule]:
    """Rules in the order they are tried."""
    return [
        Rule.from_json(
            {
                "name": r["name"],
                "classification": r["classification"],
                "conditions": json.loads(r["conditions"]),
                "description": r["description"],
                "enabled": bool(r["enabled"]),
            }
        )
        for r in db.query("SELECT * FROM classification_rules ORDER BY position, id")
    ]


def save_rule(db: Database, rule: Rule, position: int | None = None) -> None:
    """Add or change a rule (by name). ``position``: 1-based place in the order; default keeps it
    where it is, or appends a new rule."""
    names = [r.name.lower() for r in list_rules(db)]
    with db.atomic():
        exists = rule.name.lower() in names
        if exists:
            db.execute(
                "UPDATE classification_rules SET classification = ?, conditions = ?, description = ?, enabled = ? "
                "WHERE name = ?",
                [
                    str(rule.classification),
                    json.dumps(rule.conditions_json()),
                    rule.description,
                    int(rule.enabled),
                    rule.name,
                ],
            )
        else:
            db.execute(
                "INSERT INTO classification_rules (position, name, classification, conditions, description, enabled) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    0,
                    rule.name,
                    str(rule.classification),
                    json.dumps(rule.conditions_json()),
                    rule.description,
                    int(rule.enabled),
                ],
            )
            names.append(rule.name.lower())
        if position is not None or not exists:
            order = [n for n in names if n != rule.name.lower()]
            at = len(order) if position is None else max(0, min(len(order), position - 1))
            order.insert(at, rule.name.lower())
            for i, n in enumerate(order):
                db.execute("UPDATE classification_rules SET position = ? WHERE name = ?", [(i + 1) * 10, n])


def remove_rule(db: Database, name: str) -> bool:
    with db.atomic():
        cur = db.execute("DELETE FROM classification_rules WHERE name = ?", [name])
    return cur.rowcount > 0


def reset_rules(db: Database, rules: Sequence[Rule]) -> None:
    with db.atomic():
        db.execute("DELETE FROM classification_rules")
        for i, r in enumerate(rules):
            db.execute(
                "INSERT INTO classification_rules (position, name, classification, conditions, description, enabled) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (i + 1) * 10,
                    r.name,
                    str(r.classification),
                    json.dumps(r.conditions_json()),
                    r.description,
                    int(r.enabled),
                ],
            )


# -- the classes of a host's pending updates, after the rules changed or advisories arrived -----------


def update_pending_classification(db: Database, host_id: int, updates: Sequence[PendingUpdate]) -> None:
    """Store new classes/reasons/links of a host's pending updates and refresh its counts."""
    with db.atomic():
        for u in updates:
            db.execute(
                "UPDATE pending_updates SET classification = ?, reason = ?, cves = ?, advisories = ?, "
                "severity = ?, security = ? WHERE host_id = ? AND manager = ? AND name = ? AND arch = ? AND available = ?",
                [
                    str(u.classification),
                    u.reason,
                    json.dumps(list(u.cves)),
                    json.dumps(list(u.advisories)),
                    u.severity,
                    int(u.security),
                    host_id,
                    u.manager,
                    u.name,
                    u.arch,
                    u.available,
                ],
            )
        counts = {c: 0 for c in Classification}
        for r in db.query(
            "SELECT classification, count(*) AS n FROM pending_updates WHERE host_id = ? GROUP BY classification",
            [host_id],
        ):
            counts[Classification(r["classification"])] = r["n"]
        db.execute(
            "UPDATE hosts SET pending_urgent = ?, pending_important = ?, pending_noncritical = ? WHERE id = ?",
            [
                counts[Classification.URGENT],
                counts[Classification.IMPORTANT],
                counts[Classification.NONCRITICAL],
                host_id,
            ],
        )
