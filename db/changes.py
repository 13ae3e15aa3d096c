"""Snapshots, change records and verification results: what rollback and the history stand on."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from app.domain.models import PackageChange
from db.connection import Database
from db.database import now_iso


@dataclass(frozen=True)
class VerificationRow:
    job_id: int
    host_id: int
    subject_job_id: int | None
    verdict: str
    reasons: tuple[str, ...]
    checked_at: str


def record_snapshot(
    db: Database, job_id: int, host_id: int, manager: str, versions: Mapping[str, str | None]
) -> None:
    at = now_iso()
    db.conn.executemany(
        "INSERT INTO snapshots (job_id, host_id, manager, name, version, taken_at) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (job_id, host_id, manager, name) DO NOTHING",
        [(job_id, host_id, manager, name, version, at) for name, version in versions.items()],
    )


def snapshot(db: Database, job_id: int, host_id: int) -> dict[str, str | None]:
    """The versions recorded before job ``job_id`` changed the host."""
    return {
        r["name"]: r["version"]
        for r in db.query(
            "SELECT name, version FROM snapshots WHERE job_id = ? AND host_id = ?", [job_id, host_id]
        )
    }


def snapshot_manager(db: Database, job_id: int, host_id: int) -> str | None:
    row = db.execute(
        "SELECT manager FROM snapshots WHERE job_id = ? AND host_id = ? LIMIT 1", [job_id, host_id]
    ).fetchone()
    return row[0] if row else None


def record_changes(
    db: Database,
    job_id: int,
    host_id: int,
    changes: Iterable[PackageChange],
    transaction_id: str | None = None,
) -> None:
    at = now_iso()
    db.conn.executemany(
        "INSERT INTO changes (job_id, host_id, manager, name, arch, from_version, to_version, kb, transaction_id, recorded_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                job_id,
                host_id,
                c.manager,
                c.name,
                c.arch,
                c.from_version,
                c.to_version,
                c.kb,
                transaction_id,
                at,
            )
            for c in changes
        ],
    )


def transaction_id(db: Database, job_id: int, host_id: int) -> str | None:
    """The package manager's own id of the job's transaction on the host (dnf history), if it has one."""
    row = db.execute(
        "SELECT transaction_id FROM changes WHERE job_id = ? AND host_id = ? AND transaction_id IS NOT NULL LIMIT 1",
        [job_id, host_id],
    ).fetchone()
    return str(row[0]) if row else None


def changes(db: Database, job_id: int, host_id: int) -> list[PackageChange]:
    return [
        PackageChange(r["manager"], r["name"], r["from_version"], r["to_version"], r["arch"], r["kb"])
        for r in db.query(
            "SELECT * FROM changes WHERE job_id = ? AND host_id = ? ORDER BY id", [job_id, host_id]
        )
    ]


def mark_rolled_back(db: Database, subject_job_id: int, host_id: int, by_job_id: int) -> None:
    db.execute(
        "UPDATE changes SET rolled_back_by = ? WHERE job_id = ? AND host_id = ?",
        [by_job_id, subject_job_id, host_id],
    )
    db.execute(
        "UPDATE job_hosts SET rolled_back_by = ? WHERE job_id = ? AND host_id = ?",
        [by_job_id, subject_job_id, host_id],
    )


def rolled_back_by(db: Database, job_id: int, host_id: int) -> int | None:
    row = db.execute(
        "SELECT rolled_back_by FROM changes WHERE job_id = ? AND host_id = ? AND rolled_back_by IS NOT NULL LIMIT 1",
        [job_id, host_id],
    ).fetchone()
    return int(row[0]) if row else None


def last_patch_job(db: Database, host_id: int) -> int | None:
    """The newest patch job that changed (or may have changed) the host and is not rolled back yet."""
    row = db.execute(
        "SELECT j.id FROM jobs j JOIN job_hosts jh ON jh.job_id = j.id "
        "WHERE jh.host_id = ? AND j.kind = 'patch' AND jh.rolled_back_by IS NULL "
        "AND (EXISTS (SELECT 1 FROM changes c WHERE c.job_id = j.id AND c.host_id = ? AND c.rolled_back_by IS NULL) "
        "     OR (jh.state = 'interrupted' AND EXISTS "
        "         (SELECT 1 FROM snapshots s WHERE s.job_id = j.id AND s.host_id = ?))) "
        "ORDER BY j.id DESC LIMIT 1",
        [host_id, host_id, host_id],
    ).fetchone()
    return int(row[0]) if row else None


def last_scan_at(db: Database, host_id: int) -> str | None:
    """When the host's pending list was last read successfully (by any job), or None: never."""
    row = db.execute(
        "SELECT finished_at FROM scans WHERE host_id = ? AND status = 'ok' ORDER BY id DESC LIMIT 1",
        [host_id],
    ).fetchone()
    return str(row[0]) if row else None


