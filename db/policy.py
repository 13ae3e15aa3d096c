"""Policy storage: classification rules, settings, rollouts, windows, scheduler events and lock."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from app.domain.errors import ConfigError
from app.domain.maintenance_windows import MaintenanceWindow
from app.domain.models import Classification, PendingUpdate, Ring, UpdateKind
from app.domain.rollout import (
    DEFAULT_SOAK,
    PolicySettings,
    RingEvidence,
    Rollout,
    RolloutState,
    update_key,
)
from app.domain.rules import Rule
from app.domain.schedule import ScheduleEvent
from db.database import now_iso, parse_ts
from db.hosts import ensure_group

# -- classification rules --------------------------------------------------------------------------


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


# -- settings ----------------------------------------------------------------------------------------


def get_setting(db: Database, key: str) -> str | None:
    row = db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
    return str(row[0]) if row else None


def set_setting(db: Database, key: str, value: str | None) -> None:
    with db.atomic():
        if value is None:
            db.execute("DELETE FROM settings WHERE key = ?", [key])
        else:
            db.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [key, value],
            )


def policy_settings(db: Database) -> PolicySettings:
    raw = {
        r["key"][7:]: r["value"]
        for r in db.query("SELECT key, value FROM settings WHERE key LIKE 'policy.%'")
    }

    def num(key: str, default: float) -> float:
        try:
            return float(raw[key]) if key in raw else default
        except ValueError:
            return default

    d = PolicySettings()
    soak = {
        c: timedelta(hours=num(f"soak.{c}", DEFAULT_SOAK[c].total_seconds() / 3600)) for c in Classification
    }
    return PolicySettings(
        soak=soak,
        verify_share=num("verify_share", d.verify_share),
        reserve_factor=num("reserve_factor", d.reserve_factor),
        default_estimate=timedelta(minutes=num("default_estimate", d.default_estimate.total_seconds() / 60)),
        scan_interval=timedelta(hours=num("scan_interval", d.scan_interval.total_seconds() / 3600)),
        lock_ttl=timedelta(minutes=num("lock_ttl", d.lock_ttl.total_seconds() / 60)),
        urgent_push=raw.get("urgent_push", "yes").lower() in ("1", "yes", "true", "on"),
    )


def set_policy_setting(db: Database, key: str, value: str) -> None:
    """Validate and store one ``policy.*`` setting (key without the prefix)."""
    if key not in PolicySettings.KEYS:
        raise ConfigError(f"Unknown policy setting {key!r}; known: {', '.join(PolicySettings.KEYS)}.")
    if key == "urgent_push":
        v = value.strip().lower()
        if v not in ("yes", "no", "true", "false", "1", "0", "on", "off"):
            raise ConfigError("urgent_push takes yes or no.")
        value = "yes" if v in ("yes", "true", "1", "on") else "no"
    else:
        try:
            f = float(value)
        except ValueError as exc:
            raise ConfigError(f"{key} takes a number, not {value!r}.") from exc
        if f < 0 or (key == "verify_share" and f > 1):
            raise ConfigError(f"{key} = {value} is out of range.")
        if key in ("default_estimate", "lock_ttl", "scan_interval") and f <= 0:
            raise ConfigError(f"{key} must be positive.")
    set_setting(db, f"policy.{key}", value)


# -- rollouts ----------------------------------------------------------------------------------------


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
        + ("(c.kb = ? OR c.name = ?)" if is_kb else "c.name = ? AND c.to_version = ?")
        + " ORDER BY c.id"
    )
    params = [r.manager, r.name, r.name] if is_kb else [r.manager, r.name, r.version]
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


# -- reclassification -----------------------------------------------------------------------------


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


# -- maintenance windows ----------------------------------------------------------------------------


def _window(db: Database, r: dict[str, Any]) -> MaintenanceWindow:
    groups = tuple(
        g[0]
        for g in db.execute(
            "SELECT g.name FROM window_groups wg JOIN groups g ON g.id = wg.group_id WHERE wg.window_id = ? "
            "ORDER BY g.name COLLATE NOCASE",
            [r["id"]],
        )
    )
    return MaintenanceWindow(
        id=r["id"],
        name=r["name"],
        rrule=r["rrule"],
        dtstart=datetime.fromisoformat(r["dtstart"]),
        duration=timedelta(minutes=r["duration_minutes"]),
        tz=r["tz"],
        groups=groups,
        enabled=bool(r["enabled"]),
        description=r["description"],
    )


def _window_row(w: MaintenanceWindow) -> list[object]:
    return [
        w.name,
        w.rrule,
        w.dtstart.isoformat(),
        w.duration.total_seconds() / 60,
        w.tz,
        int(w.enabled),
        w.description,
    ]


def _saved_window(db: Database, w: MaintenanceWindow, write: Callable[[], int]) -> MaintenanceWindow:
    """Run ``write`` (which returns the window's row id), then set its groups -- in one transaction."""
    try:
        with db.atomic():
            wid = write()
            db.execute("DELETE FROM window_groups WHERE window_id = ?", [wid])
            for g in w.groups:
                db.execute(
                    "INSERT OR IGNORE INTO window_groups (window_id, group_id) VALUES (?, ?)",
                    [wid, ensure_group(db, g)],
                )
    except sqlite3.IntegrityError as exc:
        if "UNIQUE" in str(exc):
            raise ConfigError(f"A window named {w.name!r} already exists.") from exc
        raise
    got = get_window(db, w.name)
    assert got is not None
    return got


def add_window(db: Database, w: MaintenanceWindow) -> MaintenanceWindow:
    def insert() -> int:
        cur = db.execute(
            "INSERT INTO maintenance_windows (name, rrule, dtstart, duration_minutes, tz, enabled, description, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [*_window_row(w), now_iso()],
        )
        return int(cur.lastrowid or 0)

    return _saved_window(db, w, insert)


def update_window(db: Database, name: str, w: MaintenanceWindow) -> MaintenanceWindow:
    """Replace the window called ``name`` by ``w`` (which may rename it), keeping its row id."""

    def update() -> int:
        row = db.execute("SELECT id FROM maintenance_windows WHERE name = ?", [name]).fetchone()
        if row is None:
            raise ConfigError(f"There is no window named {name!r} (removed meanwhile?).")
        db.execute(
            "UPDATE maintenance_windows SET name = ?, rrule = ?, dtstart = ?, duration_minutes = ?, tz = ?, "
            "enabled = ?, description = ? WHERE id = ?",
            [*_window_row(w), row[0]],
        )
        return int(row[0])

    return _saved_window(db, w, update)


def get_window(db: Database, name: str) -> MaintenanceWindow | None:
    rows = list(db.query("SELECT * FROM maintenance_windows WHERE name = ?", [name]))
    return _window(db, rows[0]) if rows else None


def list_windows(db: Database) -> list[MaintenanceWindow]:
    return [
        _window(db, r) for r in db.query("SELECT * FROM maintenance_windows ORDER BY name COLLATE NOCASE")
    ]


def remove_window(db: Database, name: str) -> bool:
    with db.atomic():
        cur = db.execute("DELETE FROM maintenance_windows WHERE name = ?", [name])
    return cur.rowcount > 0


def windows_for_group(db: Database, group: str | None) -> list[MaintenanceWindow]:
    if not group:
        return []
    return [w for w in list_windows(db) if group.lower() in (g.lower() for g in w.groups)]


# -- history used by the scheduler --------------------------------------------------------------------


def patch_durations(db: Database, host_id: int, limit: int = 20) -> list[timedelta]:
    """How long the host's recent successful patch steps took (newest first)."""
    out = []
    for r in db.query(
        "SELECT jh.started_at, jh.finished_at FROM job_hosts jh JOIN jobs j ON j.id = jh.job_id "
        "WHERE jh.host_id = ? AND j.kind = 'patch' AND jh.state = 'succeeded' "
        "AND jh.started_at IS NOT NULL AND jh.finished_at IS NOT NULL ORDER BY j.id DESC LIMIT ?",
        [host_id, limit],
    ):
        a, b = parse_ts(r["started_at"]), parse_ts(r["finished_at"])
        if a and b and b > a:
            out.append(b - a)
    return out


def busy_hosts(db: Database) -> set[int]:
    """Hosts with a step queued or running in a job whose process is alive (ours or another's)."""
    from db.jobs import _pid_alive

    busy: set[int] = set()
    for r in db.query(
        "SELECT jh.host_id, j.pid FROM job_hosts jh JOIN jobs j ON j.id = jh.job_id "
        "WHERE jh.state IN ('queued', 'running') AND jh.host_id IS NOT NULL"
    ):
        if _pid_alive(r["pid"]):
            busy.add(int(r["host_id"]))
    return busy


# -- scheduler events -----------------------------------------------------------------------------------


def add_schedule_events(db: Database, events: Iterable[tuple[ScheduleEvent, int | None]]) -> None:
    """Append (event, host_id) rows: the log of what the scheduler did and why it did not."""
    rec = now_iso()
    with db.atomic():
        db.conn.executemany(
            "INSERT INTO schedule_events (at, recorded_at, host_id, host_name, update_key, action, reason, job_id, dry_run) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (e.at, rec, hid, e.host_name, e.update_key, e.action, e.reason, e.job_id, int(e.dry_run))
                for e, hid in events
            ],
        )


