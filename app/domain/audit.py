"""The audit log's hash chain: what an entry's hash covers, and how a chain is checked.

Each entry stores the hash of the previous one (``prev_hash``) and its own ``hash`` =
SHA-256(prev_hash + canonical JSON of its id, time, actor, action, target and details). Changing an
entry breaks its own hash; deleting one breaks the next entry's link (and leaves a gap in the ids);
deleting the newest entries is caught by the chain head recorded beside the log, and -- should the
head be rewritten too -- by the anchors (entry count and head hash) written outside the database at
every append (app/services/audit.py).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

GENESIS = "0" * 64


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
    #: The id of the newest entry that holds (0: none).
    last_id: int = 0
    #: Which anchor outside the database the table was checked against ("" when none was found).
    anchor: str = ""


@dataclass(frozen=True)
class Anchor:
    """The chain's end as it was written outside the database: entry count and head at an append."""

    entries: int
    head_id: int
    head_hash: str
    at: str
    source: str

    def describe(self) -> str:
        return f"the anchor of entry {self.head_id} written {self.at} to {self.source}"


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


def _newest_missing(first: int, last: int) -> str:
    if first == last:
        return f"the newest entry {first} is missing (deleted)"
    return f"the newest entries {first}..{last} are missing (deleted)"


def check_chain(rows: Iterable[Mapping[str, Any]], head: str | None) -> ChainCheck:
    """Walk stored rows (oldest first, with the ``details`` JSON as stored) and name the first entry that
    does not hold; ``head`` is the recorded ``"id:hash"`` of the newest entry, None when none is."""
    expected_prev = GENESIS
    expected_id: int | None = None
    count = 0
    last_id, last_hash = 0, GENESIS
    for r in rows:
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
    if head is None:
        return (
            ChainCheck(False, count, None, "the recorded head of the chain is missing", last_id)
            if count
            else ChainCheck(True, 0)
        )
    head_id, _, head_hash = head.partition(":")
    if not head_id.isdigit() or len(head_id) > 18:
        shown = head if len(head) <= 80 else head[:77] + "..."
        return ChainCheck(
            False, count, None, f"the recorded head of the chain is unreadable ({shown!r})", last_id
        )
    missing = int(head_id)
    if missing != last_id or head_hash != last_hash:
        if missing > last_id:
            return ChainCheck(
                False,
                count,
                missing,
                _newest_missing(last_id + 1, missing),
                last_id,
            )
        return ChainCheck(
            False, count, last_id or None, "the chain's end does not match the recorded head", last_id
        )
    return ChainCheck(True, count, last_id=last_id)


def check_anchor(check: ChainCheck, anchor: Anchor | None, anchored_hash: str | None) -> ChainCheck:
    """Hold a chain that is intact in itself against the newest anchor written outside the database;
    ``anchored_hash`` is the stored hash of the anchor's head entry (None: no such entry).

    Catches what the table and its recorded head cannot show on their own: the newest entries deleted
    and the head pointed back, or the whole log wiped with its head.
    """
    if anchor is None:
        return check
    used = anchor.describe()
    if not check.ok:
        return replace(check, anchor=used)
    if anchored_hash is None:
        if anchor.head_id > check.last_id:
            first = check.last_id + 1
            return ChainCheck(
                False,
                check.entries,
                first,
                _newest_missing(first, anchor.head_id),
                check.last_id,
                used,
            )
        reason = f"entry {anchor.head_id}, which the anchor names, is missing"
        return ChainCheck(False, check.entries, anchor.head_id, reason, check.last_id, used)
    if anchored_hash != anchor.head_hash:
        reason = "it does not match its anchor: the log was rewritten from this entry on"
        return ChainCheck(False, check.entries, anchor.head_id, reason, check.last_id, used)
    if anchor.entries > check.entries:
        reason = f"the anchor counted {anchor.entries} entries, the log holds {check.entries}"
        return ChainCheck(False, check.entries, None, reason, check.last_id, used)
    return replace(check, anchor=used)
