"""Verify is offered where it means something and says what it compares with (#17): a host never
scanned has nothing to verify against; a scanned host compares with its last scan until it is patched,
then with that patch until a scan of its own runs again."""

from __future__ import annotations

import time

from app.domain.models import Host, HostStatus, JobKind, JobState, PackageChange
from db import changes as db_changes
from db import hosts as db_hosts
from db import jobs as db_jobs
from db.database import now_iso


def _scanned(db, host: Host) -> None:  # type: ignore[no-untyped-def]
    """A successful scan job of the host, as the recorder leaves it (a scans row, the host's status)."""
    job = db_jobs.create_job(db, JobKind.SCAN, [host])
    db_jobs.set_job_state(db, job, JobState.RUNNING)
    at = now_iso()
    db.execute(
        "INSERT INTO scans (host_id, job_id, finished_at, status) VALUES (?, ?, ?, 'ok')", [host.id, job, at]
    )
    db_hosts.set_status(db, host.id, HostStatus.OK, None, at)
    time.sleep(0.01)  # the next job starts strictly after this scan finished


def _patched(db, host: Host) -> int:  # type: ignore[no-untyped-def]
    job = db_jobs.create_job(db, JobKind.PATCH, [host])
    db_jobs.set_job_state(db, job, JobState.RUNNING)
    db_changes.record_changes(db, job, host.id, [PackageChange("apt", "pd-secfix", "1.0-1", "1.0-2")])
    time.sleep(0.01)
    return job


def _select(w, host: Host) -> None:  # type: ignore[no-untyped-def]
    w.reload_hosts()
    w.show_inventory()
    w.inventory.select_host(host.id)
    w.update_actions()


def test_verify_is_offered_only_with_something_to_compare_with_and_says_what(qtbot, window, db):  # type: ignore[no-untyped-def]
    w = window
    host = db_hosts.add_host(db, Host(name="web01", address="127.0.9.5"))
    _select(w, host)
    assert not w.verify_action.isEnabled() and not w.detail.verify_button.isEnabled()
    assert "has not been scanned yet" in w.verify_action.toolTip()

    _scanned(db, host)
    _select(w, host)
    assert w.verify_action.isEnabled() and w.detail.verify_button.isEnabled()
    assert "compares with the last scan of " in w.verify_action.toolTip(), w.verify_action.toolTip()
    assert "compares with the last scan of " in w.detail.verify_button.toolTip()

    job = _patched(db, host)
    _select(w, host)
    assert w.verify_action.isEnabled()
    assert "compares with the last patch of " in w.verify_action.toolTip()
    assert f"(job #{job})" in w.verify_action.toolTip()

    _scanned(db, host)
    _select(w, host)
    assert "compares with the last scan of " in w.verify_action.toolTip()
