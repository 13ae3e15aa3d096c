"""Bundles in the database (migration m012_bundles): an old database upgrades, the extra sources
each host's package manager is given come from what it received."""

from __future__ import annotations

from pathlib import Path

from sqlite_utils import Database

from app.domain.bundle import BundleFile, BundleHost, Manifest, Purpose
from app.domain.models import Host
from db import bundles as db_bundles
from db import hosts as db_hosts
from db.database import open_database
from db.schema import MIGRATIONS


def manifest(bundle_id: str = "0123456789abcdef") -> Manifest:
    return Manifest(
        bundle_id,
        "2026-12-06T10:00:00+00:00",
        "admin@ws",
        "ref",
        "ab" * 32,
        "cd" * 32,
        (BundleHost("web1", "apt", "apt-bookworm-amd64", "bookworm", "amd64", (("pd-x", "1", "2"),)),),
        (BundleFile("apt-bookworm-amd64", "pd-x_2_all.deb", "0" * 64, 10, Purpose.UPDATE, hosts=("web1",)),),
    )


def test_a_database_from_before_bundles_upgrades_and_keeps_its_hosts(db_path: Path) -> None:
    old = Database(db_path)
    MIGRATIONS.apply(old, stop_before="m012_bundles")
    assert "bundles" not in old.table_names()
    old.execute(
        "INSERT INTO hosts (name, address, created_at, updated_at) "
        "VALUES ('web1', 'web1.invalid', '2026', '2026')"
    )
    old.conn.commit()
    old.conn.close()

    db = open_database(db_path)
    assert {"bundles", "bundle_keys", "bundle_hosts"} <= set(db.table_names())
    host = db_hosts.find_host(db, "web1")
    assert host is not None and host.address == "web1.invalid"
    assert db_bundles.sources_for(db, [host.id or 0]) == {}


def test_applied_bundles_are_the_hosts_extra_sources(db_path: Path) -> None:
    db = open_database(db_path)
    web1 = db_hosts.add_host(db, Host("web1", "web1.invalid"))
    web2 = db_hosts.add_host(db, Host("web2", "web2.invalid"))
    assert web1.id is not None and web2.id is not None
    m = manifest()
    db_bundles.record_bundle(db, m, "/media/stick/site.pdbundle", verified=True)
    db_bundles.record_applied(db, m.id, web1.id, "apt", 3, 1000)
    assert db_bundles.sources_for(db, [web1.id, web2.id]) == {web1.id: (m.id,)}
    stored = db_bundles.get_bundle(db, m.id)
    assert stored is not None and stored.manifest == m and stored.verified_at is not None
    assert [(a.host, a.files, a.bytes) for a in db_bundles.applied(db, m.id)] == [("web1", 3, 1000)]
    db_bundles.forget_applied(db, m.id, web1.id)
    assert db_bundles.sources_for(db, [web1.id]) == {}
    # deleting a host forgets what it received
    db_bundles.record_applied(db, m.id, web2.id, "apt", 3, 1000)
    db_hosts.remove_host(db, "web2")
    assert db_bundles.applied(db) == []
