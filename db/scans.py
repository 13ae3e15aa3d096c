"""Scan results and the pending updates they found."""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from app.domain.models import Classification, HostStatus, PendingUpdate, ScanResult, UpdateKind
from db.connection import Database
from db.database import now_iso
from db.hosts import record_facts, set_status
from db.scan_basis import store as store_basis

_PENDING_COLS = (
    "host_id, scan_id, manager, name, arch, installed, available, source, security, kind, severity, "
    "cves, advisories, reboot_expected, classification, reason, held, held_reason"
)


def record_scan(db: Database, host_id: int, job_id: int | None, result: ScanResult) -> int:
    """Store a successful scan: it replaces the host's pending updates and refreshes its counts.

    Runs inside the caller's transaction when there is one (the recorder batches several events).
    """
    at = now_iso()
    counts = {c: 0 for c in Classification}
    for u in result.pending:
        counts[u.classification] += 1
    evidence = [
        int(result.complete),
        _iso_utc(result.index_updated),
        json.dumps(list(result.notes)),
    ]
    with db.atomic():
        scan_id = int(
            db.execute(
                "INSERT INTO scans (host_id, job_id, finished_at, status, os, reboot_required, "
                "reboot_packages, pending_count, complete, index_updated, notes) "
                "VALUES (?, ?, ?, 'ok', ?, ?, ?, ?, ?, ?, ?)",
                [
                    host_id,
                    job_id,
                    at,
                    json.dumps(result.facts.as_dict()),
                    int(result.reboot_required),
                    json.dumps(list(result.reboot_packages)),
                    len(result.pending),
                    *evidence,
                ],
            ).lastrowid
            or 0
        )
        db.execute("DELETE FROM pending_updates WHERE host_id = ?", [host_id])
        db.conn.executemany(
            f"INSERT INTO pending_updates ({_PENDING_COLS}) VALUES ({', '.join('?' * 18)})",
            [_pending_values(host_id, scan_id, u) for u in result.pending],
        )
        record_facts(db, host_id, result.facts, result.managers)
        store_basis(db, host_id, result.basis, reused=result.reused)
        db.execute(
            "UPDATE hosts SET reboot_required = ?, pending_urgent = ?, pending_important = ?, "
            "pending_noncritical = ?, scan_complete = ?, index_updated = ?, scan_notes = ? WHERE id = ?",
            [
                int(result.reboot_required),
                counts[Classification.URGENT],
                counts[Classification.IMPORTANT],
                counts[Classification.NONCRITICAL],
                *evidence,
                host_id,
            ],
        )
        set_status(db, host_id, HostStatus.OK, None, at)
    return scan_id


def _iso_utc(at: datetime | None) -> str | None:
    """``at`` as stored: ISO 8601 in UTC (a naive time is taken as UTC)."""
    if at is None:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC).isoformat(timespec="seconds")


def record_scan_failure(
    db: Database, host_id: int, job_id: int | None, status: HostStatus, error: str
) -> None:
    """A failed scan keeps the previous pending list (marked by the host's status) and logs why."""
    at = now_iso()
    with db.atomic():
        db.execute(
            "INSERT INTO scans (host_id, job_id, finished_at, status, error) VALUES (?, ?, ?, ?, ?)",
            [host_id, job_id, at, str(status), error],
        )
        set_status(db, host_id, status, error, at)


def _pending_values(host_id: int, scan_id: int, u: PendingUpdate) -> list[Any]:
    return [
        host_id,
        scan_id,
        u.manager,
        u.name,
        u.arch,
        u.installed,
        u.available,
        u.source,
        int(u.security),
        str(u.kind),
        u.severity,
        json.dumps(list(u.cves)),
        json.dumps(list(u.advisories)),
        int(u.reboot_expected),
        str(u.classification),
        u.reason,
        int(u.held),
        u.held_reason,
    ]


#: The columns a PendingUpdate is read from, in the order of its fields.
_UPDATE_FIELDS = tuple(f.name for f in dataclasses.fields(PendingUpdate))
_UPDATE_COLUMNS = ", ".join(_UPDATE_FIELDS)
_KINDS = {str(m.value): m for m in UpdateKind}
_CLASSES = {str(m.value): m for m in Classification}


@functools.lru_cache(maxsize=4096)
def _json_tuple(raw: str) -> tuple[str, ...]:
    """A CVE or advisory list; the same few lists ('[]' above all) repeat over thousands of rows."""
    return tuple(json.loads(raw))


def _row_to_update(row: Sequence[Any]) -> PendingUpdate:
    # A host with thousands of updates is read whenever it is selected in the GUI: rows come as tuples
    # in field order, enum members and JSON lists from caches, and the frozen instance is filled
    # through its dict rather than its __init__'s object.__setattr__ per field (a quarter of the cost).
    (
        manager, name, available, installed, arch, source, security, kind, severity, cves,
        advisories, reboot_expected, classification, reason, held, held_reason,
    ) = row  # fmt: skip
    u = object.__new__(PendingUpdate)
    u.__dict__.update(
        manager=manager,
        name=name,
        available=available,
        installed=installed,
        arch=arch,
        source=source,
        security=bool(security),
        kind=_KINDS.get(kind) or UpdateKind(kind),
        severity=severity,
        cves=_json_tuple(cves),
        advisories=_json_tuple(advisories),
        reboot_expected=bool(reboot_expected),
        classification=_CLASSES.get(classification) or Classification(classification),
        reason=reason,
        held=bool(held),
        held_reason=held_reason,
    )
    return u


# indexed verbatim by pending_host_order (db/schema.py m016): a host's list is read without a sort
_CLASS_ORDER = "CASE classification WHEN 'urgent' THEN 0 WHEN 'important' THEN 1 ELSE 2 END"


def pending_for_host(db: Database, host_id: int) -> list[PendingUpdate]:
    """The host's pending updates from its last successful scan, most urgent first."""
    rows = db.execute(
        f"SELECT {_UPDATE_COLUMNS} FROM pending_updates WHERE host_id = ? ORDER BY {_CLASS_ORDER}, name",
        [host_id],
    )
    return list(map(_row_to_update, rows))


def last_scan(db: Database, host_id: int) -> dict[str, Any] | None:
    rows = list(db.query("SELECT * FROM scans WHERE host_id = ? ORDER BY id DESC LIMIT 1", [host_id]))
    if not rows:
        return None
    row = dict(rows[0])
    row["os"] = json.loads(row["os"])
    row["reboot_packages"] = json.loads(row["reboot_packages"])
    row["notes"] = json.loads(row["notes"]) if row.get("notes") else []
    row["complete"] = None if row.get("complete") is None else bool(row["complete"])
    return row
