"""Issue #20 acceptance on real Debian test hosts: a custom health check that fails on the new version
turns the patch's verification red, and the host's policy ``on-red`` (or ``patch --auto-rollback``)
rolls it back by itself to the exact old versions; ``patch`` exits 1 and its JSON says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_patch_cli import by_name, run_json, scanned
from tests.integration.test_scan_cli import cli

pytestmark = pytest.mark.hosts

#: passes on pd-regular 2.0-1 (the installed version), fails once 2.1-1 is in
CHECK = "dpkg-query -W -f='${Version}' pd-regular | grep -qx 2.0-1"


def _all_versions(h: Any) -> str:
    return str(h.check("dpkg-query -W -f='${Package} ${Version}\\n' | sort"))


def _edit(db_path: Path, name: str, *options: str) -> None:
    r = cli(db_path, "hosts", "edit", name, *options)
    assert r.returncode == 0, r.stderr


def test_red_check_rolls_the_host_back_automatically(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    scanned(db_path, [h], host_pool.client_key)
    before = _all_versions(h)
    _edit(db_path, h.name, "--check-command", CHECK, "--auto-rollback", "on-red")

    code, report, err = run_json(db_path, "patch", h.name, "--packages", "pd-regular", "--reboot", "never")

    assert code == 1, (err, report)
    entry = by_name(report)[h.name]
    assert entry["status"] == "failed"
    assert entry["result"] == "rolled back automatically"
    assert "rolled back automatically" in entry["error"]
    assert entry["check_before"]["state"] == "passed"
    assert [(c["name"], c["from"], c["to"]) for c in entry["changes"]] == [("pd-regular", "2.0-1", "2.1-1")]
    assert entry["verification"]["verdict"] == "red"
    assert any("custom health check failed" in r for r in entry["verification"]["reasons"])
    auto = entry["auto_rollback"]
    assert auto["trigger"] == "policy on-red"
    assert any("custom health check failed" in r for r in auto["reason"])
    assert [(c["name"], c["from"], c["to"]) for c in auto["restored"]] == [("pd-regular", "2.1-1", "2.0-1")]
    assert auto["verification"]["verdict"] == "green", auto
    assert h.installed_version("pd-regular") == "2.0-1"
    assert _all_versions(h) == before  # exactly the old versions, nothing else touched

    # both steps are on record: the change, its rollback by the job itself, the audit entry
    code, hist, _ = run_json(db_path, "history", h.name)
    job = next(j for j in hist["jobs"] if j["job"] == report["job"])
    assert job["rolled_back_by"] == report["job"]
    code, audit, _ = run_json(db_path, "audit", "list")
    entries = audit if isinstance(audit, list) else audit.get("entries", [])
    auto_entries = [e for e in entries if e["action"] == "rollback.automatic"]
    assert auto_entries and auto_entries[0]["target"] == h.name
    # nothing is left to roll back by hand
    r = cli(db_path, "rollback", h.name)
    assert r.returncode != 0


def test_policy_off_keeps_the_change_and_the_job_flag_rolls_back(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    kept, flagged = hosts[1], hosts[2]
    scanned(db_path, [kept, flagged], host_pool.client_key)
    for h in (kept, flagged):
        _edit(db_path, h.name, "--check-command", CHECK, "--auto-rollback", "off")

    code, report, err = run_json(db_path, "patch", kept.name, "--packages", "pd-regular", "--reboot", "never")
    assert code == 1, (err, report)
    entry = by_name(report)[kept.name]
    assert entry["verification"]["verdict"] == "red" and "auto_rollback" not in entry
    assert kept.installed_version("pd-regular") == "2.1-1"  # red, said, and left to the administrator

    code, report, err = run_json(
        db_path, "patch", flagged.name, "--packages", "pd-regular", "--reboot", "never", "--auto-rollback"
    )
    assert code == 1, (err, report)
    entry = by_name(report)[flagged.name]
    assert entry["result"] == "rolled back automatically"
    assert entry["auto_rollback"]["trigger"] == "patch --auto-rollback"
    assert flagged.installed_version("pd-regular") == "2.0-1"


def test_verify_runs_the_custom_check(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    h = hosts[3]
    scanned(db_path, [h], host_pool.client_key)
    _edit(db_path, h.name, "--check-command", "echo checked-out; exit 3")
    code, report, _ = run_json(db_path, "verify", h.name)
    v = by_name(report)[h.name]["verification"]
    assert code == 1 and v["verdict"] == "red"
    assert "custom health check failed (exit status 3): checked-out" in v["reasons"]
    _edit(db_path, h.name, "--check-command", "true")
    code, report, _ = run_json(db_path, "verify", h.name)
    assert "custom health check passed" in by_name(report)[h.name]["verification"]["reasons"]
