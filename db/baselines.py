"""Baselines, their history and assignments, drift results and remediations (schema: m010_baselines).

``list_baselines`` and ``baselines_for_host`` are the stable read interface (the Ansible export uses
them); they return app.domain.baseline values.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.domain.baseline import (
    MAX_FILE_BYTES,
    Baseline,
    BaselineItem,
    DriftItem,
    DriftVerdict,
    ItemResult,
    ItemStatus,
    RemediationRecorded,
    verdict,
)
from app.domain.errors import ConfigError
from app.domain.models import Host
from db import audit as db_audit
from db.connection import Database
from db.database import now_iso, write_transaction

DRIFT_DETECTED = "drift.detected"
DRIFT_RESOLVED = "drift.resolved"


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _items(db: Database, baseline_id: int) -> tuple[BaselineItem, ...]:
    rows = db.execute(
        "SELECT id, kind, target, expected FROM baseline_items WHERE baseline_id = ? ORDER BY kind, target",
        [baseline_id],
    ).fetchall()
    return tuple(BaselineItem(r[0], r[1], r[2], json.loads(r[3])) for r in rows)


def _id(db: Database, name: str) -> int:
    row = db.execute("SELECT id FROM baselines WHERE name = ?", [name]).fetchone()
    if row is None:
        raise ConfigError(f"No baseline named {name!r}: `patchdesk baseline list` shows them.")
    return int(row[0])


def list_baselines(db: Database) -> list[Baseline]:
    """Every baseline with its items, by name."""
    rows = db.execute("SELECT id, name FROM baselines ORDER BY name COLLATE NOCASE").fetchall()
    return [Baseline(r[1], _items(db, r[0])) for r in rows]


def get_baseline(db: Database, name: str) -> Baseline:
    return Baseline(name, _items(db, _id(db, name)))


def baselines_for_host(db: Database, host: Host) -> list[Baseline]:
    """The baselines assigned to ``host``, directly or through its group."""
    rows = db.execute(
        "SELECT DISTINCT b.id, b.name FROM baselines b JOIN baseline_assignments a ON a.baseline_id = b.id "
        "WHERE a.host_id = ? OR (a.group_name IS NOT NULL AND a.group_name = ? COLLATE NOCASE) "
        "ORDER BY b.name COLLATE NOCASE",
        [host.id, host.group or "\x00"],
    ).fetchall()
    return [Baseline(r[1], _items(db, r[0])) for r in rows]


def items_for_hosts(db: Database, hosts: Iterable[Host]) -> dict[int, tuple[BaselineItem, ...]]:
    """``{host id: items}`` of every baseline assigned to each host (an item once). Read with every
    scan, so it costs two queries and the items of assigned baselines, whatever the number of hosts."""
    rows = db.execute("SELECT baseline_id, host_id, group_name FROM baseline_assignments").fetchall()
    if not rows:
        return {}
    by_host: dict[int, set[int]] = {}
    by_group: dict[str, set[int]] = {}
    for bid, hid, group in rows:
        if hid is not None:
            by_host.setdefault(int(hid), set()).add(int(bid))
        else:
            by_group.setdefault(str(group).casefold(), set()).add(int(bid))
    items: dict[int, tuple[BaselineItem, ...]] = {}
    out: dict[int, tuple[BaselineItem, ...]] = {}
    for host in hosts:
        if host.id is None:
            continue
        bids = by_host.get(host.id, set()) | by_group.get((host.group or "").casefold(), set())
        seen: dict[int, BaselineItem] = {}
        for bid in sorted(bids):
            if bid not in items:
                items[bid] = _items(db, bid)
            for item in items[bid]:
                seen.setdefault(item.id, item)
        if seen:
            out[host.id] = tuple(seen.values())
    return out


def _history(db: Database, baseline_id: int | None, name: str, actor: str, action: str, details: Any) -> None:
    db.execute(
        "INSERT INTO baseline_history (baseline_id, baseline_name, at, actor, action, details) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [baseline_id, name, now_iso(), actor, action, _dumps(details)],
    )


def create_baseline(
    db: Database, name: str, items: Sequence[BaselineItem], actor: str, blobs: Iterable[bytes] = ()
) -> int:
    """A new baseline with ``items`` and the file contents they restore; a taken name is refused."""
    if not name.strip() or len(name) > 100:
        raise ConfigError("A baseline needs a name of 1 to 100 characters.")
    with write_transaction(db):
        if db.execute("SELECT 1 FROM baselines WHERE name = ?", [name]).fetchone():
            raise ConfigError(f"A baseline named {name!r} already exists.")
        at = now_iso()
        bid = int(
            db.execute(
                "INSERT INTO baselines (name, created_at, created_by, updated_at) VALUES (?, ?, ?, ?)",
                [name, at, actor, at],
            ).lastrowid
            or 0
        )
        _history(db, bid, name, actor, "created", {"items": len(items)})
        _put_items(db, bid, name, items, actor, blobs)
    return bid


def _put_items(
    db: Database, bid: int, name: str, items: Sequence[BaselineItem], actor: str, blobs: Iterable[bytes]
) -> list[int]:
    for content in blobs:
        store_blob(db, content)
    ids = []
    for item in items:
        row = db.execute(
            "INSERT INTO baseline_items (baseline_id, kind, target, expected) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (baseline_id, kind, target) DO UPDATE SET expected = excluded.expected RETURNING id",
            [bid, item.kind, item.target, _dumps(item.expected)],
        ).fetchone()
        ids.append(int(row[0]))
    if items:
        db.execute("UPDATE baselines SET updated_at = ? WHERE id = ?", [now_iso(), bid])
        _history(
            db, bid, name, actor, "items.set",
            {"items": [{"kind": i.kind, "target": i.target, "expected": i.expected} for i in items][:200]},
        )  # fmt: skip
    return ids


def add_items(
    db: Database, name: str, items: Sequence[BaselineItem], actor: str, blobs: Iterable[bytes] = ()
) -> list[int]:
    """Add items to a baseline (an item of the same kind and target is replaced); their ids."""
    with write_transaction(db):
        return _put_items(db, _id(db, name), name, items, actor, blobs)


def remove_items(db: Database, name: str, item_ids: Sequence[int], actor: str) -> int:
    with write_transaction(db):
        bid = _id(db, name)
        n = 0
        for item_id in item_ids:
            n += db.execute(
                "DELETE FROM baseline_items WHERE id = ? AND baseline_id = ?", [item_id, bid]
            ).rowcount
        _history(db, bid, name, actor, "items.removed", {"ids": list(item_ids)})
    return n


def delete_baseline(db: Database, name: str, actor: str) -> None:
    with write_transaction(db):
        bid = _id(db, name)
        _history(db, None, name, actor, "deleted", {})
        db.execute("DELETE FROM baselines WHERE id = ?", [bid])


def store_blob(db: Database, content: bytes) -> str:
    if len(content) > MAX_FILE_BYTES:
        raise ConfigError(f"A baseline keeps files up to {MAX_FILE_BYTES // 1024} KiB.")
    digest = hashlib.sha256(content).hexdigest()
    db.execute("INSERT OR IGNORE INTO baseline_blobs (sha256, content) VALUES (?, ?)", [digest, content])
    return digest


def blob(db: Database, sha256: str) -> bytes | None:
    row = db.execute("SELECT content FROM baseline_blobs WHERE sha256 = ?", [sha256]).fetchone()
    return bytes(row[0]) if row else None


def history(db: Database, name: str) -> list[dict[str, Any]]:
    rows = db.execute(
        "SELECT at, actor, action, details FROM baseline_history WHERE baseline_name = ? ORDER BY id",
        [name],
    ).fetchall()
    return [{"at": r[0], "actor": r[1], "action": r[2], "details": json.loads(r[3])} for r in rows]


def assign(
    db: Database, name: str, actor: str, *, host_ids: Sequence[int] = (), groups: Sequence[str] = ()
) -> None:
    with write_transaction(db):
        bid = _id(db, name)
        for hid in host_ids:
            db.execute(
                "INSERT OR IGNORE INTO baseline_assignments (baseline_id, host_id) VALUES (?, ?)", [bid, hid]
            )
        for group in groups:
            db.execute(
                "INSERT OR IGNORE INTO baseline_assignments (baseline_id, group_name) VALUES (?, ?)",
                [bid, group],
            )
        _history(db, bid, name, actor, "assigned", {"host_ids": list(host_ids), "groups": list(groups)})


def unassign(
    db: Database, name: str, actor: str, *, host_ids: Sequence[int] = (), groups: Sequence[str] = ()
) -> None:
    with write_transaction(db):
        bid = _id(db, name)
        for hid in host_ids:
            db.execute("DELETE FROM baseline_assignments WHERE baseline_id = ? AND host_id = ?", [bid, hid])
        for group in groups:
            db.execute(
                "DELETE FROM baseline_assignments WHERE baseline_id = ? AND group_name = ?", [bid, group]
            )
        _history(db, bid, name, actor, "unassigned", {"host_ids": list(host_ids), "groups": list(groups)})


def assignments(db: Database, name: str) -> tuple[list[str], list[str]]:
    """(host names, group names) the baseline is assigned to."""
    bid = _id(db, name)
    hosts = [
        r[0]
        for r in db.execute(
            "SELECT h.name FROM baseline_assignments a JOIN hosts h ON h.id = a.host_id "
            "WHERE a.baseline_id = ? ORDER BY h.name",
            [bid],
        )
    ]
    groups = [
        r[0]
        for r in db.execute(
            "SELECT group_name FROM baseline_assignments WHERE baseline_id = ? AND group_name IS NOT NULL "
            "ORDER BY group_name",
            [bid],
        )
    ]
    return hosts, groups


def assigned_hosts(db: Database, name: str) -> list[str]:
    """The names of the hosts the baseline applies to: assigned themselves or through their group."""
    bid = _id(db, name)
    return [
        r[0]
        for r in db.execute(
            "SELECT DISTINCT h.name FROM hosts h LEFT JOIN groups g ON g.id = h.group_id "
            "JOIN baseline_assignments a ON a.baseline_id = ? "
            "AND (a.host_id = h.id OR (a.group_name IS NOT NULL AND a.group_name = g.name)) ORDER BY h.name",
            [bid],
        )
    ]


# -- drift results ---------------------------------------------------------------------------------


def record_drift(db: Database, job_id: int, host_id: int, results: Sequence[ItemResult], actor: str) -> None:
    """Store each item's result (inside the recorder's transaction). ``since`` keeps the time an item
    first differed while it goes on differing; a new difference and its end are audited."""
    at = now_iso()
    host = db.execute("SELECT name FROM hosts WHERE id = ?", [host_id]).fetchone()
    host_name = host[0] if host else str(host_id)
    for r in results:
        item = db.execute(
            "SELECT kind, target, expected FROM baseline_items WHERE id = ?", [r.item_id]
        ).fetchone()
        if item is None:
            continue  # removed from its baseline while the check ran
        old = db.execute(
            "SELECT status, since FROM drift_state WHERE host_id = ? AND item_id = ?", [host_id, r.item_id]
        ).fetchone()
        was = old[0] if old else None
        since = old[1] if old and was == r.status and old[1] else at
        db.execute(
            "INSERT INTO drift_state (host_id, item_id, status, actual, reason, since, checked_at, job_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (host_id, item_id) DO UPDATE SET "
            "status = excluded.status, actual = excluded.actual, reason = excluded.reason, "
            "since = excluded.since, checked_at = excluded.checked_at, job_id = excluded.job_id",
            [host_id, r.item_id, str(r.status), _dumps(r.actual), r.reason, since, at, job_id],
        )
        details = {"job": job_id, "item": r.item_id, "kind": item[0], "target": item[1]}
        if r.status == ItemStatus.DRIFTED and was != ItemStatus.DRIFTED:
            details.update(expected=json.loads(item[2]), actual=r.actual)
            db_audit.append(db, DRIFT_DETECTED, host_name, details, actor)
        elif was == ItemStatus.DRIFTED and r.status == ItemStatus.OK:
            db_audit.append(db, DRIFT_RESOLVED, host_name, details, actor)


def job_actor(db: Database, job_id: int) -> str:
    """Who started job ``job_id`` (the drift it finds is audited in their name)."""
    row = db.execute("SELECT actor FROM jobs WHERE id = ?", [job_id]).fetchone()
    return str(row[0]) if row and row[0] else "patchdesk"


@dataclass(frozen=True)
class HostDrift:
    """A host's drift as stored: its verdict, the baselines it has and every item not ``ok``."""

    host_id: int
    name: str
    verdict: DriftVerdict
    baselines: tuple[str, ...]
    drift: tuple[DriftItem, ...]
    unknown: tuple[DriftItem, ...]
    checked_at: str | None


