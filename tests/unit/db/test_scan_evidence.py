"""What the last scan could vouch for is stored and read back (migration m006_scan_evidence)."""

from __future__ import annotations

from datetime import UTC, datetime

from app.domain.models import Host, JobKind, OsFacts, PendingUpdate, ScanResult
from db import hosts as db_hosts
from db import jobs as db_jobs
from db import scans as db_scans


def _scan(**evidence: object) -> ScanResult:
    pending = (
        PendingUpdate("apt", "held-one", "2", "1", held=True, held_reason="held by apt-mark hold"),
        PendingUpdate("apt", "free-one", "2", "1"),
    )
    return ScanResult(OsFacts(id="debian"), ("apt",), pending, **evidence)  # type: ignore[arg-type]


def test_before_any_scan_nothing_is_claimed(db) -> None:  # type: ignore[no-untyped-def]
    h = db_hosts.add_host(db, Host(name="h1.invalid", address="127.0.0.1"))
    assert (h.scan_complete, h.index_updated, h.scan_notes) == (None, None, None)
    again = db_hosts.get_host(db, h.id or 0)
    assert (again.scan_complete, again.index_updated, again.scan_notes) == (None, None, None)


def test_a_scan_without_evidence_is_stored_incomplete(db) -> None:  # type: ignore[no-untyped-def]
    h = db_hosts.add_host(db, Host(name="h1.invalid", address="127.0.0.1"))
    assert h.id is not None
    db_scans.record_scan(db, h.id, None, ScanResult(OsFacts(id="debian"), ("apt",), ()))
    stored = db_hosts.get_host(db, h.id)
    # the default says nothing was vouched for: no pending list is "complete" unless an adapter says so
    assert stored.scan_complete is False and stored.index_updated is None and stored.scan_notes == ()


def test_evidence_and_held_round_trip(db) -> None:  # type: ignore[no-untyped-def]
    h = db_hosts.add_host(db, Host(name="h1.invalid", address="127.0.0.1"))
    assert h.id is not None
    job = db_jobs.create_job(db, JobKind.SCAN, [h])
    at = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    db_scans.record_scan(db, h.id, job, _scan(index_updated=at, complete=False, notes=("the index is old",)))
    stored = db_hosts.get_host(db, h.id)
    assert stored.scan_complete is False
    assert stored.index_updated == at
    assert stored.scan_notes == ("the index is old",)
    last = db_scans.last_scan(db, h.id)
    assert last is not None
    assert (last["complete"], last["index_updated"], last["notes"]) == (
        False,
        "2026-01-02T03:04:05+00:00",
        ["the index is old"],
    )
    by_name = {u.name: u for u in db_scans.pending_for_host(db, h.id)}
    assert by_name["held-one"].held and by_name["held-one"].held_reason == "held by apt-mark hold"
    assert not by_name["free-one"].held and by_name["free-one"].held_reason == ""
    assert by_name["held-one"].as_json()["held"] is True

    db_scans.record_scan(db, h.id, job, _scan(index_updated=at, complete=True))
    stored = db_hosts.get_host(db, h.id)
    assert stored.scan_complete is True and stored.scan_notes == ()


def test_a_failed_scan_keeps_the_last_evidence(db) -> None:  # type: ignore[no-untyped-def]
    from app.domain.models import HostStatus

    h = db_hosts.add_host(db, Host(name="h1.invalid", address="127.0.0.1"))
    assert h.id is not None
    db_scans.record_scan(db, h.id, None, _scan(complete=True))
    db_scans.record_scan_failure(db, h.id, None, HostStatus.FAILED, "boom")
    assert db_hosts.get_host(db, h.id).scan_complete is True
