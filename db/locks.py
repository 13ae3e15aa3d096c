"""Named locks between processes: one scheduler run at a time, from the console or ``patchdesk run-due``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from db.connection import Database
from db.database import parse_ts


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
    from db.jobs import pid_alive

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
            alive = pid_alive(holder.pid)  # our own pid too: one scheduler run at a time
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
