"""Searching, exporting and pruning the per-host job logs (the Logs view and its retention)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from db.connection import Database

RETENTION_SETTING = "logs.retention_days"


@dataclass(frozen=True)
class LogQuery:
    text: str | None = None
    host: str | None = None  # host name (exact, case-insensitive)
    job_id: int | None = None
    since: str | None = None  # ISO time, inclusive
    until: str | None = None  # ISO time, exclusive
    levels: tuple[str, ...] = ()  # empty: every level


@dataclass(frozen=True)
class LogRow:
    id: int
    job_id: int
    job_kind: str
    host: str
    ts: str
    level: str
    text: str


def _where(q: LogQuery, params: list[Any]) -> str:
    clauses = ["1"]
    if q.text:
        clauses.append("l.text LIKE ? ESCAPE '\\'")
        params.append("%" + q.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    if q.host:
        clauses.append("l.host_id IN (SELECT id FROM hosts WHERE name = ?)")
        params.append(q.host)
    if q.job_id is not None:
        clauses.append("l.job_id = ?")
        params.append(q.job_id)
    if q.since:
        clauses.append("l.ts >= ?")
        params.append(q.since)
    if q.until:
        clauses.append("l.ts < ?")
        params.append(q.until)
    if q.levels:
        clauses.append(f"l.level IN ({', '.join('?' * len(q.levels))})")
        params.extend(q.levels)
    return " AND ".join(clauses)


_SELECT = (
    "SELECT l.id, l.job_id, j.kind, COALESCE(h.name, jh.host_name, '') AS host, l.ts, l.level, l.text "
    "FROM job_logs l JOIN jobs j ON j.id = l.job_id LEFT JOIN hosts h ON h.id = l.host_id "
    "LEFT JOIN job_hosts jh ON jh.job_id = l.job_id AND jh.host_id = l.host_id "
)


def search(db: Database, q: LogQuery, *, limit: int = 5000, before_id: int | None = None) -> list[LogRow]:
    """Newest first, ``limit`` rows at most; page on with ``before_id`` (the last row's id)."""
    params: list[Any] = []
    where = _where(q, params)
    if before_id is not None:
        where += " AND l.id < ?"
        params.append(before_id)
    params.append(limit)
    return [LogRow(*r) for r in db.execute(f"{_SELECT} WHERE {where} ORDER BY l.id DESC LIMIT ?", params)]


def iter_all(db: Database, q: LogQuery, batch: int = 5000) -> Iterator[LogRow]:
    """Every matching row, oldest first, in batches (for an export of any size)."""
    after = 0
    while True:
        params: list[Any] = []
        where = _where(q, params) + " AND l.id > ?"
        params += [after, batch]
        rows = [LogRow(*r) for r in db.execute(f"{_SELECT} WHERE {where} ORDER BY l.id LIMIT ?", params)]
        if not rows:
            return
        yield from rows
        after = rows[-1].id


def count_older_than(db: Database, before: str) -> int:
    return int(db.execute("SELECT count(*) FROM job_logs WHERE ts < ?", [before]).fetchone()[0])


def prune_older_than(db: Database, before: str) -> int:
    """Delete log lines older than ``before``; returns how many."""
    with db.atomic():
        cur = db.execute("DELETE FROM job_logs WHERE ts < ?", [before])
    return int(cur.rowcount or 0)


def retention_days(db: Database) -> int | None:
    row = db.execute("SELECT value FROM settings WHERE key = ?", [RETENTION_SETTING]).fetchone()
    try:
        days = int(row[0]) if row else 0
    except ValueError:
        return None
    return days if days > 0 else None


def set_retention_days(db: Database, days: int | None) -> None:
    with db.atomic():
        if not days:
            db.execute("DELETE FROM settings WHERE key = ?", [RETENTION_SETTING])
        else:
            db.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [RETENTION_SETTING, str(int(days))],
            )


def job_ids(db: Database, limit: int = 500) -> list[tuple[int, str, str]]:
    """Recent jobs (id, kind, created_at) for the Logs view's job filter."""
    return [
        (int(r[0]), str(r[1]), str(r[2]))
        for r in db.execute("SELECT id, kind, created_at FROM jobs ORDER BY id DESC LIMIT ?", [limit])
    ]


def host_names(db: Database) -> list[str]:
    return [r[0] for r in db.execute("SELECT name FROM hosts ORDER BY name COLLATE NOCASE")]


LEVELS: Sequence[str] = ("debug", "info", "warning", "error")