def scanned_since_job(db: Database, host_id: int, job_id: int) -> bool:
    """Whether a scan of its own (a scan job or an import, not the rescan of a patch, verification or
    rollback) read the host's pending list successfully after ``job_id`` started."""
    row = db.execute(
        "SELECT 1 FROM scans s LEFT JOIN jobs j ON j.id = s.job_id "
        "WHERE s.host_id = ? AND s.status = 'ok' AND (s.job_id IS NULL OR j.kind = 'scan') "
        "AND s.finished_at > (SELECT started_at FROM jobs WHERE id = ?) LIMIT 1",
        [host_id, job_id],
    ).fetchone()
    return row is not None


def record_verification(
    db: Database, job_id: int, host_id: int, subject_job_id: int | None, verdict: str, reasons: Iterable[str]
) -> None:
    db.execute(
        "INSERT INTO verifications (job_id, host_id, subject_job_id, verdict, reasons, checked_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [job_id, host_id, subject_job_id, verdict, json.dumps(list(reasons)), now_iso()],
    )
    db.execute(
        "UPDATE job_hosts SET verdict = ? WHERE job_id = ? AND host_id = ?", [verdict, job_id, host_id]
    )
    if subject_job_id is not None and subject_job_id != job_id:
        db.execute(
            "UPDATE job_hosts SET verdict = ? WHERE job_id = ? AND host_id = ?",
            [verdict, subject_job_id, host_id],
        )


def verifications(db: Database, host_id: int, limit: int = 50) -> list[VerificationRow]:
    return [
        _vrow(r)
        for r in db.query(
            "SELECT * FROM verifications WHERE host_id = ? ORDER BY id DESC LIMIT ?", [host_id, limit]
        )
    ]


def verification_for(db: Database, job_id: int, host_id: int) -> VerificationRow | None:
    rows = list(
        db.query(
            "SELECT * FROM verifications WHERE host_id = ? AND (job_id = ? OR subject_job_id = ?) ORDER BY id DESC LIMIT 1",
            [host_id, job_id, job_id],
        )
    )
    return _vrow(rows[0]) if rows else None


def _vrow(r: dict[str, Any]) -> VerificationRow:
    return VerificationRow(
        job_id=r["job_id"],
        host_id=r["host_id"],
        subject_job_id=r["subject_job_id"],
        verdict=r["verdict"],
        reasons=tuple(json.loads(r["reasons"])),
        checked_at=r["checked_at"],
    )


def red_verifications(db: Database, job_id: int) -> list[str]:
    """Hosts whose verification in (or of) job ``job_id`` is red."""
    return [
        r[0]
        for r in db.execute(
            "SELECT DISTINCT h.name FROM verifications v JOIN hosts h ON h.id = v.host_id "
            "WHERE (v.job_id = ? OR v.subject_job_id = ?) AND v.verdict = 'red' ORDER BY h.name",
            [job_id, job_id],
        )
    ]


@dataclass(frozen=True)
class AutoRollback:
    """A host a patch job rolled back by itself: why (its red verification) and how the rollback's
    verification went."""

    host: str
    reasons: tuple[str, ...]
    rollback_verdict: str | None


def auto_rollbacks(db: Database, job_id: int) -> list[AutoRollback]:
    """Hosts whose changes in patch job ``job_id`` were rolled back by that same job (on red)."""
    out: list[AutoRollback] = []
    for host_id, name in db.execute(
        "SELECT DISTINCT c.host_id, h.name FROM changes c JOIN hosts h ON h.id = c.host_id "
        "WHERE c.job_id = ? AND c.rolled_back_by = ? ORDER BY h.name",
        [job_id, job_id],
    ).fetchall():
        rows = db.execute(
            "SELECT verdict, reasons FROM verifications WHERE job_id = ? AND host_id = ? ORDER BY id",
            [job_id, host_id],
        ).fetchall()
        red = next((r for r in rows if r[0] == "red"), None)
        out.append(
            AutoRollback(
                str(name),
                tuple(json.loads(red[1])) if red else (),
                str(rows[-1][0]) if len(rows) > 1 else None,
            )
        )
    return out
