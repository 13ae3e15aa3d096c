"""The audit log's storage: append-only rows chained by SHA-256 (the chain itself: app/domain/audit.py).

The chain head is kept in ``settings``, so deleting the newest rows shows. A UNIQUE ``prev_hash`` makes a forked chain (two writers racing) impossible: the loser retries.

What this cannot catch on its own: someone who deletes the newest rows and rewrites the head with
them, or rewrites the whole chain with recomputed hashes. The anchors app/services/audit.py writes to
the log file (and syslog) at every append put the chain's end out of the database's reach.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from typing import Any

from app.domain.audit import GENESIS, AuditEntry, ChainCheck, check_chain, entry_hash
from db.connection import Database
from db.database import now_iso

HEAD_SETTING = "audit.head"


def append(
    db: Database, action: str, target: str, details: Mapping[str, Any], actor: str, *, retries: int = 5
) -> AuditEntry:
    """Append one entry at the end of the chain, in its own immediate transaction."""
    details_json = json.dumps(
        dict(details), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    last_exc: Exception | None = None
    for _ in range(retries):
        own = not db.conn.in_transaction
        if own:
            db.execute("BEGIN IMMEDIATE")  # the read of the last hash and the insert must not interleave
        try:
            row = db.execute("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()
            prev = row[1] if row else GENESIS
            seq = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'audit_log'").fetchone()
            entry_id = int(seq[0]) + 1 if seq else 1
            at = now_iso()
            digest = entry_hash(prev, entry_id, at, actor, action, target, details_json)
            db.execute(
                "INSERT INTO audit_log (id, at, actor, action, target, details, prev_hash, hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [entry_id, at, actor, action, target, details_json, prev, digest],
            )
            db.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [HEAD_SETTING, f"{entry_id}:{digest}"],
            )
            if own:
                db.execute("COMMIT")
            return AuditEntry(entry_id, at, actor, action, target, json.loads(details_json), prev, digest)
        except sqlite3.IntegrityError as exc:  # another writer appended first: read the new end, retry
            if own:
                db.execute("ROLLBACK")
            last_exc = exc
        except BaseException:
            if own and db.conn.in_transaction:
                db.execute("ROLLBACK")
            raise
    raise RuntimeError(f"could not append to the audit log: {last_exc}")


def _entry(r: Mapping[str, Any]) -> AuditEntry:
    try:
        details = json.loads(r["details"])
    except ValueError:
        details = {"unparsed": r["details"]}
    return AuditEntry(
        r["id"], r["at"], r["actor"], r["action"], r["target"], details, r["prev_hash"], r["hash"]
    )


def entries(
    db: Database,
    *,
    limit: int | None = 1000,
    text: str | None = None,
    action: str | None = None,
    since: str | None = None,
) -> list[AuditEntry]:
    """Newest first."""
    where: list[str] = ["1"]
    params: list[object] = []
    if text:
        where.append("(target LIKE ? OR details LIKE ? OR actor LIKE ? OR action LIKE ?)")
        params += [f"%{text}%"] * 4
    if action:
        where.append("action = ?")
        params.append(action)
    if since:
        where.append("at >= ?")
        params.append(since)
    sql = f"SELECT * FROM audit_log WHERE {' AND '.join(where)} ORDER BY id DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [_entry(r) for r in db.query(sql, params)]


def verify(db: Database) -> ChainCheck:
    """Walk the chain oldest first and name the first entry that does not hold."""
    head = db.execute("SELECT value FROM settings WHERE key = ?", [HEAD_SETTING]).fetchone()
    return check_chain(db.query("SELECT * FROM audit_log ORDER BY id"), str(head[0]) if head else None)


def hash_of(db: Database, entry_id: int) -> str | None:
    """The stored hash of entry ``entry_id``; None when there is no such entry."""
    row = db.execute("SELECT hash FROM audit_log WHERE id = ?", [entry_id]).fetchone()
    return str(row[0]) if row else None


def count(db: Database) -> int:
    return int(db.execute("SELECT count(*) FROM audit_log").fetchone()[0])
