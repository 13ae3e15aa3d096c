"""The package history read from each host, and which of it no Patchdesk job did.

:func:`record_history` (called by the recorder, inside its batch's transaction) keeps every entry newer
than the host's previous read, decides per entry whether a Patchdesk job made it (the change records of
db/changes.py, app/domain/outside_changes.authorized_by) and returns the outside ones that are new.
A history that could not be read leaves the previous entries alone and marks the host's history
*unknown* (never "no outside changes").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.domain.outside_changes import (
    HistoryEntry,
    HistoryRead,
    HistoryStatus,
    JobChange,
    authorized_by,
    diff_programs,
    program_authorized_by,
)
from db.connection import Database
from db.database import parse_ts


@dataclass(frozen=True)
class HistoryRow:
    """One stored history entry of a host; ``authorized_job`` None: made outside Patchdesk."""

    host: str
    manager: str
    action: str
    name: str
    arch: str
    from_version: str | None
    to_version: str | None
    when: datetime
    seen_job: int | None
    authorized_job: int | None

    @property
    def outside(self) -> bool:
        return self.authorized_job is None

    def as_dict(self) -> dict[str, Any]:
        """The issue's shape (name, from, to, when) plus what the change log needs."""
        return {
            "name": self.name,
            "from": self.from_version,
            "to": self.to_version,
            "when": self.when.isoformat(),
            "manager": self.manager,
            "action": self.action,
            "authorized_by_job": self.authorized_job,
            "outside": self.outside,
        }


@dataclass(frozen=True)
class HistoryState:
    """How far a host's history has been read, and whether the last read could see it."""

    manager: str
    status: HistoryStatus
    note: str
    cursor: datetime | None
    covered_from: datetime | None
    read_at: datetime | None


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds")


def state(db: Database, host_id: int) -> HistoryState | None:
    """The host's history state; None: never read."""
    row = db.execute(
        "SELECT manager, status, note, cursor, covered_from, read_at FROM host_history_state WHERE host_id = ?",
        [host_id],
    ).fetchone()
    if row is None:
        return None
    return HistoryState(
        row[0], HistoryStatus(row[1]), row[2], parse_ts(row[3]), parse_ts(row[4]), parse_ts(row[5])
    )


def _watch_start(db: Database, host_id: int, now: datetime) -> datetime:
    """Where a host's first read starts: its previous scan (a host scanned before Patchdesk read
    histories), else when it was added to Patchdesk (what happened before that was nobody's job here)."""
    row = db.execute("SELECT last_scan_at, created_at FROM hosts WHERE id = ?", [host_id]).fetchone()
    if row is None:
        return now
    return parse_ts(row[0]) or parse_ts(row[1]) or now


def _job_changes(db: Database, host_id: int, since: datetime, now: datetime) -> list[JobChange]:
    out = []
    for r in db.query(
        "SELECT c.job_id, c.name, c.to_version, c.recorded_at, jh.started_at, jh.finished_at "
        "FROM changes c LEFT JOIN job_hosts jh ON jh.job_id = c.job_id AND jh.host_id = c.host_id "
        "WHERE c.host_id = ? AND c.recorded_at >= ?",
        [host_id, _iso(since - timedelta(days=1))],
    ):
        recorded = parse_ts(r["recorded_at"])
        started = parse_ts(r["started_at"]) or recorded
        # a step still running (the patch's own rescan) lasts until now
        finished = parse_ts(r["finished_at"]) or max(recorded or now, now)
        out.append(JobChange(r["job_id"], r["name"], r["to_version"], started, finished))
    return out


def record_history(
    db: Database, job_id: int | None, host_id: int, read: HistoryRead, now: datetime | None = None
) -> list[HistoryRow]:
    """Store what a scan read of a host's history; returns the outside changes seen for the first time."""
    now = now or datetime.now(UTC)
    prev = state(db, host_id)
    since = (prev.cursor if prev else None) or _watch_start(db, host_id, now)
    stored = _inventory(db, host_id)
    if read.status == HistoryStatus.UNKNOWN:
        _save_state(db, host_id, read.manager, HistoryStatus.UNKNOWN, read.note, since, None, now, stored)
        return []
    status, note = HistoryStatus.OK, read.note
    if read.covered_from is not None and read.covered_from > since:
        status = HistoryStatus.PARTIAL
        note = (
            f"the host's history reaches back only to {_iso(read.covered_from)}; changes between "
            f"{_iso(since)} and then are not known"
        )
    fresh = [e for e in read.entries if e.when >= since]
    programs: list[HistoryEntry] = []
    if read.inventory is not None and stored is not None:
        programs = diff_programs(stored, read.inventory, now)
    records = _job_changes(db, host_id, since, now) if fresh or programs else []
    name = _host_name(db, host_id)
    new: list[HistoryRow] = []
    for e in fresh:
        job = authorized_by(e, records)
        if _insert(db, host_id, job_id, e, job, now) and job is None:
            new.append(_row_of(name, e, job_id, None))
    last_read = (prev.read_at if prev else None) or since
    for e in programs:
        job = program_authorized_by(e, records, last_read)
        if _insert(db, host_id, job_id, e, job, now) and job is None:
            new.append(_row_of(name, e, job_id, None))
    newest = max((e.when for e in fresh), default=since)
    inventory = read.inventory if read.inventory is not None else stored
    _save_state(
        db, host_id, read.manager, status, note, max(since, newest), read.covered_from, now, inventory
    )
    return new


