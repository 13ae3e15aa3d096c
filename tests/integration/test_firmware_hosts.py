"""#24 acceptance on real hosts: a real fwupd daemon with its test device (tests/hosts/fwupdcluster.py)
shows a pending firmware update of kind firmware in ``scan --json``, classified by its urgency; neither
``patch --all`` nor the scheduler installs it without an approval; ``approve --ring test`` installs it
on the test ring only, a rollback downgrades it, a second approval takes it to production; and
``hosts list --json`` carries the hardware inventory."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_patch_cli import by_name, run_json
from tests.integration.test_scan_cli import cli

pytestmark = pytest.mark.hosts

GUID = "b585990a-003e-5270-89d5-3705a17f9a43"
KEY = f"fwupd:{GUID}=1.2.5"


@pytest.fixture(scope="module")
def fw_cluster() -> Iterator[Any]:
    from tests.conftest import unavailable
    from tests.hosts import hosts_available
    from tests.hosts.fwupdcluster import FwupdHostCluster

    ok, reason = hosts_available()
    if not ok:
        unavailable(f"real test hosts unavailable: {reason}")
    # its own subnet, so it runs beside the session's Debian pool
    cluster = FwupdHostCluster(subnet=os.environ.get("PATCHDESK_TEST_FWUPD_SUBNET", "127.0.30"))
    try:
        cluster.start(2, prefix="pdfw")
        yield cluster
    finally:
        cluster.stop_all()


def webcam_version(h: Any) -> str:
    out = json.loads(
        h.check("fwupdmgr get-devices --json --no-unreported-check --no-metadata-check </dev/null")
    )
    (dev,) = [d for d in out["Devices"] if GUID in d.get("Guid", [])]
    return str(dev["Version"])


def add(db_path: Path, h: Any, key: Path, ring: str) -> None:
    r = cli(db_path, "hosts", "add", h.name, "--address", h.address, "--user", "admin", "--key", str(key),
            "--group", "lab", "--ring", ring)  # fmt: skip
    assert r.returncode == 0, r.stderr


def firmware_of(report: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [p for p in by_name(report)[name]["pending"] if p["manager"] == "fwupd"]


def test_firmware_scan_gate_approve_install_rollback(fw_cluster: Any, db_path: Path) -> None:
    test_host, prod = fw_cluster.hosts
    add(db_path, test_host, fw_cluster.client_key, "test")
    add(db_path, prod, fw_cluster.client_key, "production")

    # fwupd installed but no system bus on prod yet: its scan says it could not see the firmware
    test_host.start_fwupd()
    code, report, err = run_json(db_path, "scan", "--all", timeout=300)
    assert code == 0, err
    entry = by_name(report)[prod.name]
    assert entry["status"] == "ok" and entry["complete"] is False, entry
    assert any("fwupd could not be scanned" in n for n in entry["notes"]), entry["notes"]
    assert firmware_of(report, prod.name) == []

    prod.start_fwupd()
    code, report, err = run_json(db_path, "scan", "--all", timeout=300)
    assert code == 0, err
    for h in (test_host, prod):
        (fw,) = firmware_of(report, h.name)
        assert (fw["name"], fw["installed"], fw["available"]) == (GUID, "1.2.2", "1.2.5")
        assert fw["kind"] == "firmware" and fw["classification"] == "urgent", fw
        assert "Integrated Webcam" in fw["source"]
        assert by_name(report)[h.name]["complete"] is True, by_name(report)[h.name]["notes"]

    # hosts list --json carries the hardware inventory
    code, listed, err = run_json(db_path, "hosts", "list")
    assert code == 0, err
    hw = by_name(listed)[test_host.name]["hardware"]
    assert hw["cpu_count"] == os.cpu_count() and hw["memory_bytes"] > 0

    # patch --all without an approval: apt's updates go, the firmware stays
    code, report, err = run_json(db_path, "patch", "--all", "--reboot", "never", timeout=600)
    assert code == 0, (err, report)
    for h in (test_host, prod):
        assert all(c["manager"] != "fwupd" for c in by_name(report)[h.name]["changes"])
        assert webcam_version(h) == "1.2.2"

    # the scheduler (urgent push, test ring first) leaves it waiting for an approval
    code, due, err = run_json(db_path, "run-due", "--now", datetime.now(UTC).isoformat(), timeout=600)
    assert code == 0, (err, due)
    assert all(KEY not in p["updates"] for p in due["patches"]), due["patches"]
    waits = [w for w in due["waiting"] if w["update"] == KEY]
    assert {w["host"] for w in waits} == {test_host.name, prod.name}
    assert all("explicit approval" in w["reason"] for w in waits), waits
    assert webcam_version(test_host) == "1.2.2"

    # approved for the test ring: one host of the model gets it, production does not
    code, approved, err = run_json(db_path, "approve", GUID, "--ring", "test", "--note", "one host first")
    assert code == 0, err
    assert approved["rollouts"][0]["ring"] == "test"
    code, report, err = run_json(db_path, "patch", "--all", "--reboot", "never", timeout=600)
    assert code == 0, (err, report)
    changes = by_name(report)[test_host.name]["changes"]
    assert [(c["name"], c["from"], c["to"]) for c in changes] == [(f"{GUID}=1.2.5", "1.2.2", "1.2.5")]
    verification = by_name(report)[test_host.name]["verification"]
    # amber for the reboot pd-reboot (an apt update of the first patch) still waits for
    assert verification["verdict"] == "amber" and "a reboot is still pending" in verification["reasons"]
    assert "all 1 changed package(s) at the intended version" in verification["reasons"], verification
    assert webcam_version(test_host) == "1.2.5" and webcam_version(prod) == "1.2.2"
    assert by_name(report)[prod.name]["changes"] == []

    # the evaluation view's rule: verified on the test ring, the second approval may be given
    from app.domain.firmware import promotion_blocker
    from db import firmware as db_firmware
    from db.database import open_database

    def blocker() -> str | None:
        db = open_database(db_path)
        try:
            return promotion_blocker(db_firmware.installs(db, "fwupd", (GUID, f"{GUID}=1.2.5"), "1.2.5"))
        finally:
            db.conn.close()

    assert blocker() is None

    # the device allows downgrades: a rollback puts 1.2.2 back
    code, report, err = run_json(db_path, "rollback", test_host.name, timeout=600)
    assert code == 0, (err, report)
    assert webcam_version(test_host) == "1.2.2"
    assert blocker() == "it was rolled back on the test ring"

    # the second approval (every ring) after the test host was verified: production gets it
    code, _, err = run_json(db_path, "approve", GUID, "--note", "verified on the test ring")
    assert code == 0, err
    code, report, err = run_json(db_path, "patch", prod.name, "--reboot", "never", timeout=600)
    assert code == 0, (err, report)
    assert webcam_version(prod) == "1.2.5"


def test_offline_import_of_metadata_and_cab(fw_cluster: Any, db_path: Path, tmp_path: Path) -> None:
    """#24 item 2: LVFS-style metadata (absolute download locations, on a host without internet) and
    the .cab carried in: a scan offers the release, it waits for an approval, then installs."""
    from tests.hosts.fwupdcluster import _METAINFO

    h = fw_cluster.hosts[0]
    h.reset()
    h.start_fwupd()
    # a 1.2.7 cab, built on the host with gcab, and metadata that downloads it from the LVFS
    h.check(
        "set -e; d=$(mktemp -d); cd $d; v=1.2.7; u=high; printf '%s\\0' 0x1020007 > firmware.bin; "
        f"cat > firmware.metainfo.xml <<XML\n{_METAINFO.format(guid=GUID)}\nXML\n"
        "gcab -c /root/webcam-1.2.7.cab firmware.bin firmware.metainfo.xml"
    )
    cab = tmp_path / "webcam-1.2.7.cab"
    cab.write_bytes(base64.b64decode(h.check("base64 -w0 /root/webcam-1.2.7.cab")))
    digest = hashlib.sha256(cab.read_bytes()).hexdigest()
    metadata = tmp_path / "firmware.xml"
    metadata.write_text(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<components version="0.9" origin="lvfs">
  <component type="firmware">
    <id>org.patchdesk.test.webcam.firmware</id>
    <name>Patchdesk test webcam</name>
    <summary>Firmware for fwupd's fake Integrated Webcam</summary>
    <provides><firmware type="flashed">{GUID}</firmware></provides>
    <custom><value key="LVFS::VersionFormat">triplet</value></custom>
    <releases>
      <release version="1.2.7" timestamp="1767225600" urgency="high">
        <location>https://fwupd.invalid/downloads/{digest}-webcam-1.2.7.cab</location>
        <checksum filename="webcam-1.2.7.cab" target="container" type="sha256">{digest}</checksum>
        <description><p>Carried in.</p></description>
      </release>
    </releases>
  </component>
</components>
"""
    )
    # the LVFS names its files <sha256>-<name>: carried under that name
    carried = tmp_path / f"{digest}-webcam-1.2.7.cab"
    cab.rename(carried)
    add(db_path, h, fw_cluster.client_key, "test")
    code, done, err = run_json(
        db_path, "firmware", "import", h.name, "--metadata", str(metadata), "--cab", str(carried)
    )
    assert code == 0, err
    assert done["remote"] == "patchdesk-offline" and done["cabs"] == [carried.name]

    code, report, err = run_json(db_path, "scan", h.name, timeout=300)
    assert code == 0, err
    offered = {p["available"]: p for p in firmware_of(report, h.name)}
    assert "1.2.7" in offered and "patchdesk-offline" in offered["1.2.7"]["source"], firmware_of(
        report, h.name
    )
    code, report, err = run_json(
        db_path, "patch", h.name, "--reboot", "never", "--packages", GUID, timeout=600
    )
    assert code == 0 and by_name(report)[h.name]["changes"] == [], report  # not approved yet
    code, _, err = run_json(db_path, "approve", f"{GUID}=1.2.7", "--ring", "test")
    assert code == 0, err
    code, report, err = run_json(
        db_path, "patch", h.name, "--reboot", "never", "--packages", GUID, timeout=600
    )
    assert code == 0, (err, report)
    assert webcam_version(h) == "1.2.7"