def schedule_events(db: Database, *, host_id: int | None = None, limit: int = 200) -> list[ScheduleEvent]:
    sql = "SELECT * FROM schedule_events"
    params: list[Any] = []
    if host_id is not None:
        sql += " WHERE host_id = ?"
        params.append(host_id)
    return [
        ScheduleEvent(
            r["at"],
            r["host_name"],
            r["update_key"],
            r["action"],
            r["reason"],
            r["job_id"],
            bool(r["dry_run"]),
        )
        for r in db.query(sql + " ORDER BY id DESC LIMIT ?", [*params, limit])
    ]


# -- the scheduler lock -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LockHolder:
    owner: str
    pid: int
    expires_at: str


def acquire_lock(db: Database, name: str, owner: str, ttl: timedelta) -> LockHolder | None:
    """Take the named lock; None on success, else who holds it.

    A row with the owner's pid and an expiry: a holder whose process is gone, or whose expiry passed
    (real time, never the simulated one), loses the lock. BEGIN IMMEDIATE makes the check-and-take
    atomic between processes.
    """
    from db.jobs import _pid_alive

    now = datetime.now(UTC)
    pid = os.getpid()
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute(
            "SELECT owner, pid, expires_at FROM scheduler_lock WHERE name = ?", [name]
        ).fetchone()
        if row is not None:
            holder = LockHolder(row[0], int(row[1]), row[2])
            expires = parse_ts(holder.expires_at)
            alive = _pid_alive(holder.pid)  # our own pid too: one scheduler run at a time
            if alive and expires is not None and expires > now:
                conn.execute("ROLLBACK")
                return holder
        conn.execute(
            "INSERT INTO scheduler_lock (name, owner, pid, acquired_at, expires_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, pid = excluded.pid, "
            "acquired_at = excluded.acquired_at, expires_at = excluded.expires_at",
            [name, owner, pid, now.isoformat(), (now + ttl).isoformat()],
        )
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return None


def release_lock(db: Database, name: str) -> None:
    with db.atomic():
        db.execute("DELETE FROM scheduler_lock WHERE name = ? AND pid = ?", [name, os.getpid()])