def _insert(
    db: Database, host_id: int, job_id: int | None, e: HistoryEntry, job: int | None, now: datetime
) -> bool:
    """Store one entry; False when a previous read stored it already."""
    cur = db.execute(
        "INSERT INTO host_history (host_id, manager, action, name, arch, from_version, to_version, "
        "happened_at, seen_job_id, seen_at, authorized_job_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT DO NOTHING",
        [
            host_id,
            e.manager,
            e.action,
            e.name,
            e.arch,
            e.from_version or "",
            e.to_version or "",
            _iso(e.when),
            job_id,
            _iso(now),
            job,
        ],
    )
    return bool(cur.rowcount == 1)


def _inventory(db: Database, host_id: int) -> tuple[tuple[str, str], ...] | None:
    row = db.execute("SELECT inventory FROM host_history_state WHERE host_id = ?", [host_id]).fetchone()
    if row is None or row[0] is None:
        return None
    try:
        items = json.loads(row[0])
    except ValueError:
        return None
    return tuple((str(n), str(v)) for n, v in items if isinstance(n, str))


def _row_of(host: str, e: HistoryEntry, seen: int | None, job: int | None) -> HistoryRow:
    return HistoryRow(
        host, e.manager, e.action, e.name, e.arch, e.from_version, e.to_version, e.when, seen, job
    )


def _host_name(db: Database, host_id: int) -> str:
    row = db.execute("SELECT name FROM hosts WHERE id = ?", [host_id]).fetchone()
    return str(row[0]) if row else f"host #{host_id}"


def _save_state(
    db: Database,
    host_id: int,
    manager: str,
    status: HistoryStatus,
    note: str,
    cursor: datetime,
    covered: datetime | None,
    now: datetime,
    inventory: tuple[tuple[str, str], ...] | None,
) -> None:
    db.execute(
        "INSERT INTO host_history_state (host_id, manager, status, note, cursor, covered_from, read_at, "
        "inventory) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (host_id) DO UPDATE SET "
        "manager = excluded.manager, status = excluded.status, note = excluded.note, "
        "cursor = excluded.cursor, covered_from = excluded.covered_from, read_at = excluded.read_at, "
        "inventory = excluded.inventory",
        [
            host_id,
            manager,
            str(status),
            note,
            _iso(cursor),
            _iso(covered) if covered else None,
            _iso(now),
            None if inventory is None else json.dumps([list(p) for p in inventory]),
        ],
    )


_SELECT = (
    "SELECT h.name AS host, x.manager, x.action, x.name, x.arch, x.from_version, x.to_version, "
    "x.happened_at, x.seen_job_id, x.authorized_job_id FROM host_history x JOIN hosts h ON h.id = x.host_id"
)


def _row(r: dict[str, Any]) -> HistoryRow:
    when = parse_ts(r["happened_at"]) or datetime.fromtimestamp(0, UTC)
    return HistoryRow(
        r["host"],
        r["manager"],
        r["action"],
        r["name"],
        r["arch"],
        r["from_version"] or None,
        r["to_version"] or None,
        when,
        r["seen_job_id"],
        r["authorized_job_id"],
    )


def history(
    db: Database,
    host_id: int | None = None,
    *,
    since: datetime | None = None,
    outside_only: bool = False,
    limit: int = 5000,
) -> list[HistoryRow]:
    """Stored history entries, oldest first (of one host, or of all)."""
    where: list[str] = []
    params: list[Any] = []
    if host_id is not None:
        where.append("x.host_id = ?")
        params.append(host_id)
    if since is not None:
        where.append("x.happened_at >= ?")
        params.append(_iso(since))
    if outside_only:
        where.append("x.authorized_job_id IS NULL")
    sql = _SELECT + (" WHERE " + " AND ".join(where) if where else "")
    sql += " ORDER BY x.happened_at, x.id LIMIT ?"
    return [_row(r) for r in db.query(sql, [*params, limit])]


def seen_in_job(db: Database, job_id: int, *, limit: int = 1000) -> list[HistoryRow]:
    """Outside changes a job's scans saw for the first time (for its alerts)."""
    sql = _SELECT + " WHERE x.seen_job_id = ? AND x.authorized_job_id IS NULL ORDER BY x.happened_at LIMIT ?"
    return [_row(r) for r in db.query(sql, [job_id, limit])]


@dataclass(frozen=True)
class OutsideCounts:
    """For the dashboard: hosts with outside changes, the changes, and hosts whose history is unknown."""

    hosts: int
    changes: int
    unknown: int


def counts(db: Database, since: datetime | None = None) -> OutsideCounts:
    params: list[Any] = []
    cond = "authorized_job_id IS NULL"
    if since is not None:
        cond += " AND happened_at >= ?"
        params.append(_iso(since))
    row = db.execute(
        f"SELECT COUNT(DISTINCT host_id), COUNT(*) FROM host_history WHERE {cond}", params
    ).fetchone()
    unknown = db.execute("SELECT COUNT(*) FROM host_history_state WHERE status = 'unknown'").fetchone()
    return OutsideCounts(int(row[0]), int(row[1]), int(unknown[0]))
