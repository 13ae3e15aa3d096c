"""The audit log's storage: append-only rows chained by SHA-256.

Each row stores the hash of the previous row (``prev_hash``) and its own ``hash`` =
SHA-256(prev_hash + canonical JSON of its id, time, actor, action, target and details). Changing a
row breaks its own hash; deleting one breaks the next row's link (and leaves a gap in the
AUTOINCREMENT ids); deleting the newest rows is caught by the chain head kept in ``settings``. A
UNIQUE ``prev_hash`` makes a forked chain (two writers racing) impossible: the loser retries.

What this cannot catch on its own: someone who rewrites the whole chain with recomputed hashes and
the head. Forwarding to syslog (app/audit.py) puts a copy out of the database's reach.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from db.database import now_iso

GENESIS = "0" * 64
HEAD_SETTING = "audit.head"


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: str
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "details": self.details,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class ChainCheck:
    ok: bool
    entries: int
    broken_id: int | None = None
    reason: str = ""


def canonical(entry_id: int, at: str, actor: str, action: str, target: str, details_json: str) -> bytes:
    """The bytes an entry's hash covers (details as stored, so a re-serialisation cannot hide an edit)."""
    body = {
        "id": entry_id,
        "at": at,
        "actor": actor,
        "action": action,
        "target": target,
        "details": details_json,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_hash(
    prev_hash: str, entry_id: int, at: str, actor: str, action: str, target: str, details_json: str
) -> str:
    return hashlib.sha256(
        prev_hash.encode("ascii") + canonical(entry_id, at, actor, action, target, details_json)
    ).hexdigest()


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
    expected_prev = GENESIS
    expected_id: int | None = None
    count = 0
    last_id, last_hash = 0, GENESIS
    for r in db.query("SELECT * FROM audit_log ORDER BY id"):
        count += 1
        rid = int(r["id"])
        if expected_id is not None and rid != expected_id:
            return ChainCheck(False, count, rid, f"entries {expected_id}..{rid - 1} are missing (deleted)")
        if expected_id is None and rid != 1:
            return ChainCheck(False, count, rid, f"entries 1..{rid - 1} are missing (deleted)")
        if r["prev_hash"] != expected_prev:
            return ChainCheck(
                False,
                count,
                rid,
                f"its link to entry {rid - 1} does not match: entry {rid - 1} was changed or deleted",
            )
        digest = entry_hash(
            r["prev_hash"],
            rid,
            str(r["at"]),
            str(r["actor"]),
            str(r["action"]),
            str(r["target"]),
            str(r["details"]),
        )
        if digest != r["hash"]:
            return ChainCheck(False, count, rid, "its content does not match its hash: it was changed")
        expected_prev, expected_id = r["hash"], rid + 1
        last_id, last_hash = rid, r["hash"]
    head = db.execute("SELECT value FROM settings WHERE key = ?", [HEAD_SETTING]).fetchone()
    if head:
        head_id, _, head_hash = str(head[0]).partition(":")
        if int(head_id or 0) != last_id or head_hash != last_hash:
            missing = int(head_id or 0)
            if missing > last_id:
                return ChainCheck(
                    False,
                    count,
                    missing,
                    f"the newest entries {last_id + 1}..{missing} are missing (deleted)",
                )
            return ChainCheck(
                False, count, last_id or None, "the chain's end does not match the recorded head"
            )
    elif count:
        return ChainCheck(False, count, None, "the recorded head of the chain is missing")
    return ChainCheck(True, count)


def count(db: Database) -> int:
    return int(db.execute("SELECT count(*) FROM audit_log").fetchone()[0])
