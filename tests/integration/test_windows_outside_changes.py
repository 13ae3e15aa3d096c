"""Changes made outside Patchdesk on a Windows host (the loopback WS-Management server playing
Windows, the real pywinrm client, the CLI): an update installed by hand shows in the Windows Update
history and a program in the Uninstall keys; Patchdesk's own patch does not count; an unreadable
history is unknown."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.integration.test_credentials import keyring_env  # noqa: F401  (fixture)
from tests.integration.test_windows_cli import add_host, js, run, win  # noqa: F401  (fixture)
from tests.support.wsman_server import FakeWindows, WSManServer

pytestmark = [
    pytest.mark.hosts,
    pytest.mark.filterwarnings(
        r"ignore:Exception ignored in. <socket\.socket .*/keyring/run/bus>:pytest.PytestUnraisableExceptionWarning"  # noqa: E501
    ),
]


def _entry(kb: str, when: datetime, op: int = 1) -> dict[str, object]:
    return {
        "Operation": op,
        "ResultCode": 2,
        "Date": when.isoformat().replace("+00:00", "Z"),
        "Title": f"2024-01 Cumulative Update for Windows Server 2022 ({kb})",
        "UpdateID": "0b9a6d3e-4c2f-4e8a-9a51-3f1e2d4c5b6a",
    }


def test_hand_installed_update_and_program_are_outside(
    win: tuple[WSManServer, FakeWindows],  # noqa: F811
    tmp_path: Path,
    keyring_env: dict[str, str],  # noqa: F811
) -> None:
    server, fake = win
    db = tmp_path / "pd.sqlite3"
    add_host(db, keyring_env, server)
    fake.hotfix_history = [_entry("KB5000001", datetime(2023, 1, 1, tzinfo=UTC))]  # before it was added
    assert js(run(db, keyring_env, "scan", "win01", "--json"))["hosts"][0]["status"] == "ok"

    fake.hotfix_history.append(_entry("KB5099999", datetime.now(UTC)))  # after the first scan
    assert fake.programs is not None
    fake.programs.append({"Name": "PuTTY release 0.80 (64-bit)", "Version": "0.80.0.0"})
    assert js(run(db, keyring_env, "scan", "win01", "--json"))["hosts"][0]["status"] == "ok"

    found = js(run(db, keyring_env, "changes", "win01", "--outside-only", "--json"))
    assert found["history"]["status"] == "ok", found
    got = {(c["manager"], c["name"], c["from"], c["to"]) for c in found["changes"]}
    assert got == {
        ("wua", "KB5099999", None, "installed"),
        ("programs", "PuTTY release 0.80 (64-bit)", None, "0.80.0.0"),
    }


def test_unreadable_windows_history_is_unknown(
    win: tuple[WSManServer, FakeWindows],  # noqa: F811
    tmp_path: Path,
    keyring_env: dict[str, str],  # noqa: F811
) -> None:
    server, fake = win
    db = tmp_path / "pd.sqlite3"
    add_host(db, keyring_env, server)
    fake.op_windows_history = lambda call, p: _refused()  # type: ignore[method-assign]
    assert js(run(db, keyring_env, "scan", "win01", "--json"))["hosts"][0]["status"] == "ok"
    r = run(db, keyring_env, "changes", "win01", "--json")
    assert r.returncode == 1
    assert js(r)["history"]["status"] == "unknown"


def _refused():  # type: ignore[no-untyped-def]
    from tests.support.wsman_server import Reply, clixml_error

    return Reply(stderr=clixml_error("Access is denied. (Exception from HRESULT: 0x80070005)"), exit_code=1)
