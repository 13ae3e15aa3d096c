"""Patch, verify and roll back real Debian test hosts through the CLI, including the faults."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_scan_cli import ROOT, add_hosts, cli

pytestmark = pytest.mark.hosts


def run_json(db_path: Path, *args: str, timeout: float = 300) -> tuple[int, dict[str, Any], str]:
    r = cli(db_path, *args, "--json", timeout=timeout)
    try:
        data = json.loads(r.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"not JSON (exit {r.returncode}): {r.stdout!r} {r.stderr!r}") from None
    return r.returncode, data, r.stderr


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {h["name"]: h for h in report["hosts"]}


def scanned(db_path: Path, hosts: list[Any], key: Path, user: str = "admin") -> None:
    add_hosts(db_path, hosts, key, user)
    code, _, err = run_json(db_path, "scan", *[h.name for h in hosts])
    assert code == 0, err


def test_patch_security_update_verify_and_roll_back(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    targets = hosts[:3]
    scanned(db_path, targets, host_pool.client_key)

    code, plan, err = run_json(db_path, "patch", "--all", "--packages", "pd-secfix", "--dry-run")
    assert code == 0, err
    for h in targets:
        assert [(c["name"], c["from"], c["to"]) for c in by_name(plan)[h.name]["plan"]] == [
            ("pd-secfix", "1.0-1", "1.0-2")
        ]
        assert h.installed_version("pd-secfix") == "1.0-1"  # a plan changes nothing

    code, report, err = run_json(
        db_path,
        "patch",
        "--all",
        "--classification",
        "important",
        "--packages",
        "pd-secfix",
        "--reboot",
        "never",
    )
    assert code == 0, (err, report)
    for h in targets:
        entry = by_name(report)[h.name]
        assert entry["status"] == "ok"
        assert [(c["name"], c["from"], c["to"]) for c in entry["changes"]] == [
            ("pd-secfix", "1.0-1", "1.0-2")
        ]
        assert entry["verification"]["verdict"] == "green", entry["verification"]
        assert h.installed_version("pd-secfix") == "1.0-2"
        assert h.installed_version("pd-regular") == "2.0-1"  # only what was chosen
    patch_job = report["job"]

    code, report, err = run_json(db_path, "verify", "--all")
    assert code == 0 and all(e["verification"]["verdict"] == "green" for e in report["hosts"]), report

    code, report, err = run_json(db_path, "rollback", "--all")
    assert code == 0, (err, report)
    for h in targets:
        entry = by_name(report)[h.name]
        assert [(c["name"], c["from"], c["to"]) for c in entry["restored"]] == [
            ("pd-secfix", "1.0-2", "1.0-1")
        ]
        assert entry["verification"]["verdict"] == "green"
        assert h.installed_version("pd-secfix") == "1.0-1"

    code, hist, _ = run_json(db_path, "history", targets[0].name)
    kinds = [(j["kind"], j["job"]) for j in hist["jobs"]]
    assert ("patch", patch_job) in kinds and kinds[0][0] == "rollback"
    patch_entry = next(j for j in hist["jobs"] if j["job"] == patch_job)
    assert patch_entry["rolled_back_by"] == kinds[0][1]
    # the same job cannot be rolled back twice
    r = cli(db_path, "rollback", targets[0].name, "--job", str(patch_job))
    assert r.returncode == 2 and "already rolled back" in r.stderr


def test_dependency_chain_and_new_package_roll_back_exactly(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    scanned(db_path, [h], host_pool.client_key)
    code, report, err = run_json(db_path, "patch", h.name, "--packages", "pd-chain", "--reboot", "never")
    assert code == 0, (err, report)
    changes = {c["name"]: (c["from"], c["to"]) for c in report["hosts"][0]["changes"]}
    assert changes == {
        "pd-chain": ("1.0-1", "1.1-1"),
        "pd-chain-lib": ("1.0-1", "1.1-1"),
        "pd-chain-extra": (None, "1.0-1"),
    }
    code, report, err = run_json(db_path, "rollback", h.name)
    assert code == 0, (err, report)
    assert h.installed_version("pd-chain") == "1.0-1"
    assert h.installed_version("pd-chain-lib") == "1.0-1"
    assert h.installed_version("pd-chain-extra") is None


def test_pre_and_post_patch_hooks_run_around_the_install(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    """With a pre-patch hook the job plans first (the hook runs only when there is something to
    install), snapshots, runs the hook, installs; without one apt reports its own transaction. Both
    record the same changes."""
    with_hooks, plain = hosts[0], hosts[1]
    scanned(db_path, [with_hooks, plain], host_pool.client_key)
    con = sqlite3.connect(db_path)
    con.execute(
        "UPDATE hosts SET pre_command = ?, post_command = ? WHERE name = ?",
        [
            "dpkg-query -W -f 'pre ${Version}\\n' pd-secfix >> /root/pd-hooks",
            "dpkg-query -W -f 'post ${Version}\\n' pd-secfix >> /root/pd-hooks",
            with_hooks.name,
        ],
    )
    con.commit()
    con.close()
    code, report, err = run_json(db_path, "patch", "--all", "--packages", "pd-secfix", "--reboot", "never")
    assert code == 0, (err, report)
    for h in (with_hooks, plain):
        entry = by_name(report)[h.name]
        assert [(c["name"], c["from"], c["to"]) for c in entry["changes"]] == [
            ("pd-secfix", "1.0-1", "1.0-2")
        ]
        assert entry["verification"]["verdict"] == "green", entry["verification"]
    assert with_hooks.check("cat /root/pd-hooks").splitlines() == ["pre 1.0-1", "post 1.0-2"]
    con = sqlite3.connect(db_path)
    logs = {
        name: [
            r[0]
            for r in con.execute(
                "SELECT l.text FROM job_logs l JOIN hosts h ON h.id = l.host_id "
                "WHERE l.job_id = ? AND h.name = ?",
                [report["job"], name],
            )
        ]
        for name in (with_hooks.name, plain.name)
    }
    snapshots = {
        name: con.execute(
            "SELECT s.name, s.version FROM snapshots s JOIN hosts h ON h.id = s.host_id "
            "WHERE s.job_id = ? AND h.name = ?",
            [report["job"], name],
        ).fetchall()
        for name in (with_hooks.name, plain.name)
    }
    con.close()
    for name in logs:
        assert "Plan: 1 package(s): pd-secfix 1.0-1→1.0-2" in logs[name], logs[name]
        assert snapshots[name] == [("pd-secfix", "1.0-1")]
        # the hook's lines are the job's business, not the administrator's log
        assert not any("@@PATCHDESK" in line for line in logs[name])
    assert any("pre-patch" in line for line in logs[with_hooks.name]), logs[with_hooks.name]
    assert any(line.startswith("Unpacking pd-secfix (1.0-2)") for line in logs[plain.name]), logs[plain.name]


def test_rollback_refuses_up_front_when_an_old_version_is_gone(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    scanned(db_path, [h], host_pool.client_key)
    code, report, err = run_json(
        db_path, "patch", h.name, "--packages", "pd-secfix,pd-regular", "--reboot", "never"
    )
    assert code == 0, (err, report)
    # The repository drops the suite that carried the old versions.
    r = h.run(
        "sed -i 's/^Suites:.*/Suites: bookworm-updates bookworm-security/' /etc/apt/sources.list.d/*.sources"
        " && apt-get update -q"
    )
    assert r.returncode == 0, r.stderr
    code, report, _ = run_json(db_path, "rollback", h.name)
    entry = report["hosts"][0]
    assert code == 1 and entry["status"] == "failed"
    assert "pd-secfix 1.0-1" in entry["error"] and "pd-regular 2.0-1" in entry["error"]
    assert "Nothing was changed" in entry["error"]
    assert h.installed_version("pd-secfix") == "1.0-2" and h.installed_version("pd-regular") == "2.1-1"


def test_locked_package_database_waits_then_fails_clearly(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    locked, free = hosts[0], hosts[1]
    scanned(db_path, [locked, free], host_pool.client_key)
    with locked.hold_dpkg_lock():
        t0 = time.monotonic()
        code, report, _ = run_json(
            db_path, "patch", "--all", "--packages", "pd-regular", "--lock-wait", "4", "--reboot", "never"
        )
        elapsed = time.monotonic() - t0
    entries = by_name(report)
    assert code == 1
    assert entries[locked.name]["status"] == "failed"
    assert "locked by another process" in entries[locked.name]["error"]
    assert entries[free.name]["status"] == "ok"
    assert locked.installed_version("pd-regular") == "2.0-1"
    assert free.installed_version("pd-regular") == "2.1-1"
    assert elapsed >= 4
    # issue #17 (e): the failed patch is the host's last job, in `hosts list --json` as in the GUI
    code, listed, _ = run_json(db_path, "hosts", "list")
    last = {h["name"]: h["last_job"] for h in listed["hosts"]}
    assert last[locked.name]["kind"] == "patch" and last[locked.name]["state"] == "failed"
    assert last[free.name]["kind"] == "patch" and last[free.name]["state"] == "succeeded"


def test_sudo_password_not_stored_is_a_sentence(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    scanned(db_path, [h], host_pool.client_key, user="sudopw")
    code, report, _ = run_json(db_path, "patch", h.name, "--packages", "pd-regular")
    assert code == 1
    assert "requires a password" in report["hosts"][0]["error"]
    assert h.installed_version("pd-regular") == "2.0-1"


def test_disk_full_during_unpack(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    scanned(db_path, [h], host_pool.client_key)
    # the package's own directory fills up while dpkg unpacks into it
    r = h.run(
        "mount -t tmpfs -o size=16k tmpfs /usr/share/doc/pd-regular"
        " && (dd if=/dev/zero of=/usr/share/doc/pd-regular/fill bs=1k count=64 2>/dev/null; true)"
    )
    assert r.returncode == 0, r.stderr
    code, report, _ = run_json(db_path, "patch", h.name, "--packages", "pd-regular")
    entry = report["hosts"][0]
    assert code == 1 and entry["status"] == "failed"
    assert "disk on" in entry["error"] and "full" in entry["error"] and "No space left" in entry["error"]
    assert h.installed_version("pd-regular") == "2.0-1"


def test_broken_repository(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    scanned(db_path, [h], host_pool.client_key)
    assert h.run("rm -f /srv/repo/pool/bookworm-updates/main/pd-regular/*.deb").returncode == 0
    code, report, _ = run_json(db_path, "patch", h.name, "--packages", "pd-regular")
    entry = report["hosts"][0]
    assert code == 1 and entry["status"] == "failed"
    assert "pd-regular" in entry["error"] and "apt could not install" in entry["error"]


def _install_reboot_stub(h: Any) -> None:
    r = h.run(
        "printf '#!/bin/sh\\ntouch /run/pd-reboot-requested\\n' > /usr/local/sbin/reboot"
        " && chmod 755 /usr/local/sbin/reboot"
    )
    assert r.returncode == 0, r.stderr


def _power_cycle_on_request(h: Any, come_back: bool, stop: threading.Event) -> threading.Thread:
    def watch() -> None:
        while not stop.is_set():
            if h.running and h.run("test -e /run/pd-reboot-requested").returncode == 0:
                h.stop()
                if come_back:
                    time.sleep(1.5)
                    h.start()
                return
            time.sleep(0.3)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    return t


def test_reboot_if_needed_waits_for_the_host_to_come_back(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    scanned(db_path, [h], host_pool.client_key)
    _install_reboot_stub(h)
    stop = threading.Event()
    watcher = _power_cycle_on_request(h, True, stop)
    try:
        code, report, err = run_json(
            db_path,
            "patch",
            h.name,
            "--packages",
            "pd-reboot",
            "--reboot",
            "if-needed",
            "--reboot-timeout",
            "60",
        )
    finally:
        stop.set()
        watcher.join(5)
    entry = report["hosts"][0]
    assert code == 0, (err, entry)
    assert entry["rebooted"] is True and entry["reboot_required"] is False
    assert entry["verification"]["verdict"] == "green", entry["verification"]
    assert h.installed_version("pd-reboot") == "1.0-2"


def test_reboot_that_never_comes_back(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    scanned(db_path, [h], host_pool.client_key)
    _install_reboot_stub(h)
    stop = threading.Event()
    watcher = _power_cycle_on_request(h, False, stop)
    try:
        t0 = time.monotonic()
        code, report, _ = run_json(
            db_path,
            "patch",
            h.name,
            "--packages",
            "pd-secfix",
            "--reboot",
            "always",
            "--reboot-timeout",
            "8",
            "--connect-timeout",
            "2",
        )
        elapsed = time.monotonic() - t0
    finally:
        stop.set()
        watcher.join(5)
        h.start()
    entry = report["hosts"][0]
    assert code == 1 and entry["status"] == "unreachable"
    assert "did not come back within 8 s" in entry["error"]
    assert elapsed < 60
    # the change record was kept: once the host is back, rollback works
    code, report, err = run_json(db_path, "rollback", h.name)
    assert code == 0, (err, report)
    assert h.installed_version("pd-secfix") == "1.0-1"


def _slow_dpkg(h: Any, seconds: int) -> None:
    """Make every dpkg run on the host take a while, so a test can act mid-install: dpkg's own
    pre-invoke hook, which runs after apt has reported its transaction (and the job logged its plan)."""
    r = h.run(f"echo 'pre-invoke=sleep {seconds}' > /etc/dpkg/dpkg.cfg.d/pd-slow")
    assert r.returncode == 0


def _wait_for_log(db_path: Path, needle: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            con = sqlite3.connect(db_path, timeout=5)
            found = con.execute(
                "SELECT count(*) FROM job_logs WHERE text LIKE ?", [f"%{needle}%"]
            ).fetchone()[0]
            con.close()
            if found:
                return
        except sqlite3.OperationalError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"no log line containing {needle!r} within {timeout}s")


def test_host_disappearing_mid_install(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    gone, other = hosts[0], hosts[1]
    scanned(db_path, [gone, other], host_pool.client_key)
    _slow_dpkg(gone, 6)
    result: dict[str, Any] = {}

    def patch() -> None:
        result["r"] = run_json(db_path, "patch", "--all", "--packages", "pd-regular", "--deadline", "60")

    t = threading.Thread(target=patch)
    t.start()
    _wait_for_log(db_path, "Plan: 1 package")
    time.sleep(2)
    gone.stop()
    t.join(120)
    gone.start()
    code, report, _ = result["r"]
    entries = by_name(report)
    assert code == 1
    assert entries[gone.name]["status"] in ("failed", "unreachable")
    assert entries[gone.name]["error"] and "Traceback" not in entries[gone.name]["error"]
    assert entries[other.name]["status"] == "ok"


def test_console_killed_mid_patch_recovers(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    scanned(db_path, [h], host_pool.client_key)
    _slow_dpkg(h, 4)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ui.main",
            "--db",
            str(db_path),
            "patch",
            h.name,
            "--packages",
            "pd-secfix,pd-regular",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ.copy(),
    )
    try:
        _wait_for_log(db_path, "Plan: 2 package")
        time.sleep(1.5)  # inside the install now (dpkg's pre-invoke sleeps)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    h.run("rm -f /etc/dpkg/dpkg.cfg.d/pd-slow")
    time.sleep(6)  # let the orphaned remote apt finish or die

    # the next start marks the unfinished step interrupted and keeps every log line
    code, hist, _ = run_json(db_path, "history", h.name)
    patch = next(j for j in hist["jobs"] if j["kind"] == "patch")
    assert patch["state"] == "interrupted" and "stopped before this host finished" in patch["error"]
    con = sqlite3.connect(db_path)
    logs = [r[0] for r in con.execute("SELECT text FROM job_logs WHERE job_id = ?", [patch["job"]])]
    assert any("Plan: 2 package" in line for line in logs)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    con.close()
    # a rescan shows the truth, and rollback works from the snapshot taken before the install
    code, _, err = run_json(db_path, "scan", h.name)
    assert code == 0, err
    code, report, err = run_json(db_path, "rollback", h.name)
    assert code == 0, (err, report)
    assert h.installed_version("pd-secfix") == "1.0-1"
    assert h.installed_version("pd-regular") == "2.0-1"


def test_verify_without_a_patch_compares_with_the_last_scan(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A host never patched: its pending security updates were already known at the last scan, so a
    verification on its own says nothing was patched (amber) and never calls them new (red)."""
    h = hosts[0]
    scanned(db_path, [h], host_pool.client_key)
    code, report, err = run_json(db_path, "verify", h.name)
    entry = report["hosts"][0]
    assert entry["status"] == "ok", (err, report)
    reasons = entry["verification"]["reasons"]
    assert not any("new security update" in r for r in reasons), reasons
    assert entry["verification"]["verdict"] == "amber", entry["verification"]
    assert (
        "nothing patched since the last scan; 2 security update(s) still pending: pd-reboot, pd-secfix"
    ) in reasons, reasons
    assert code == 0, (err, report)

    # a patch is judged by its change record, until a scan of its own runs: then the scan is the baseline
    code, report, err = run_json(db_path, "patch", h.name, "--packages", "pd-secfix", "--reboot", "never")
    assert code == 0 and report["hosts"][0]["verification"]["verdict"] == "green", (err, report)
    code, report, err = run_json(db_path, "verify", h.name)
    v = report["hosts"][0]["verification"]
    assert code == 0 and v["verdict"] == "green", (err, report)
    assert "all 1 changed package(s) at the intended version" in v["reasons"], v
    code, _, err = run_json(db_path, "scan", h.name)
    assert code == 0, err
    code, report, err = run_json(db_path, "verify", h.name)
    v = report["hosts"][0]["verification"]
    assert code == 0 and v["verdict"] == "amber", (err, report)
    want = "nothing patched since the last scan; 1 security update(s) still pending: pd-reboot"
    assert v["reasons"][0] == want, v


def test_a_verify_that_could_not_run_says_so_and_is_never_green(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    scanned(db_path, [h], host_pool.client_key)
    h.stop_sshd()
    try:
        code, report, err = run_json(db_path, "verify", h.name)
        entry = report["hosts"][0]
        assert code == 1 and entry["status"] == "unreachable" and entry["error"], (err, report)
        assert "verification" not in entry, entry
        r = cli(db_path, "verify", h.name)
        assert r.returncode == 1
        assert r.stdout.splitlines()[0] == f"{h.name}: unreachable", r.stdout
    finally:
        h.start_sshd()