def host_drift(db: Database, host: Host) -> HostDrift:
    assert host.id is not None
    baselines = baselines_for_host(db, host)
    items = {i.id: i for b in baselines for i in b.items}
    rows = {
        r[0]: r
        for r in db.execute(
            "SELECT item_id, status, actual, reason, since, checked_at FROM drift_state WHERE host_id = ?",
            [host.id],
        )
        if r[0] in items
    }
    drift: list[DriftItem] = []
    unknown: list[DriftItem] = []
    for item_id, item in items.items():
        r = rows.get(item_id)
        status = r[1] if r else ItemStatus.UNKNOWN
        if status == ItemStatus.OK:
            continue
        actual = json.loads(r[2]) if r else {}
        since = r[4] if r and status == ItemStatus.DRIFTED else ""
        d = DriftItem(item.id, item.kind, item.target, item.expected, actual, since or "", str(status))
        (drift if status == ItemStatus.DRIFTED else unknown).append(d)
    checked = max((r[5] for r in rows.values()), default=None)
    v = verdict((r[1] for r in rows.values()), len(items))
    oldest = min((r[5] for r in rows.values()), default=None)
    if v == DriftVerdict.NO_DRIFT and oldest is not None and oldest < _stale_before(db):
        # "no drift" seen longer ago than the dashboard calls a scan stale is no longer known
        v = DriftVerdict.UNKNOWN
    return HostDrift(
        host.id, host.name, v, tuple(b.name for b in baselines), tuple(drift), tuple(unknown), checked
    )


