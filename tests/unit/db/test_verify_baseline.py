"""What a verification on its own compares with (#17), read from the database: the last patch until a
scan of its own runs (the rescans of patch, verify and rollback jobs do not count), then that scan; a
rolled-back patch is no longer judged; a host never scanned has nothing."""

from __future__ import annotations

import time

from app.domain.models import Host, HostStatus, JobKind, JobState, PackageChange
from app.domain.verdicts import Baseline
from app.jobs.selection import verify_baseline, verify_request
from db import changes as db_changes
from db import hosts as db_hosts
from db import jobs as db_jobs
from db.database import now_iso


def _job(db, host: Host, kind: JobKind) -> int:  # type: ignore[no-untyped-def]
    job = db_jobs.create_job(db, kind, [host])
    db_jobs.set_job_state(db, job, JobState.RUNNING)
    time.sleep(0.01)
    return job


def _scan(db, host: Host, job: int | None, status: str = "ok") -> None:  # type: ignore[no-untyped-def]
    at = now_iso()
    db.execute(
        "INSERT INTO scans (host_id, job_id, finished_at, status) VALUES (?, ?, ?, ?)",
        [host.id, job, at, status],
    )
    db_hosts.set_status(db, host.id, HostStatus(status), None, at)
    time.sleep(0.01)


def test_the_baseline_follows_patches_and_scans_of_their_own(db) -> None:  # type: ignore[no-untyped-def]
    host = db_hosts.add_host(db, Host(name="web01", address="127.0.9.5"))
    assert verify_baseline(db, host)[:2] == (Baseline.NONE, None)
    _scan(db, host, _job(db, host, JobKind.SCAN), "failed")
    assert verify_baseline(db, host)[0] == Baseline.NONE  # a failed scan read no pending list

    _scan(db, host, _job(db, host, JobKind.SCAN))
    baseline, job, at = verify_baseline(db, host)
    assert (baseline, job) == (Baseline.SCAN, None) and at is not None
    req = verify_request(db, host)
    assert req.baseline == Baseline.SCAN and req.subject_job_id is None and not req.expected

    patch = _job(db, host, JobKind.PATCH)
    db_changes.record_changes(db, patch, host.id, [PackageChange("apt", "pd-secfix", "1.0-1", "1.0-2")])
    _scan(db, host, patch)  # the patch's own verification rescan
    _scan(db, host, _job(db, host, JobKind.VERIFY))  # and a verification on its own
    assert verify_baseline(db, host)[:2] == (Baseline.PATCH, patch)
    req = verify_request(db, host)
    assert req.baseline == Baseline.PATCH and req.subject_job_id == patch
    assert req.expected == {"pd-secfix": "1.0-2"}

    _scan(db, host, _job(db, host, JobKind.SCAN))
    assert verify_baseline(db, host)[:2] == (Baseline.SCAN, None)

    patch2 = _job(db, host, JobKind.PATCH)
    db_changes.record_changes(db, patch2, host.id, [PackageChange("apt", "pd-regular", "2.0-1", "2.0-2")])
    assert verify_baseline(db, host)[:2] == (Baseline.PATCH, patch2)
    db_changes.mark_rolled_back(db, patch2, host.id, _job(db, host, JobKind.ROLLBACK))
    assert verify_baseline(db, host)[:2] == (Baseline.SCAN, None)
