"""The update summary (migration m015_update_summary): how many hosts need each pending update, kept by
triggers so the fleet-wide update list need not group every pending row (#25). A stale summary would
show an update as needed by hosts that no longer need it, or hide one: after every write path the
summary must equal the grouping it replaces."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from sqlite_utils import Database

from app.domain.compliance import ComplianceFilter
from app.domain.models import Classification, Host, OsFacts, PendingUpdate, ScanResult
from db import hosts as db_hosts
from db import rules as db_rules
from db import scans as db_scans
from db import updates as db_updates
from db.database import open_database, schema_version
from db.schema import SCHEMA_VERSION
from tests.support.migrations import database_without

#: The grouping the summary replaces: what updates_list read before m015.
TRUTH = (
    "SELECT classification, manager, name, count(DISTINCT host_id) FROM pending_updates "
    "GROUP BY classification, manager, name"
)


def summary(db: Database) -> set[tuple[str, str, str, int]]:
    # a key no host needs any more keeps its row at 0 hosts
    rows = db.execute("SELECT classification, manager, name, hosts FROM update_summary WHERE hosts > 0")
    return {tuple(r) for r in rows}  # type: ignore[misc]


def truth(db: Database) -> set[tuple[str, str, str, int]]:
    return {tuple(r) for r in db.execute(TRUTH)}  # type: ignore[misc]


URGENT, IMPORTANT = Classification.URGENT, Classification.IMPORTANT


def _u(name: str, cls: Classification = Classification.NONCRITICAL, arch: str = "amd64") -> PendingUpdate:
    return PendingUpdate("apt", name, "2", "1", arch=arch, classification=cls)


def _scan(db: Database, host_id: int, *updates: PendingUpdate) -> None:
    db_scans.record_scan(db, host_id, None, ScanResult(OsFacts(id="debian"), ("apt",), tuple(updates)))


def _host(db: Database, name: str) -> int:
    h = db_hosts.add_host(db, Host(name=name, address=f"{name}.example.invalid"))
    assert h.id is not None
    return h.id


def test_a_database_from_before_the_update_summary_upgrades_with_its_counts(db_path: Path) -> None:
    old = database_without(db_path, "m015_update_summary")
    a, b = _host(old, "web1"), _host(old, "web2")
    # two architectures of one package on one host: that host counts once
    _scan(old, a, _u("openssl", URGENT), _u("openssl", URGENT, "i386"), _u("vim"))
    _scan(old, b, _u("openssl", URGENT))
    assert "update_summary" not in old.table_names()
    old.conn.close()

    db = open_database(db_path)
    try:
        assert schema_version(db) == SCHEMA_VERSION
        assert (
            summary(db)
            == truth(db)
            == {
                ("urgent", "apt", "openssl", 2),
                ("noncritical", "apt", "vim", 1),
            }
        )
        _scan(db, b, _u("vim"))  # and the triggers keep it from then on
        assert summary(db) == truth(db)
    finally:
        db.conn.close()


def test_the_update_summary_stays_true_after_every_write_path(db) -> None:  # type: ignore[no-untyped-def]
    a, b, c = _host(db, "web1"), _host(db, "web2"), _host(db, "db1")
    # scan results (a host's pending rows replaced), duplicates by architecture included
    _scan(db, a, _u("openssl", URGENT), _u("openssl", URGENT, "i386"), _u("vim"))
    _scan(db, b, _u("openssl", URGENT), _u("curl", IMPORTANT))
    _scan(db, c, _u("vim"), _u("curl", IMPORTANT))
    assert summary(db) == truth(db)
    assert ("urgent", "apt", "openssl", 2) in summary(db)
    # a patch: the rescan after it finds fewer (one architecture patched, then the other)
    _scan(db, a, _u("openssl", URGENT, "i386"), _u("vim"))
    assert ("urgent", "apt", "openssl", 2) in summary(db) and summary(db) == truth(db)
    _scan(db, a, _u("vim"))
    assert ("urgent", "apt", "openssl", 1) in summary(db) and summary(db) == truth(db)
    # a rollback: the rescan finds the update pending again
    _scan(db, a, _u("openssl", URGENT), _u("vim"))
    assert ("urgent", "apt", "openssl", 2) in summary(db) and summary(db) == truth(db)
    # a reclassification (rules changed, advisories imported) moves the host between keys
    curl = next(u for u in db_scans.pending_for_host(db, b) if u.name == "curl")
    db_rules.update_pending_classification(
        db, b, [dataclasses.replace(curl, classification=Classification.URGENT, reason="advisory")]
    )
    assert ("important", "apt", "curl", 1) in summary(db) and ("urgent", "apt", "curl", 1) in summary(db)
    assert summary(db) == truth(db)
    # a scan that finds nothing pending, and a host deleted (its rows go by cascade)
    _scan(db, c)
    assert summary(db) == truth(db)
    assert db_hosts.remove_host(db, "web2")
    assert summary(db) == truth(db)
    assert not any(r[2] == "curl" for r in summary(db))  # nobody needs it any more
    assert db.execute("SELECT min(hosts) FROM update_summary").fetchone()[0] >= 0  # never below 0
    # an import of new hosts, then their first scan
    db_hosts.add_hosts(db, [Host(name="new1", address="new1.example.invalid")])
    new1 = db_hosts.find_host(db, "new1")
    assert new1 is not None and new1.id is not None
    _scan(db, new1.id, _u("vim"), _u("zlib", IMPORTANT))
    assert summary(db) == truth(db)
    # a failed write leaves both as they were (the triggers run inside the scan's transaction)
    before = summary(db)
    try:
        with db.atomic():
            db.execute("DELETE FROM pending_updates")
            raise RuntimeError("interrupted")
    except RuntimeError:
        pass
    assert summary(db) == truth(db) == before


def test_the_fleet_wide_update_list_reads_the_same_as_the_grouping(db) -> None:  # type: ignore[no-untyped-def]
    a, b = _host(db, "web1"), _host(db, "web2")
    _scan(db, a, _u("openssl", URGENT), _u("vim"), _u("zlib"), _u("curl", IMPORTANT))
    _scan(db, b, _u("openssl", URGENT), _u("zlib"))
    listed = db_updates.updates_list(db)
    assert [(u.classification, u.name, u.hosts) for u in listed] == [
        ("urgent", "openssl", 2),
        ("important", "curl", 1),
        ("noncritical", "zlib", 2),
        ("noncritical", "vim", 1),
    ]
    assert [u.name for u in db_updates.updates_list(db, classification="noncritical")] == ["zlib", "vim"]
    assert len(db_updates.updates_list(db, limit=2)) == 2
    # a filtered list still groups the rows of the hosts in scope (the summary is fleet-wide)
    scoped = db_updates.updates_list(db, f=ComplianceFilter(os_family="windows"))
    assert scoped == []
