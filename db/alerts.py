"""The ``alerts`` table: every alert raised, kept until acknowledged (the console's alerts list).

A tray balloon lasts seconds and a status-bar line fifteen; an alert nobody saw must still be there
when the administrator looks (#23 item 7). Acknowledging keeps the row (with its time) so the list
can show what was seen; only the unacknowledged ones count on the bell.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from db.connection import Database
from db.database import now_iso, write_transaction

#: The most alerts the list reads at once (newest first); older ones stay in the table.
LIST_LIMIT = 1000


@dataclass(frozen=True)
class AlertRow:
    id: int
    raised_at: str  # UTC ISO 8601
    kind: str
    title: str
    message: str
    job_id: int | None
    hosts: tuple[str, ...]
    acknowledged_at: str | None

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None


@dataclass(frozen=True)
class NewAlert:
    kind: str
    title: str
    message: str
    job_id: int | None = None
    hosts: tuple[str, ...] = ()


def add_alerts(db: Database, alerts: Sequence[NewAlert], at: str | None = None) -> list[int]:
    """Store ``alerts`` in one transaction; returns their ids."""
    when = at or now_iso()
    ids: list[int] = []
    with write_transaction(db):
        for a in alerts:
            cur = db.execute(
                "INSERT INTO alerts (raised_at, kind, title, message, job_id, hosts) VALUES (?, ?, ?, ?, ?, ?)",
                [when, a.kind, a.title, a.message, a.job_id, json.dumps(list(a.hosts))],
            )
            ids.append(int(cur.lastrowid or 0))
    return ids


def _row(r: dict[str, object]) -> AlertRow:
    try:
        hosts = tuple(str(h) for h in json.loads(str(r["hosts"] or "[]")))
    except ValueError:
        hosts = ()
    job = r["job_id"]
    return AlertRow(
        int(str(r["id"])),
        str(r["raised_at"]),
        str(r["kind"]),
        str(r["title"]),
        str(r["message"]),
        int(str(job)) if job is not None else None,
        hosts,
        str(r["acknowledged_at"]) if r["acknowledged_at"] is not None else None,
    )


def list_alerts(
    db: Database, *, include_acknowledged: bool = True, limit: int = LIST_LIMIT
) -> list[AlertRow]:
    """Newest first; the unacknowledged only when ``include_acknowledged`` is False."""
    where = "" if include_acknowledged else "WHERE acknowledged_at IS NULL "
    return [
        _row(r)
        for r in db.query(f"SELECT * FROM alerts {where}ORDER BY id DESC LIMIT :limit", {"limit": int(limit)})
    ]


def unacknowledged_count(db: Database) -> int:
    return int(db.execute("SELECT count(*) FROM alerts WHERE acknowledged_at IS NULL").fetchone()[0])


def acknowledge(db: Database, ids: Sequence[int] | None = None, at: str | None = None) -> int:
    """Mark ``ids`` (None: every open alert) acknowledged; returns how many changed."""
    when = at or now_iso()
    with write_transaction(db):
        if ids is None:
            cur = db.execute("UPDATE alerts SET acknowledged_at = ? WHERE acknowledged_at IS NULL", [when])
        else:
            marks = ", ".join("?" for _ in ids) or "NULL"
            cur = db.execute(
                f"UPDATE alerts SET acknowledged_at = ? WHERE acknowledged_at IS NULL AND id IN ({marks})",
                [when, *[int(i) for i in ids]],
            )
    return int(cur.rowcount or 0)
