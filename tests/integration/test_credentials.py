"""Passwords go to the real keyring and nowhere else: not the database, not the logs."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_scan_cli import cli
from tests.support import keyring_service

pytestmark = [
    pytest.mark.hosts,
    # keyring's SecretService backend leaves D-Bus sockets to the garbage collector
    pytest.mark.filterwarnings(
        r"ignore:Exception ignored in. <socket\.socket .*/keyring/run/bus>"
        ":pytest.PytestUnraisableExceptionWarning"
    ),
]

LOGIN_PASSWORD = "pd-login-pass-456"
SUDO_PASSWORD = "pd-sudo-pass-123"


@pytest.fixture
def keyring_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    with keyring_service.running(tmp_path / "keyring") as service:
        yield {**service.env(), "PYTHON_KEYRING_BACKEND": "keyring.backends.SecretService.Keyring"}


def _run(db_path: Path, env: dict[str, str], *args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    from tests.integration.test_scan_cli import ROOT

    full = {k: v for k, v in {**os.environ, **env}.items() if k != "SSH_AUTH_SOCK"}
    return subprocess.run(
        [sys.executable, "-m", "ui.main", "--db", str(db_path), *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env=full,
    )


def test_passwords_only_in_the_keyring(hosts, host_pool, db_path: Path, keyring_env: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    pw_host, sudo_host = hosts[0], hosts[1]
    r = _run(
        db_path,
        keyring_env,
        "hosts",
        "add",
        "pw",
        "--address",
        pw_host.address,
        "--user",
        "pwuser",
        "--password-stdin",
        stdin=LOGIN_PASSWORD + "\n",
    )
    assert r.returncode == 0, r.stderr
    r = _run(
        db_path,
        keyring_env,
        "hosts",
        "add",
        "sp",
        "--address",
        sudo_host.address,
        "--user",
        "sudopw",
        "--key",
        str(host_pool.client_key),
        "--sudo-password-stdin",
        stdin=SUDO_PASSWORD + "\n",
    )
    assert r.returncode == 0, r.stderr
    # the login password is really used (pwuser has no key) ...
    r = _run(db_path, keyring_env, "scan", "pw", "--json")
    report = json.loads(r.stdout)
    assert r.returncode == 0, (r.stderr, report)
    assert report["hosts"][0]["pending"]
    # pwuser may not sudo and has no stored sudo password: a refresh fails with a sentence
    r = _run(db_path, keyring_env, "scan", "pw", "--refresh", "--json")
    entry = json.loads(r.stdout)["hosts"][0]
    assert r.returncode == 1 and entry["status"] == "failed"
    assert "sudo on pw requires a password" in entry["error"]
    # ... and so is the sudo password: --refresh runs `apt-get update` through sudo
    r = _run(db_path, keyring_env, "scan", "sp", "--refresh", "--json")
    report = json.loads(r.stdout)
    assert r.returncode == 0, (r.stderr, report)
    assert report["hosts"][0]["pending"]

    files = [p for p in db_path.parent.iterdir() if p.name.startswith(db_path.name)]
    log_dir = Path(os.environ["PATCHDESK_LOG_DIR"])
    files += [p for p in log_dir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".log" for p in files), "the CLI wrote no log file to check"
    for path in files:
        data = path.read_bytes()
        assert LOGIN_PASSWORD.encode() not in data, path
        assert SUDO_PASSWORD.encode() not in data, path
    # what the database does hold: references that resolve in the keyring
    listed = json.loads(_run(db_path, keyring_env, "hosts", "list", "--json").stdout)["hosts"]
    assert {h["name"] for h in listed} == {"pw", "sp"}


def test_no_keyring_refuses_to_store_and_keeps_nothing(db_path: Path) -> None:
    # The autouse fixture selects keyring's fail backend: saving must be refused, plainly.
    r = cli(db_path, "hosts", "add", "x", "--address", "127.0.2.1", "--password-stdin", env={})
    assert r.returncode == 1
    assert "keyring" in r.stderr.lower() and "Traceback" not in r.stderr
    assert json.loads(cli(db_path, "hosts", "list", "--json").stdout)["hosts"] == []
