"""The hardware inventory in the database (db/hardware.py, migration m013_firmware) and in
``hosts list --json``."""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path

from sqlite_utils import Database

from app.cli.main import parse, run
from app.domain.hardware import Disk, Hardware
from app.domain.models import Host, OsFacts, ScanResult
from db import hardware as db_hardware
from db import hosts as db_hosts
from db import scans as db_scans
from db.database import open_database, schema_version
from db.schema import MIGRATIONS, SCHEMA_VERSION

HW = Hardware(
    manufacturer="Dell Inc.",
    model="PowerEdge R650",
    serial="7XK2QK3",
    bios_vendor="Dell Inc.",
    bios_version="1.10.2",
    bios_date="05/16/2023",
    cpu_model="Intel(R) Xeon(R) Gold 6338",
    cpu_count=32,
    memory_bytes=128 * 2**30,
    disks=(Disk("sda", 480 * 10**9, "PERC H755", None, "disk"),),
)


def _scan(db: Database, host_id: int, hw: Hardware | None) -> None:
    facts = OsFacts(id="debian", pretty_name="Debian 12", hardware=hw)
    db_scans.record_scan(db, host_id, None, ScanResult(facts, ("apt",), ()))


def test_an_old_database_upgrades_and_keeps_its_hosts(db_path: Path) -> None:
    old = Database(sqlite3.connect(db_path))
    kept = type(MIGRATIONS)("patchdesk")
    kept._migrations.extend(m for m in MIGRATIONS._migrations if m.name != "m013_firmware")
    kept.apply(old)
    old.execute(f"PRAGMA user_version = {SCHEMA_VERSION - 1}")
    old.execute(
        "INSERT INTO hosts (name, address, created_at, updated_at) "
        "VALUES ('web1', '127.0.0.1', '2026-01-01', '2026-01-01')"
    )
    old.conn.commit()
    old.conn.close()
    db = open_database(db_path)
    assert schema_version(db) == SCHEMA_VERSION
    (host,) = db_hosts.list_hosts(db)
    assert host.id is not None and db_hardware.hardware_for(db, host.id) is None
    _scan(db, host.id, HW)
    assert db_hardware.hardware_for(db, host.id) == HW


def test_a_scan_without_hardware_keeps_the_last_inventory(db: Database) -> None:
    host = db_hosts.add_host(db, Host("web1", "127.0.0.1"))
    assert host.id is not None
    _scan(db, host.id, HW)
    _scan(db, host.id, None)
    assert db_hardware.all_hardware(db) == {host.id: HW}
    _scan(db, host.id, Hardware(cpu_count=2))
    assert db_hardware.hardware_for(db, host.id) == Hardware(cpu_count=2)


def test_hosts_list_json_carries_the_hardware_and_filters_by_model(db_path: Path) -> None:
    db = open_database(db_path)
    a = db_hosts.add_host(db, Host("srv1", "127.0.0.1"))
    b = db_hosts.add_host(db, Host("srv2", "127.0.0.2"))
    db_hosts.add_host(db, Host("never", "127.0.0.3"))
    assert a.id is not None and b.id is not None
    _scan(db, a.id, HW)
    _scan(db, b.id, Hardware(manufacturer="LENOVO", model="ThinkCentre M70q"))
    db.conn.close()

    out = io.StringIO()
    assert run(parse(["--db", str(db_path), "hosts", "list", "--json"]), out) == 0
    listed = {h["name"]: h for h in json.loads(out.getvalue())["hosts"]}
    assert listed["srv1"]["hardware"]["model"] == "PowerEdge R650"
    assert listed["srv1"]["hardware"]["serial"] == "7XK2QK3"
    assert listed["srv1"]["hardware"]["disks"][0]["size_bytes"] == 480 * 10**9
    assert listed["srv2"]["hardware"]["serial"] is None
    assert listed["never"]["hardware"] is None

    out = io.StringIO()
    assert run(parse(["--db", str(db_path), "hosts", "list", "--json", "--model", "poweredge"]), out) == 0
    assert [h["name"] for h in json.loads(out.getvalue())["hosts"]] == ["srv1"]
