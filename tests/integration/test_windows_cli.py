"""A Windows host through the whole console path: the real pywinrm client against the loopback
WS-Management server (real protocol, real TLS), driven by the CLI in its own process, with the
password in a real Secret Service."""

from __future__ import annotations

import datetime as dt
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
from tests.support.wsman_server import (
    DATA,
    FakeWindows,
    Reply,
    WSManServer,
    crlf,
    fake_windows,
    start_fake_windows,
)

pytestmark = [
    pytest.mark.hosts,
    pytest.mark.filterwarnings(
        r"ignore:Exception ignored in. <socket\.socket .*/keyring/run/bus>:pytest.PytestUnraisableExceptionWarning"  # noqa: E501
    ),
]

PASSWORD = "Win-Cli-Pa55-word"


@pytest.fixture
def win(tmp_path: Path) -> Iterator[tuple[WSManServer, FakeWindows]]:
    with fake_windows(tmp_path, PASSWORD, task_step=0.1) as (server, fake):
        yield server, fake


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
        "--ca-file",
        str(server.ca_path),
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert r.returncode == 0, r.stderr
    server.auth = ("ntlm",)  # the production path: Patchdesk's default authentication, no Basic

    report = js(run(db, keyring_env, "scan", "win01", "--json"))
    entry = report["hosts"][0]
    assert entry["status"] == "ok", entry
    assert entry["os"]["id"] == "windows"
    pending = {p["name"]: p for p in entry["pending"]}
    assert "KB5034129" in pending and pending["KB5034129"]["manager"] == "wua"
    assert pending["KB5034129"]["security"] is True

    assert server.auth_used and set(server.auth_used) == {"ntlm"}  # over HTTPS: TLS protects it
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


WSUS_NAME_NOT_RESOLVED = -2145107924  # 0x8024402C


def _scan_entry(db: Path, env: dict[str, str]) -> dict[str, Any]:
    report = js(run(db, env, "scan", "win01", "--json"))
    return report["hosts"][0]  # type: ignore[no-any-return]


def _compliance(db: Path, env: dict[str, str]) -> str:
    hosts = js(run(db, env, "hosts", "list", "--json"))
    listed = hosts["hosts"] if isinstance(hosts, dict) else hosts
    return next(h["compliance"] for h in listed if h["name"] == "win01")  # type: ignore[no-any-return]


def _with_winget(fake: FakeWindows) -> None:
    """The facts say winget is there (the fixture's host has only Chocolatey)."""
    facts = json.loads((DATA / "facts_server2022.json").read_text(encoding="utf-8"))
    facts["WinGet"] = True
    fake.on(
        lambda c: c.script.startswith("# patchdesk:windows-facts"),
        Reply(stdout=crlf(json.dumps(facts) + "\n")),
    )
    fake.winget_available = True


def _nothing_from_winget() -> dict[str, Any]:
    """winget's answer on a host with nothing to update, its source refreshed an hour ago."""
    hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    source = {"Name": "winget", "Type": "Microsoft.PreIndexed.Package", "Updated": hour_ago.isoformat()}
    return {"packages": [], "sources": [source]}


def test_windows_scan_carries_fresh_index_evidence(
    win: tuple[WSManServer, FakeWindows],
    tmp_path: Path,
    keyring_env: dict[str, str],  # noqa: F811
) -> None:
    """#17 item 1: Windows Update searched online just now, every Chocolatey source answered and the
    winget source is fresh after its refresh: the scan is complete, dated, and nothing pending
    counts as compliant."""
    server, fake = win
    _with_winget(fake)
    fake.pending = []
    fake.choco_outdated = b""
    fake.winget_result = _nothing_from_winget()
    db = tmp_path / "pd.sqlite3"
    add_host(db, keyring_env, server)
    entry = _scan_entry(db, keyring_env)
    assert entry["status"] == "ok" and entry["pending"] == [], entry
    assert entry["complete"] is True and entry["notes"] == [], entry
    assert entry["index_updated"] is not None
    assert _compliance(db, keyring_env) == "compliant"


