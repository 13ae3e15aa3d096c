"""The audit log's hash chain: what an entry's hash covers, and how a chain is checked.

Each entry stores the hash of the previous one (``prev_hash``) and its own ``hash`` =
SHA-256(prev_hash + canonical JSON of its id, time, actor, action, target and details). Changing an
entry breaks its own hash; deleting one breaks the next entry's link (and leaves a gap in the ids);
deleting the newest entries is caught by the chain head recorded beside the log.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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
            ChainCheck(False, count, None, "the recorded head of the chain is missing")
            if count
            else ChainCheck(True, 0)
        )
    head_id, _, head_hash = head.partition(":")
    if int(head_id or 0) != last_id or head_hash != last_hash:
        missing = int(head_id or 0)
        if missing > last_id:
            return ChainCheck(
                False,
                count,
                missing,
                f"the newest entries {last_id + 1}..{missing} are missing (deleted)",
            )
        return ChainCheck(False, count, last_id or None, "the chain's end does not match the recorded head")
    return ChainCheck(True, count)
