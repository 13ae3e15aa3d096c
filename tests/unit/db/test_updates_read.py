"""Pending updates read back (db/scans.py fills them without their __init__) equal the ones stored."""

from __future__ import annotations

import dataclasses

import pytest

from app.domain.models import Classification, Host, OsFacts, PendingUpdate, ScanResult, UpdateKind
from db import hosts as db_hosts
from db import scans as db_scans


def test_pending_updates_read_back_behave_like_constructed_ones(db) -> None:  # type: ignore[no-untyped-def]
    h = db_hosts.add_host(db, Host(name="h1.invalid", address="127.0.0.1"))
    assert h.id is not None
    stored = (
        PendingUpdate(
            "apt",
            "openssl",
            "3.0.15-1",
            "3.0.14-1",
            arch="amd64",
            source="Debian-Security:12/stable-security",
            security=True,
            kind=UpdateKind.SECURITY,
            severity="high",
            cves=("CVE-2099-0001", "CVE-2099-0002"),
            advisories=("DSA-9999-1",),
            reboot_expected=True,
            classification=Classification.URGENT,
            reason="security fix",
        ),
        PendingUpdate("apt", "new-dep", "1.0", None, held=True, held_reason="held by apt-mark hold"),
        PendingUpdate("apt", "zlib", "2", "1", classification=Classification.IMPORTANT),
    )
    db_scans.record_scan(db, h.id, None, ScanResult(OsFacts(id="debian"), ("apt",), stored))
    read = db_scans.pending_for_host(db, h.id)
    assert [u.name for u in read] == ["openssl", "zlib", "new-dep"]  # most urgent first
    by_name = {u.name: u for u in read}
    for u in stored:
        got = by_name[u.name]
        assert got == u and hash(got) == hash(u) and repr(got) == repr(u)
        assert dataclasses.asdict(got) == dataclasses.asdict(u)
        assert type(got.kind) is UpdateKind and type(got.classification) is Classification
    with pytest.raises(dataclasses.FrozenInstanceError):
        read[0].name = "other"  # type: ignore[misc]
