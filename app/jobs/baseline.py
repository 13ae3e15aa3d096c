"""What a verification of one host compares with: its last patch, or its last scan.

Kept apart from app.jobs.selection, which brings in the patching, rollback and verification modules:
the window asks this on every host click (the Verify action's tooltip), and the first click paid
~25 ms of imports on the main thread for it at 5,000 hosts (#25).
"""

from __future__ import annotations

from datetime import datetime

from app.domain.models import Host
from app.domain.verdicts import Baseline
from db import changes as db_changes
from db import jobs as db_jobs
from db.connection import Database
from db.database import parse_ts


def verify_baseline(db: Database, host: Host) -> tuple[Baseline, int | None, datetime | None]:
    """What a verification of ``host`` on its own compares with, which patch job (if any) and from when.

    The host's last patch (not rolled back), unless a scan of its own ran since: then the last scan,
    where nothing was patched; a host never scanned has nothing to compare with."""
    assert host.id is not None
    subject = db_changes.last_patch_job(db, host.id)
    if subject is not None and not db_changes.scanned_since_job(db, host.id, subject):
        job = db_jobs.get_job(db, subject)
        return Baseline.PATCH, subject, job.started_at if job is not None else None
    scanned = db_changes.last_scan_at(db, host.id)
    if scanned is None:
        return Baseline.NONE, None, None
    return Baseline.SCAN, None, parse_ts(scanned)
