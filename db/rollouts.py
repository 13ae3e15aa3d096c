"""Rollouts: one row per update moving through the rings, its history, and the evidence per ring."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from app.domain.errors import ConfigError
from app.domain.models import Classification, PendingUpdate, Ring, UpdateKind
from app.domain.rollout import (
    RingEvidence,
    Rollout,
    RolloutState,
    update_key,
)
from db.connection import Database
from db.database import now_iso, parse_ts


def _rollout(r: dict[str, Any]) -> Rollout:
    return Rollout(
        id=r["id"],
        key=r["key"],
        manager=r["manager"],
        name=r["name"],
        version=r["version"],
        kind=UpdateKind(r["kind"]),
        classification=Classification(r["classification"]),
        state=RolloutState(r["state"]),
        ring=Ring(r["ring"]) if r["ring"] else None,
        ring_since=parse_ts(r["ring_since"]),
        explicit_approval=bool(r["explicit_approval"]),
        override_window=bool(r["override_window"]),
        deferred_until=parse_ts(r["deferred_until"]),
        note=r["note"],
    )


def ensure_rollouts(db: Database, updates: Iterable[PendingUpdate]) -> dict[str, Rollout]:
    """A rollout row for every update (created ``new``); kind and class follow the latest scan."""
    at = now_iso()
    seen: dict[str, PendingUpdate] = {}
    for u in updates:
        seen.setdefault(update_key(u), u)
    with db.atomic():
        for key, u in seen.items():
            version = "" if key.endswith(u.name.upper()) and "=" not in key else u.available
            db.execute(
                "INSERT INTO rollouts (key, manager, name, version, kind, classification, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, "
                "classification = excluded.classification",
                [key, u.manager, u.name, version, str(u.kind), str(u.classification), at, at],
            )
    return {k: r for k in seen if (r := get_rollout(db, k)) is not None}


def get_rollout(db: Database, key: str) -> Rollout | None:
    rows = list(db.query("SELECT * FROM rollouts WHERE key = ?", [key]))
    return _rollout(rows[0]) if rows else None


def list_rollouts(db: Database, states: Iterable[RolloutState] | None = None) -> list[Rollout]:
    sql = "SELECT * FROM rollouts"
    params: list[Any] = []
    if states is not None:
        wanted = [str(s) for s in states]
        sql += f" WHERE state IN ({','.join('?' * len(wanted))})"
        params = wanted
    return [_rollout(r) for r in db.query(sql + " ORDER BY name, version", params)]


def find_rollouts(db: Database, spec: str) -> list[Rollout]:
    """Rollouts matching what a user typed: ``KB5034441``, ``openssl``, ``openssl=3.0.15-1``,
    ``apt:openssl=3.0.15-1`` (the key itself)."""
    spec = spec.strip()
    exact = get_rollout(db, spec)
    if exact is not None:
        return [exact]
    manager = None
    if ":" in spec and "=" not in spec.split(":", 1)[0]:
        head, rest = spec.split(":", 1)
        if head.isidentifier():
            manager, spec = head, rest
    name, _, version = spec.partition("=")
    sql = "SELECT * FROM rollouts WHERE name = ? COLLATE NOCASE"
    params: list[Any] = [name]
    if version:
        sql += " AND version = ?"
        params.append(version)
    if manager:
        sql += " AND manager = ?"
        params.append(manager)
    return [_rollout(r) for r in db.query(sql + " ORDER BY id", params)]


def set_rollout(
    db: Database,
    key: str,
    *,
    state: RolloutState | None = None,
    ring: Ring | None = None,
    ring_since: datetime | None = None,
    explicit_approval: bool | None = None,
    override_window: bool | None = None,
    deferred_until: datetime | None = None,
    note: str | None = None,
    actor: str | None = None,
    event_at: datetime | None = None,
) -> Rollout:
    """Change a rollout and append the change to its history."""
    current = get_rollout(db, key)
    if current is None:
        raise ConfigError(f"No update {key!r} is known.")
    sets: dict[str, Any] = {"updated_at": now_iso()}
    if state is not None:
        sets["state"] = str(state)
    if ring is not None:
        sets["ring"] = str(ring)
        sets["ring_since"] = (ring_since or datetime.now(UTC)).isoformat()
    if explicit_approval is not None:
        sets["explicit_approval"] = int(explicit_approval)
    if override_window is not None:
        sets["override_window"] = int(override_window)
    if state is not None:
        sets["deferred_until"] = deferred_until.isoformat() if deferred_until else None
    if note is not None:
        sets["note"] = note
    if actor is not None:
        sets["actor"] = actor
    with db.atomic():
        db.execute(
            f"UPDATE rollouts SET {', '.join(f'{k} = ?' for k in sets)} WHERE key = ?", [*sets.values(), key]
        )
        new = get_rollout(db, key)
        assert new is not None
        db.execute(
            "INSERT INTO rollout_events (rollout_id, at, state, ring, note, actor) VALUES (?, ?, ?, ?, ?, ?)",
            [
                new.id,
                (event_at or datetime.now(UTC)).isoformat(),
                str(new.state),
                str(new.ring) if new.ring else None,
                note or "",
                actor,
            ],
        )
    return new


def rollout_history(db: Database, key: str) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in db.query(
            "SELECT e.at, e.state, e.ring, e.note, e.actor FROM rollout_events e JOIN rollouts r "
            "ON r.id = e.rollout_id WHERE r.key = ? ORDER BY e.id",
            [key],
        )
    ]


def ring_evidence(db: Database, r: Rollout) -> dict[Ring, RingEvidence]:
    """Per ring: hosts that installed this update (by change record), green ones, rollbacks, pending."""
    got: dict[Ring, list[str]] = {}
    green: dict[Ring, list[str]] = {}
    back: dict[Ring, list[str]] = {}
    pend: dict[Ring, list[str]] = {}
    is_kb = "=" not in r.key
    change_sql = (
        "SELECT h.name, h.ring, jh.verdict, c.rolled_back_by FROM changes c "
        "JOIN job_hosts jh ON jh.job_id = c.job_id AND jh.host_id = c.host_id "
        "JOIN jobs j ON j.id = c.job_id JOIN hosts h ON h.id = c.host_id "
        "WHERE j.kind = 'patch' AND c.manager = ? AND "
        # firmware is recorded as GUID=VERSION (app/jobs/selection.py: install_name)
        + ("(c.kb = ? OR c.name = ?)" if is_kb else "c.name IN (?, ?) AND c.to_version = ?")
        + " ORDER BY c.id"
    )
    params = [r.manager, r.name, r.name] if is_kb else [r.manager, r.name, f"{r.name}={r.version}", r.version]
    latest: dict[str, tuple[Ring, str | None, bool]] = {}
    for row in db.query(change_sql, params):
        latest[row["name"]] = (Ring(row["ring"]), row["verdict"], row["rolled_back_by"] is not None)
    for host, (ring, verdict, rolled) in latest.items():
        got.setdefault(ring, []).append(host)
        if verdict == "green" and not rolled:
            green.setdefault(ring, []).append(host)
        if rolled:
            back.setdefault(ring, []).append(host)
    pend_sql = (
        "SELECT DISTINCT h.name, h.ring FROM pending_updates p JOIN hosts h ON h.id = p.host_id "
        "WHERE p.manager = ? AND p.name = ?" + ("" if is_kb else " AND p.available = ?")
    )
    for row in db.query(pend_sql, [r.manager, r.name] if is_kb else [r.manager, r.name, r.version]):
        pend.setdefault(Ring(row["ring"]), []).append(row["name"])
    return {
        ring: RingEvidence(
            tuple(got.get(ring, ())),
            tuple(green.get(ring, ())),
            tuple(back.get(ring, ())),
            tuple(pend.get(ring, ())),
        )
        for ring in Ring
    }


def pending_count(db: Database, r: Rollout) -> int:
    if "=" not in r.key:
        row = db.execute(
            "SELECT count(*) FROM pending_updates WHERE manager = ? AND name = ?", [r.manager, r.name]
        ).fetchone()
    else:
        row = db.execute(
            "SELECT count(*) FROM pending_updates WHERE manager = ? AND name = ? AND available = ?",
            [r.manager, r.name, r.version],
        ).fetchone()
    return int(row[0])
