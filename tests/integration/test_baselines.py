"""Baselines and drift on real Debian test hosts through the CLI: capture, assign, drift, fix, rollback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration import test_dnf_hosts
from tests.integration.test_patch_cli import by_name, run_json
from tests.integration.test_scan_cli import add_hosts, cli

pytestmark = pytest.mark.hosts

SSHD = "/etc/ssh/sshd_config"

# the rpm hosts of tests/integration/test_dnf_hosts.py, started when an rpm test here runs
rpm_pool = test_dnf_hosts.rpm_pool
rpm_hosts = test_dnf_hosts.rpm_hosts


def drift_items(report: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    return {h["name"]: [(d["kind"], d["target"]) for d in h["drift"]] for h in report["hosts"]}


def test_capture_drift_fix_and_roll_back_the_fix(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    golden, edited, hand, patched = hosts[:4]  # the fourth is patched by Patchdesk, not assigned
    add_hosts(db_path, [golden, edited, hand, patched], host_pool.client_key)
    r = cli(db_path, "scan", "--all", timeout=300)  # the first history read: where watching starts
    assert r.returncode == 0, r.stderr
    original = golden.run(f"cat {SSHD}").stdout

    code, created, err = run_json(
        db_path, "baseline", "create", "web", "--from-host", golden.name, "--files", SSHD, "--packages", "all"
    )
    assert code == 0, err
    kinds = {(i["kind"], i["target"]): i["expected"] for i in created["items"]}
    assert kinds[("file", SSHD)]["sha256"] and kinds[("file", SSHD)]["mode"] == "0644"
    assert kinds[("package", "pd-regular")] == {"state": "present", "version": "2.0-1", "match": "exact"}
    r = cli(db_path, "baseline", "assign", "web", "--hosts", f"{golden.name},{edited.name},{hand.name}")
    assert r.returncode == 0, r.stderr

    code, report, err = run_json(db_path, "drift", "--all")
    assert code == 0, (err, report)
    assert {h["name"]: h["status"] for h in report["hosts"]} == {h.name: "no-drift" for h in hosts[:3]}

    edited.run(f"printf 'PermitRootLogin yes\\n' >> {SSHD}")
    edited_text = edited.run(f"cat {SSHD}").stdout
    r = hand.run("DEBIAN_FRONTEND=noninteractive apt-get install -y pd-regular=2.1-1", timeout=120)
    assert r.returncode == 0, r.stderr
    code, done, err = run_json(db_path, "patch", patched.name, "--packages", "pd-secfix", "--reboot", "never")
    assert code == 0, (err, done)
    r = cli(db_path, "scan", "--all", timeout=300)  # reads each host's history since the last scan
    assert r.returncode == 0, r.stderr

    code, report, err = run_json(db_path, "drift", "--all")
    assert code == 1, err
    assert drift_items(report) == {
        golden.name: [],
        edited.name: [("file", SSHD)],
        hand.name: [("package", "pd-regular")],
    }
    entries = by_name(report)
    assert entries[hand.name]["drift"][0]["actual"]["version"] == "2.1-1"
    assert entries[hand.name]["drift"][0]["expected"]["version"] == "2.0-1"
    assert entries[edited.name]["drift"][0]["since"]
    assert all(h["baselines"] == ["web"] for h in report["hosts"])
    # the hand install is a change made outside Patchdesk; the Patchdesk patch on the fourth host is not
    outside = {
        h["name"]: [(c["name"], c["from"], c["to"]) for c in h["outside_changes"]] for h in report["hosts"]
    }
    assert outside == {golden.name: [], edited.name: [], hand.name: [("pd-regular", "2.0-1", "2.1-1")]}
    status = {h["name"]: h["outside_changes_status"] for h in report["hosts"]}
    # hosts whose packages never changed have no dpkg.log (the test image has none): their history is
    # unknown, and says so, never "no outside changes"
    assert status == {golden.name: "unknown", edited.name: "unknown", hand.name: "ok"}, status
    code, theirs, err = run_json(db_path, "changes", patched.name, "--outside-only")
    assert code == 0 and theirs["changes"] == [] and theirs["history"]["status"] == "ok", (err, theirs)

    code, plan, err = run_json(db_path, "drift", "fix", "--all", "--dry-run")
    assert code == 0, err
    assert any("pd-regular 2.0-1" in a for a in by_name(plan)[hand.name]["actions"])
    assert edited.run(f"cat {SSHD}").stdout == edited_text  # a preview changes nothing

    code, fixed, err = run_json(db_path, "drift", "fix", "--all", "--now", timeout=600)
    assert code == 0, (err, fixed)
    assert edited.run(f"cat {SSHD}").stdout == original
    assert hand.installed_version("pd-regular") == "2.0-1"
    mode = edited.run(f"stat -c %U:%G:%a {SSHD}").stdout.strip()
    assert mode == "root:root:644"

    r = cli(db_path, "scan", "--all", timeout=300)
    assert r.returncode == 0, r.stderr
    code, report, err = run_json(db_path, "drift", "--all", "--stored")
    assert code == 0, (err, report)
    assert all(h["status"] == "no-drift" for h in report["hosts"]), report

    code, undone, err = run_json(db_path, "drift", "rollback", edited.name, timeout=300)
    assert code == 0, (err, undone)
    assert edited.run(f"cat {SSHD}").stdout == edited_text
    code, report, err = run_json(db_path, "drift", edited.name)
    assert code == 1 and drift_items(report) == {edited.name: [("file", SSHD)]}

    r = cli(db_path, "audit", "list", "--json")
    assert "drift.detected" in r.stdout and "drift.fix" in r.stdout and "drift.rollback" in r.stdout
    r = cli(db_path, "audit", "verify")  # the recorder's drift entries keep the chain whole
    assert r.returncode == 0, (r.stdout, r.stderr)


def test_fix_outside_the_maintenance_window_is_refused(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    target = hosts[0]
    add_hosts(db_path, [target], host_pool.client_key)
    assert cli(db_path, "baseline", "create", "b", "--packages", "pd-regular=2.0-1").returncode == 0
    assert cli(db_path, "baseline", "assign", "b", "--group", "lab").returncode == 0
    target.run("DEBIAN_FRONTEND=noninteractive apt-get install -y pd-regular=2.1-1", timeout=120)
    code, report, _ = run_json(db_path, "drift", "--all")
    assert code == 1 and drift_items(report) == {target.name: [("package", "pd-regular")]}
    code, fixed, _ = run_json(db_path, "drift", "fix", target.name)
    assert code == 1 and "window" in by_name(fixed)[target.name]["error"]
    assert target.installed_version("pd-regular") == "2.1-1"


def test_rpm_hosts_drift_and_fix_with_dnf(rpm_hosts, rpm_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    golden, other = rpm_hosts[:2]
    add_hosts(db_path, [golden, other], rpm_pool.client_key)
    r = cli(
        db_path, "baseline", "create", "rpm", "--from-host", golden.name, "--packages", "pd-regular,pd-secfix"
    )
    assert r.returncode == 0, r.stderr
    assert cli(db_path, "baseline", "assign", "rpm", "--hosts", f"{golden.name},{other.name}").returncode == 0
    r = other.run("dnf -y -q install pd-regular-2.1-1", timeout=120)
    assert r.returncode == 0, r.stderr
    code, report, err = run_json(db_path, "drift", "--all")
    assert code == 1, err
    assert drift_items(report) == {golden.name: [], other.name: [("package", "pd-regular")]}
    code, fixed, err = run_json(db_path, "drift", "fix", other.name, "--now", timeout=600)
    assert code == 0, (err, fixed)
    assert other.installed_version("pd-regular") == "2.0-1"
