"""app/domain/compliance.compliance_state: three states, decided from the host's record alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.compliance import ComplianceState, compliance_state, host_compliance
from app.domain.models import Host, HostStatus

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
RECENT = NOW - timedelta(days=1)
OLD = NOW - timedelta(days=8)

C, N, U = ComplianceState.COMPLIANT, ComplianceState.NON_COMPLIANT, ComplianceState.UNKNOWN


@pytest.mark.parametrize(
    ("status", "scanned", "pending", "complete", "expected"),
    [
        # never scanned: nothing was seen
        ("never", None, 0, None, U),
        # the last scan failed or could not reach the host: unknown, even with zero pending
        ("failed", RECENT, 0, None, U),
        ("unreachable", RECENT, 0, None, U),
        # ... and with old pending counts from an earlier scan
        ("failed", RECENT, 3, None, U),
        ("unreachable", RECENT, 3, None, U),
        # too old: unknown (the default stale threshold is 7 days)
        ("ok", OLD, 0, None, U),
        ("ok", OLD, 5, None, U),
        ("ok", NOW - timedelta(days=7, seconds=1), 0, None, U),
        ("ok", NOW - timedelta(days=6, hours=23), 0, None, C),
        # a recent successful scan decides by what is pending (any class)
        ("ok", RECENT, 0, None, C),
        ("ok", RECENT, 1, None, N),
        ("ok", RECENT, 40, None, N),
        # the scan says it was incomplete: unknown; says complete: as today
        ("ok", RECENT, 0, False, U),
        ("ok", RECENT, 2, False, U),
        ("ok", RECENT, 0, True, C),
        ("ok", RECENT, 2, True, N),
        # ok without a time is not trusted
        ("ok", None, 0, None, U),
    ],
)
def test_compliance_state(status, scanned, pending, complete, expected) -> None:  # type: ignore[no-untyped-def]
    assert compliance_state(status, scanned, pending, now=NOW, scan_complete=complete) == expected


def test_stale_threshold_is_a_setting() -> None:
    scanned = NOW - timedelta(days=3)
    assert compliance_state("ok", scanned, 0, stale_days=7, now=NOW) == C
    assert compliance_state("ok", scanned, 0, stale_days=2, now=NOW) == U


def test_naive_time_is_utc() -> None:
    assert compliance_state("ok", RECENT.replace(tzinfo=None), 0, now=NOW) == C


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, U),
        ({"last_status": HostStatus.OK, "last_scan_at": RECENT}, C),
        ({"last_status": HostStatus.OK, "last_scan_at": RECENT, "pending_noncritical": 1}, N),
        ({"last_status": HostStatus.OK, "last_scan_at": RECENT, "pending_urgent": 1}, N),
        ({"last_status": HostStatus.FAILED, "last_scan_at": RECENT}, U),
        ({"last_status": HostStatus.UNREACHABLE, "last_scan_at": RECENT, "pending_important": 2}, U),
    ],
)
def test_host_compliance(fields, expected) -> None:  # type: ignore[no-untyped-def]
    host = Host(name="web1.invalid", address="127.0.0.1", **fields)
    assert host_compliance(host, now=NOW) == expected
    assert str(expected) in ("compliant", "non_compliant", "unknown")


def test_host_record_with_scan_complete_is_honoured() -> None:
    """Once Host carries the scan's ``scan_complete``, host_compliance reads it (False: unknown)."""
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class EvidencedHost(Host):
        scan_complete: bool | None = None

    base = {
        "name": "web1.invalid",
        "address": "127.0.0.1",
        "last_status": HostStatus.OK,
        "last_scan_at": RECENT,
    }
    assert host_compliance(EvidencedHost(**base, scan_complete=False), now=NOW) == U  # type: ignore[arg-type]
    assert host_compliance(EvidencedHost(**base, scan_complete=True), now=NOW) == C  # type: ignore[arg-type]
    assert host_compliance(EvidencedHost(**base), now=NOW) == C  # type: ignore[arg-type]