def _stale_before(db: Database) -> str:
    from datetime import UTC, datetime, timedelta

    from db import tiles as db_tiles

    return (datetime.now(UTC) - timedelta(days=db_tiles.stale_days(db))).isoformat(timespec="milliseconds")


def drift_summary(db: Database) -> tuple[dict[str, int], list[int]]:
    """Hosts per drift verdict among hosts with a baseline, and the ids of the drifted ones (the
    dashboard's tile). Only hosts with an assignment (directly or by group) are looked at."""
    from db import hosts as db_hosts

    counts = {str(v): 0 for v in DriftVerdict if v != DriftVerdict.NO_BASELINE}
    rows = db.execute("SELECT host_id, group_name FROM baseline_assignments").fetchall()
    ids = {r[0] for r in rows if r[0] is not None}
    groups = {str(r[1]).casefold() for r in rows if r[1] is not None}
    drifted: list[int] = []
    if not rows:
        return counts, drifted
    for host in db_hosts.list_hosts(db):
        if host.id not in ids and (host.group or "").casefold() not in groups:
            continue
        v = host_drift(db, host).verdict
        if v == DriftVerdict.NO_BASELINE:
            continue
        counts[str(v)] += 1
        if v == DriftVerdict.DRIFTED and host.id is not None:
            drifted.append(host.id)
    return counts, drifted


