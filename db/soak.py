"""Soak monitoring's records: each soak check of a host for a rollout, and each patch's health baseline."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from app.domain.models import Ring
from app.domain.rollout import SoakCheck, SoakVerdict
from app.domain.verdicts import Health
from db.connection import Database
from db.database import now_iso, parse_ts

#: soak checks kept per rollout in a listing (the newest); the gate reads only the current ring's
HISTORY_LIMIT = 200


def add_soak_checks(db: Database, checks: Iterable[tuple[SoakCheck, int | None]]) -> None:
    """Append (check, host_id) rows; the rollout is found by its key (a check of an unknown one is a bug)."""
    rec = now_iso()
    with db.atomic():
        for c, host_id in checks:
            db.execute(
                "INSERT INTO soak_checks (rollout_id, host_id, host_name, ring, at, verdict, reasons, job_id, "
                "recorded_at) SELECT id, ?, ?, ?, ?, ?, ?, ?, ? FROM rollouts WHERE key = ?",
                [
                    host_id,
                    c.host,
                    str(c.ring),
                    c.at.isoformat(),
                    str(c.verdict),
                    json.dumps(list(c.reasons)),
                    c.job_id,
                    rec,
                    c.rollout_key,
                ],
            )


def _check(r: dict[str, Any]) -> SoakCheck:
    at = parse_ts(r["at"])
    assert at is not None
    try:
        reasons = tuple(str(x) for x in json.loads(r["reasons"]))
    except (ValueError, TypeError):
        reasons = (str(r["reasons"]),)
    return SoakCheck(
        r["key"], r["host_name"], Ring(r["ring"]), at, SoakVerdict(r["verdict"]), reasons, r["job_id"]
    )


def soak_checks(db: Database, key: str, *, limit: int = HISTORY_LIMIT) -> list[SoakCheck]:
    """The rollout's soak checks, oldest first (the newest ``limit`` of them)."""
    rows = list(
        db.query(
            "SELECT r.key, s.* FROM soak_checks s JOIN rollouts r ON r.id = s.rollout_id WHERE r.key = ? "
            "ORDER BY s.at DESC, s.id DESC LIMIT ?",
            [key, limit],
        )
    )
    return [_check(r) for r in reversed(rows)]


def soak_checks_for(db: Database, keys: Sequence[str], *, limit: int = 20) -> dict[str, list[SoakCheck]]:
    """The newest ``limit`` soak checks of each of ``keys`` (for lists and views), oldest first."""
    return {k: soak_checks(db, k, limit=limit) for k in keys}


def last_checked(db: Database, key: str, host_name: str, ring: Ring) -> datetime | None:
    """When ``host_name`` was last soak-checked for the rollout in ``ring`` (scheduler time)."""
    row = db.execute(
        "SELECT max(s.at) FROM soak_checks s JOIN rollouts r ON r.id = s.rollout_id "
        "WHERE r.key = ? AND s.host_name = ? AND s.ring = ?",
        [key, host_name, str(ring)],
    ).fetchone()
    return parse_ts(row[0]) if row and row[0] else None


# -- the health each patch saw before it changed anything ---------------------------------------------


def record_baseline(db: Database, job_id: int, host_id: int, health: Health) -> None:
    db.execute(
        "INSERT INTO health_baselines (job_id, host_id, health, taken_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (job_id, host_id) DO UPDATE SET health = excluded.health, taken_at = excluded.taken_at",
        [job_id, host_id, json.dumps(health.as_json()), now_iso()],
    )


def baseline(db: Database, job_id: int, host_id: int) -> Health | None:
    """The health ``job_id`` took on the host before changing it (None: not recorded, or unreadable)."""
    row = db.execute(
        "SELECT health FROM health_baselines WHERE job_id = ? AND host_id = ?", [job_id, host_id]
    ).fetchone()
    if row is None:
        return None
    try:
        d = json.loads(row[0])
        journal = d.get("journal_errors")
        return Health(
            now=d.get("now"),
            boot_time=d.get("boot_time"),
            load1=d.get("load1"),
            mem_available_kb=d.get("mem_available_kb"),
            mem_total_kb=d.get("mem_total_kb"),
            cpus=d.get("cpus"),
            system_state=d.get("system_state"),
            failed_units=tuple(d.get("failed_units") or ()),
            services=dict(d.get("services") or {}),
            journal_errors=None if journal is None else tuple(journal),
        )
    except (ValueError, TypeError, AttributeError):
        return None  # a baseline we cannot read compares with nothing, as without one