@pytest.mark.parametrize(
    "broken",
    [
        "wua_search_failed",
        "wua_succeeded_with_errors",
        "choco_unreachable_source",
        "choco_missing",
        "winget_stale_unrefreshable",
        "winget_truncated",
        "winget_module_missing",
    ],
)
def test_windows_could_not_see_is_never_compliant(
    broken: str,
    win: tuple[WSManServer, FakeWindows],
    tmp_path: Path,
    keyring_env: dict[str, str],  # noqa: F811
) -> None:
    """#17 item 7 / #18 item 1: on a host with nothing pending, each broken answer -- a failed search
    (WSUS 0x8024402C), a search with errors, an unreachable Chocolatey source, no choco.exe, a winget
    source that cannot be refreshed, a truncated winget answer, no winget module -- ends as a failed
    or incomplete scan and the host's compliance is unknown, never "0 pending, compliant"."""
    server, fake = win
    _with_winget(fake)
    fake.pending = []
    fake.choco_outdated = b""
    fake.winget_result = {"pack": "trunc"} if broken == "winget_truncated" else _nothing_from_winget()
    if broken == "wua_search_failed":
        fake.wua_search_error = ("software", WSUS_NAME_NOT_RESOLVED)
    elif broken == "wua_succeeded_with_errors":
        fake.wua_result_codes = {"software": 3}
    elif broken == "choco_unreachable_source":
        fake.choco_unreachable = frozenset({"chocolatey"})
    elif broken == "choco_missing":
        fake.choco_installed = False
    elif broken == "winget_stale_unrefreshable":
        fake.winget_result = None
        fake.winget_source_updated = "2024-01-01T06:00:00Z"
        fake.winget_refresh_exit = -1978335217
    elif broken == "winget_module_missing":
        fake.winget_available = False
    db = tmp_path / "pd.sqlite3"
    add_host(db, keyring_env, server)
    entry = _scan_entry(db, keyring_env)
    if broken == "wua_search_failed":
        assert entry["status"] == "failed", entry
        assert "0x8024402C" in (entry["error"] or ""), entry
    else:
        assert entry["status"] == "ok" and entry["complete"] is False, entry
        assert any(WHY[broken] in note for note in entry["notes"]), entry
    assert _compliance(db, keyring_env) == "unknown"


#: what the scan's notes say for each broken answer
WHY = {
    "wua_succeeded_with_errors": "search succeeded with errors",
    "choco_unreachable_source": "Chocolatey source chocolatey did not answer on win01",
    "choco_missing": "choco outdated did not run",
    "winget_stale_unrefreshable": "winget source winget could not be refreshed on win01",
    "winget_truncated": "The winget check on win01 returned no readable result",
    "winget_module_missing": "Microsoft.WinGet.Client",
}


def test_default_ntlm_over_http_encrypts_every_message_end_to_end(
    tmp_path: Path,
    keyring_env: dict[str, str],  # noqa: F811
) -> None:
    """`hosts add --winrm-http` with the default authentication: NTLM with message encryption, the
    configuration most Windows hosts answer out of the box."""
    server, fake = start_fake_windows(tls_dir=None, password=PASSWORD, auth=("ntlm",))
    fake.task_step = 0.1
    try:
        db = tmp_path / "pd.sqlite3"
        r = run(
            db, keyring_env, "hosts", "add", "win01", "--address", "127.0.0.1", "--port", str(server.port),
            "--transport", "winrm", "--winrm-http", "--user", "Administrator", "--password-stdin",
            stdin=PASSWORD + "\n",
        )  # fmt: skip
        assert r.returncode == 0, r.stderr
        entry = js(run(db, keyring_env, "scan", "win01", "--json"))["hosts"][0]
        assert entry["status"] == "ok", entry
        assert "KB5034129" in {p["name"] for p in entry["pending"]}
        assert server.auth_used and set(server.auth_used) == {"ntlm+encrypted"}
        wire = b"".join(server.wire)
        assert b"Encrypted Boundary" in wire
        for plain in (PASSWORD.encode(), b"s:Envelope", b"powershell"):
            assert plain not in wire
    finally:
        server.stop()
