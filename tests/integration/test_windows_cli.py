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

from tests.integration.test_credentials import keyring_env  # noqa: F401  (fixture)
from tests.integration.test_scan_cli import ROOT
from tests.support.wsman_server import FakeWindows, WSManServer, start_fake_windows

pytestmark = [
    pytest.mark.hosts,
    pytest.mark.filterwarnings(
        r"ignore:Exception ignored in. <socket\.socket .*/keyring/run/bus>:pytest.PytestUnraisableExceptionWarning"
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


def test_windows_scan_patch_verify_rollback_from_the_cli(
    win: tuple[WSManServer, FakeWindows],
    tmp_path: Path,
    keyring_env: dict[str, str],  # noqa: F811
) -> None:
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

    r = run(db, keyring_env, "patch", "win01", "--packages", "KB5034129", "--reboot", "never", "--json")
    report = js(r)
    entry = report["hosts"][0]
    assert r.returncode == 0, (r.stderr, entry)
    assert [c["name"] for c in entry["changes"]] == ["KB5034129"], _dump_logs(db)
    assert entry["verification"]["verdict"] in ("green", "amber"), entry["verification"]

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
    win: tuple[WSManServer, FakeWindows], tmp_path: Path, keyring_env: dict[str, str]
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
    win: tuple[WSManServer, FakeWindows], tmp_path: Path, keyring_env: dict[str, str]
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
