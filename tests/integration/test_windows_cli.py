"""A Windows host through the whole console path: the real pywinrm client against the loopback
WS-Management server (real protocol, real TLS), driven by the CLI in its own process, with the
password in a real Secret Service."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.platforms.windows.scripts import script_params
from tests.integration.test_credentials import keyring_env  # noqa: F401  (fixture)
from tests.integration.test_scan_cli import ROOT
from tests.support.wsman_server import FakeWindows, WSManServer, start_fake_windows

pytestmark = [
    pytest.mark.hosts,
    pytest.mark.filterwarnings(
        r"ignore:Exception ignored in. <socket\.socket .*/keyring/run/bus>:pytest.PytestUnraisableExceptionWarning"  # noqa: E501
    ),
]

PASSWORD = "Win-Cli-Pa55-word"


@pytest.fixture
def win(tmp_path: Path) -> Iterator[tuple[WSManServer, FakeWindows]]:
    server, fake = start_fake_windows(tls_dir=tmp_path / "pki", password=PASSWORD)
    fake.task_step = 0.1
    yield server, fake
    server.stop()


def run(
    db: Path, env: dict[str, str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ui.main", "--db", str(db), *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, **env},
    )


def js(r: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    try:
        return json.loads(r.stdout)  # type: ignore[no-any-return]
    except json.JSONDecodeError:
        raise AssertionError(f"exit {r.returncode}: {r.stdout!r} {r.stderr!r}") from None


def add_host(db: Path, env: dict[str, str], server: WSManServer, *extra: str) -> None:
    r = run(
        db,
        env,
        "hosts",
        "add",
        "win01",
        "--address",
        "127.0.0.1",
        "--port",
        str(server.port),
        "--transport",
        "winrm",
        "--user",
        "Administrator",
        "--winrm-auth",
        "basic",
        "--ca-file",
        str(server.ca_path),
        "--password-stdin",
        *extra,
        stdin=PASSWORD + "\n",
    )
    assert r.returncode == 0, r.stderr


def test_windows_scan_patch_verify_rollback_from_the_cli(
    win: tuple[WSManServer, FakeWindows],
    tmp_path: Path,
    keyring_env: dict[str, str],  # noqa: F811
) -> None:
    """The acceptance path: scan → install via the SYSTEM task, surviving a dropped connection and a
    restart of the host while the task runs → verify → rollback."""
    server, fake = win
    db = tmp_path / "pd.sqlite3"
    r = run(
        db,
        keyring_env,
        "hosts",
        "add",
        "win01",
        "--address",
        "127.0.0.1",
        "--port",
        str(server.port),
        "--transport",
        "winrm",
        "--user",
        "Administrator",
        "--winrm-auth",
        "basic",
        "--ca-file",
        str(server.ca_path),
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert r.returncode == 0, r.stderr

    report = js(run(db, keyring_env, "scan", "win01", "--json"))
    entry = report["hosts"][0]
    assert entry["status"] == "ok", entry
    assert entry["os"]["id"] == "windows"
    pending = {p["name"]: p for p in entry["pending"]}
    assert "KB5034129" in pending and pending["KB5034129"]["manager"] == "wua"
    assert pending["KB5034129"]["security"] is True

    fake.drop_during_install = 3  # the next polls of the task get no answer
    fake.reboot_during_install = True  # and the host restarts in the middle of the installation
    fake.reboot_seconds = 1.0
    r = run(db, keyring_env, "patch", "win01", "--packages", "KB5034129", "--reboot", "never", "--json")
    report = js(r)
    entry = report["hosts"][0]
    logs = _dump_logs(db)
    assert r.returncode == 0, (r.stderr, entry, logs)
    assert [(c["name"], c["kb"], c["to"]) for c in entry["changes"]] == [
        ("KB5034129", "KB5034129", "installed")
    ], logs
    assert fake.reboots == 1 and "KB5034129" in fake.installed_kbs
    assert "Lost contact with win01" in logs and "answers again" in logs, logs
    assert "restarted while the Windows Update installation was running" in logs, logs
    assert "result: KB5034129 ResultCode 2 (succeeded), HRESULT 0x00000000" in logs, logs
    # verified by rescan and the Windows health probe: no event-log errors, so green, and no
    # "no systemd" notes on a Windows host
    v = entry["verification"]
    assert v["verdict"] == "green", v
    assert not any("systemd" in x or "journal" in x for x in v["reasons"]), v
    assert any(s.startswith("# patchdesk:windows-health") for s in server.scripts("windows-health"))

    r = run(db, keyring_env, "rollback", "win01", "--json")
    report = js(r)
    assert r.returncode == 0, (r.stderr, report)
    restored = report["hosts"][0]["restored"]
    assert [(c["name"], c["to"]) for c in restored] == [("KB5034129", None)], _dump_logs(db)
    assert "KB5034129" not in fake.installed_kbs
    # the password went to the keyring only
    for p in [db, *db.parent.glob(db.name + "*")]:
        assert PASSWORD.encode() not in p.read_bytes()


def test_wrong_password_is_a_sentence(
    win: tuple[WSManServer, FakeWindows],
    tmp_path: Path,
    keyring_env: dict[str, str],  # noqa: F811
) -> None:
    server, _ = win
    db = tmp_path / "pd.sqlite3"
    r = run(
        db,
        keyring_env,
        "hosts",
        "add",
        "win01",
        "--address",
        "127.0.0.1",
        "--port",
        str(server.port),
        "--transport",
        "winrm",
        "--user",
        "Administrator",
        "--winrm-auth",
        "basic",
        "--ca-file",
        str(server.ca_path),
        "--password-stdin",
        stdin="wrong\n",
    )
    assert r.returncode == 0
    r = run(db, keyring_env, "scan", "win01", "--json")
    entry = js(r)["hosts"][0]
    assert r.returncode == 1 and entry["status"] == "failed"
    assert "refused the credentials" in entry["error"] and "wrong" not in entry["error"]


def test_untrusted_certificate_is_a_sentence(
    win: tuple[WSManServer, FakeWindows],
    tmp_path: Path,
    keyring_env: dict[str, str],  # noqa: F811
) -> None:
    server, _ = win
    db = tmp_path / "pd.sqlite3"
    r = run(
        db,
        keyring_env,
        "hosts",
        "add",
        "win01",
        "--address",
        "127.0.0.1",
        "--port",
        str(server.port),
        "--transport",
        "winrm",
        "--user",
        "Administrator",
        "--winrm-auth",
        "basic",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert r.returncode == 0
    entry = js(run(db, keyring_env, "scan", "win01", "--json"))["hosts"][0]
    assert entry["status"] != "ok" and "certificate" in entry["error"].lower()


def _dump_logs(db: Path) -> str:
    import sqlite3

    con = sqlite3.connect(db)
    rows = con.execute("SELECT job_id, ts, level, text FROM job_logs ORDER BY id").fetchall()
    con.close()
    return "\n".join(f"{j} {ts[11:23]} {lv} {t}" for j, ts, lv, t in rows)


def test_chocolatey_patch_with_reboot_then_rollback(
    win: tuple[WSManServer, FakeWindows],
    tmp_path: Path,
    keyring_env: dict[str, str],  # noqa: F811
) -> None:
    """A third-party package goes to Chocolatey (not Windows Update), the host is restarted and waited
    for, an event-log error during the change turns the verdict amber, and rollback puts it back."""
    server, fake = win
    db = tmp_path / "pd.sqlite3"
    add_host(db, keyring_env, server)
    entry = js(run(db, keyring_env, "scan", "win01", "--json"))["hosts"][0]
    pending = {p["name"]: p for p in entry["pending"]}
    assert pending["git"]["manager"] == "choco", pending

    upgrade = fake.op_choco_upgrade

    def upgrade_and_fail_a_service(call: Any, p: dict[str, Any]) -> Any:
        fake.add_event("The Print Spooler service terminated unexpectedly.")
        return upgrade(call, p)

    fake.op_choco_upgrade = upgrade_and_fail_a_service  # type: ignore[method-assign]
    fake.reboot_seconds = 1.0
    r = run(db, keyring_env, "patch", "win01", "--packages", "git", "--reboot", "always", "--json")
    entry = js(r)["hosts"][0]
    logs = _dump_logs(db)
    assert r.returncode == 0, (r.stderr, entry, logs)
    assert [(c["manager"], c["name"], c["from"], c["to"]) for c in entry["changes"]] == [
        ("choco", "git", "2.43.0", "2.44.0")
    ], logs
    assert entry["rebooted"] is True and fake.reboots == 1, logs
    assert server.scripts("restart"), logs
    assert "KB5034129" not in fake.installed_kbs  # Windows Update was not asked to install anything
    v = entry["verification"]
    assert v["verdict"] == "amber", v
    assert any("new error(s) in the System/Application event logs" in x for x in v["reasons"]), v

    fake.op_choco_upgrade = upgrade  # type: ignore[method-assign]
    r = run(db, keyring_env, "rollback", "win01", "--json")
    report = js(r)
    assert r.returncode == 0, (r.stderr, report, _dump_logs(db))
    restored = report["hosts"][0]["restored"]
    assert [(c["manager"], c["name"], c["to"]) for c in restored] == [("choco", "git", "2.43.0")]
    assert b"git|2.43.0" in fake.choco_list
    downgrade = script_params(server.scripts("choco-upgrade")[-1])[0]
    assert downgrade == {"id": "git", "version": "2.43.0", "downgrade": True}
