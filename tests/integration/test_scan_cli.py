"""The CLI against real Debian test hosts: sshd on loopback, real apt, real faults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.hosts

ROOT = Path(__file__).resolve().parents[2]


def cli(
    db_path: Path, *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ui.main", "--db", str(db_path), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def add_hosts(db_path: Path, hosts: list[Any], key: Path, user: str = "admin") -> None:
    for h in hosts:
        r = cli(
            db_path,
            "hosts",
            "add",
            h.name,
            "--address",
            h.address,
            "--user",
            user,
            "--key",
            str(key),
            "--group",
            "lab",
            "--ring",
            "test",
        )
        assert r.returncode == 0, r.stderr


def scan_json(db_path: Path, *args: str, timeout: float = 120) -> tuple[int, dict[str, Any], str]:
    r = cli(db_path, "scan", *args, "--json", timeout=timeout)
    return r.returncode, json.loads(r.stdout), r.stderr


def test_scan_all_lists_synthetic_updates(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.hosts import SYNTHETIC_PACKAGES

    add_hosts(db_path, hosts, host_pool.client_key)
    code, report, err = scan_json(db_path, "--all")
    assert code == 0, err
    assert [h["name"] for h in report["hosts"]] == sorted(h.name for h in hosts)
    for entry in report["hosts"]:
        assert entry["status"] == "ok" and entry["error"] is None
        assert entry["os"]["id"] == "debian" and entry["os"]["hostname"] == entry["name"]
        pending = {p["name"]: p for p in entry["pending"]}
        expected = {n for n, spec in SYNTHETIC_PACKAGES.items() if spec["updates"]}
        assert set(pending) == expected
        for name, p in pending.items():
            spec = SYNTHETIC_PACKAGES[name]
            assert p["installed"] == spec["installed"]
            assert p["available"] in spec["updates"].values()
            assert p["manager"] == "apt"
        assert pending["pd-secfix"]["available"] == "1.0-2" and pending["pd-secfix"]["security"] is True
        assert "security" in pending["pd-secfix"]["source"]
        assert pending["pd-secfix"]["classification"] == "important"
        assert pending["pd-reboot"]["security"] is True
        assert pending["pd-regular"]["available"] == "2.1-1" and pending["pd-regular"]["security"] is False
        assert pending["pd-regular"]["classification"] == "noncritical"
        assert pending["pd-chain-extra"]["installed"] is None  # pulled in by the upgrade
        assert entry["reboot_required"] is False
    # the inventory shows the counts too
    listed = json.loads(cli(db_path, "hosts", "list", "--json").stdout)["hosts"]
    assert all(h["pending"]["important"] == 2 and h["status"] == "ok" for h in listed)


def test_stopped_host_is_unreachable_with_a_sentence(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    add_hosts(db_path, hosts[:2], host_pool.client_key)
    hosts[0].stop_sshd()
    t0 = time.monotonic()
    code, report, _ = scan_json(db_path, "--all", "--deadline", "20")
    assert time.monotonic() - t0 < 20
    assert code == 1
    by = {h["name"]: h for h in report["hosts"]}
    down = by[hosts[0].name]
    assert down["status"] == "unreachable"
    assert hosts[0].address in down["error"] and "refused" in down["error"].lower()
    assert by[hosts[1].name]["status"] == "ok"


def test_hanging_host_does_not_hold_up_the_others(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    add_hosts(db_path, hosts, host_pool.client_key)
    hosts[0].drop_packets()
    t0 = time.monotonic()
    code, report, _ = scan_json(db_path, "--all", "--deadline", "8", "--connect-timeout", "5")
    elapsed = time.monotonic() - t0
    assert code == 1
    by = {h["name"]: h for h in report["hosts"]}
    assert by[hosts[0].name]["status"] == "unreachable"
    assert all(by[h.name]["status"] == "ok" for h in hosts[1:])
    assert elapsed < 8 + 6, f"the job took {elapsed:.1f}s with a per-host deadline of 8s"
    # the healthy hosts finished long before the hanging one gave up
    from db import jobs as db_jobs
    from db.database import open_database

    db = open_database(db_path)
    steps = {s.host_name: s for s in db_jobs.job_hosts(db, report["job"])}
    hung = steps[hosts[0].name]
    assert hung.finished_at is not None
    for h in hosts[1:]:
        fin = steps[h.name].finished_at
        assert fin is not None and (hung.finished_at - fin).total_seconds() > 2


def test_frozen_sshd_times_out_at_the_banner(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    add_hosts(db_path, hosts[:1], host_pool.client_key)
    hosts[0].freeze_sshd()
    try:
        t0 = time.monotonic()
        code, report, _ = scan_json(db_path, "--all", "--deadline", "30")
        assert time.monotonic() - t0 < 30
    finally:
        hosts[0].thaw_sshd()
    assert code == 1 and report["hosts"][0]["status"] == "unreachable"
    assert "banner" in report["hosts"][0]["error"].lower()


def test_changed_host_key_fails_that_host_naming_both_fingerprints(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    add_hosts(db_path, hosts[:2], host_pool.client_key)
    old = hosts[0].host_key_fingerprint()
    code, _, _ = scan_json(db_path, "--all")
    assert code == 0
    new = hosts[0].change_host_key()
    assert new != old
    code, report, _ = scan_json(db_path, "--all")
    assert code == 1
    by = {h["name"]: h for h in report["hosts"]}
    err = by[hosts[0].name]["error"]
    assert by[hosts[0].name]["status"] == "failed"
    assert old in err and new in err
    assert by[hosts[1].name]["status"] == "ok"
    # still refused on the next scan: nothing was silently re-trusted
    code, report, _ = scan_json(db_path, hosts[0].name)
    assert code == 1 and new in report["hosts"][0]["error"]
    # after the administrator verified it out of band
    assert cli(db_path, "hosts", "forget-key", hosts[0].name).returncode == 0
    code, report, _ = scan_json(db_path, hosts[0].name)
    assert code == 0


def test_hostile_package_manager_output_never_executes(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A compromised host lies in its apt output; Patchdesk treats every byte as data."""
    h = hosts[0]
    fake = (
        "#!/bin/sh\n"
        "cat <<'OUT'\n"
        "Inst pd-$(touch${IFS}/tmp/pd-pwned-1) [1.0] (2.0 Debian-Security:12/stable-security [all])\n"
        "Inst pd-`touch${IFS}/tmp/pd-pwned-2` [1.0] "
        "(2.0;touch${IFS}/tmp/pd-pwned-3 Patchdesk:12/stable [all])\n"
        "Inst pd-quote'\"x [1'0] (2\"0 Patchdesk:12/stable [all])\n"
        "OUT\n"
        "echo 'Inst pd-good [1.0] (2.0 Patchdesk:12/stable [all])'\n"
        "printf 'Inst pd-bytes [1] (2\\377\\376 Patchdesk:12/stable [all])\\n'\n"
    )
    r = h.run(f"cat > /usr/local/bin/apt-get <<'EOF'\n{fake}EOF\nchmod 755 /usr/local/bin/apt-get")
    assert r.returncode == 0, r.stderr
    add_hosts(db_path, [h], host_pool.client_key)
    code, report, err = scan_json(db_path, h.name)
    assert code == 0, err
    names = {p["name"] for p in report["hosts"][0]["pending"]}
    assert names == {"pd-good"}  # invalid names are dropped, not interpreted
    # and the scan does not vouch for a list it could not fully read
    assert report["hosts"][0]["complete"] is False and report["hosts"][0]["notes"]
    for i in (1, 2, 3):
        assert not Path(f"/tmp/pd-pwned-{i}").exists()
        assert h.run(f"test -e /tmp/pd-pwned-{i}").returncode != 0
    from db import jobs as db_jobs
    from db.database import open_database

    logs = " ".join(ln.text for _, ln in db_jobs.log_lines(open_database(db_path), report["job"]))
    assert "pd-$(touch" in logs  # the administrator is told what was skipped