# -- remediations ---------------------------------------------------------------------------------


def record_remediation(db: Database, job_id: int, ev: RemediationRecorded) -> None:
    """The snapshot before a fix (first) and its outcome (later, same row)."""
    db.execute(
        "INSERT INTO remediations (job_id, host_id, item_id, kind, target, before, before_content, state, "
        "detail, undoes_job, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (job_id, host_id, item_id) DO UPDATE SET state = excluded.state, detail = excluded.detail",
        [
            job_id, ev.host_id, ev.item_id, ev.kind, ev.target, _dumps(ev.before), ev.before_content,
            ev.state, ev.detail, ev.undoes_job, now_iso(),
        ],
    )  # fmt: skip
    if ev.undoes_job is not None and ev.state == "applied":
        db.execute(
            "UPDATE remediations SET state = 'rolled-back' WHERE job_id = ? AND host_id = ? AND item_id = ?",
            [ev.undoes_job, ev.host_id, ev.item_id],
        )


@dataclass(frozen=True)
class Remediation:
    job_id: int
    host_id: int
    item_id: int
    kind: str
    target: str
    before: dict[str, Any]
    before_content: bytes | None
    state: str
    detail: str


def remediations(db: Database, *, host_id: int, job_id: int | None = None) -> list[Remediation]:
    """The fixes of ``job_id`` on a host (default: the host's newest fix job not rolled back)."""
    if job_id is None:
        row = db.execute(
            "SELECT MAX(job_id) FROM remediations WHERE host_id = ? AND undoes_job IS NULL AND state = 'applied'",
            [host_id],
        ).fetchone()
        job_id = row[0] if row else None
        if job_id is None:
            return []
    rows = db.execute(
        "SELECT job_id, host_id, item_id, kind, target, before, before_content, state, detail "
        "FROM remediations WHERE host_id = ? AND job_id = ? ORDER BY id",
        [host_id, job_id],
    ).fetchall()
    return [
        Remediation(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            json.loads(r[5]),
            bytes(r[6]) if r[6] is not None else None,
            r[7],
            r[8],
        )
        for r in rows
    ]


def expected_of(db: Database, item_ids: Iterable[int]) -> Mapping[int, BaselineItem]:
    out = {}
    for item_id in item_ids:
        r = db.execute(
            "SELECT id, kind, target, expected FROM baseline_items WHERE id = ?", [item_id]
        ).fetchone()
        if r:
            out[r[0]] = BaselineItem(r[0], r[1], r[2], json.loads(r[3]))
    return out


def new_drift(db: Database, job_id: int) -> list[tuple[str, str, str]]:
    """(host, kind, target) of the items job ``job_id`` found drifted that were not drifted before it
    (their ``since`` is that check's own time): what a drift alert names."""
    rows = db.execute(
        "SELECT h.name, i.kind, i.target FROM drift_state d JOIN hosts h ON h.id = d.host_id "
        "JOIN baseline_items i ON i.id = d.item_id "
        "WHERE d.job_id = ? AND d.status = 'drifted' AND d.since = d.checked_at ORDER BY h.name, i.target",
        [job_id],
    ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]
