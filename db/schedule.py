"""What the scheduler reads and writes besides rollouts: patch durations, busy hosts and its event log."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from app.domain.schedule import ScheduleEvent
from db.connection import Database
from db.database import now_iso, parse_ts

# -- how long patching took, and which hosts are busy now ----------------------------------------------


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
    from db.jobs import pid_alive

    busy: set[int] = set()
    for r in db.query(
        "SELECT jh.host_id, j.pid FROM job_hosts jh JOIN jobs j ON j.id = jh.job_id "
        "WHERE jh.state IN ('queued', 'running') AND jh.host_id IS NOT NULL"
    ):
        if pid_alive(r["pid"]):
            busy.add(int(r["host_id"]))
    return busy


# -- the log of what the scheduler did and why it did not ---------------------------------------------


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
