"""Soak monitoring of a Windows host (issue #20 item 5): the real pywinrm client against the loopback
WS-Management server playing Windows, driven by the CLI. New System/Application errors make a soak
check amber (shown, does not hold); a declared service that stops makes it red, which holds the
promotion."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_credentials import keyring_env  # noqa: F401  (fixture)
from tests.integration.test_windows_cli import PASSWORD, add_host, js, run
from tests.support.wsman_server import FakeWindows, WSManServer, fake_windows

pytestmark = [
    pytest.mark.hosts,
    pytest.mark.filterwarnings(
        r"ignore:Exception ignored in. <socket\.socket .*/keyring/run/bus>:pytest.PytestUnraisableExceptionWarning"  # noqa: E501
    ),
]

KEY = "wua:KB5034129"


def test_windows_soak_checks_see_event_log_errors_and_a_stopped_service(
    tmp_path: Path,
    keyring_env: dict[str, str],  # noqa: F811
) -> None:
    db = tmp_path / "pd.sqlite3"
    with fake_windows(tmp_path, PASSWORD, task_step=0.1) as (server, fake):
        _soak_on_windows(db, keyring_env, server, fake)


def _soak_on_windows(db: Path, env: dict[str, str], server: WSManServer, fake: FakeWindows) -> None:
    add_host(db, env, server, "--ring", "test")
    con = sqlite3.connect(db)  # no face declares services yet (#20 item 1)
    con.execute("UPDATE hosts SET services = ? WHERE name = 'win01'", ['["Spooler"]'])
    con.commit()
    con.close()
    for key in ("soak.urgent", "soak.important", "soak.noncritical"):
        r = run(db, env, "policy", "set", key, "1")
        assert r.returncode == 0, r.stderr
    assert js(run(db, env, "scan", "win01", "--json"))["hosts"][0]["status"] == "ok"
    t0 = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)

    def due(minutes: int) -> tuple[int, dict[str, Any]]:
        r = run(db, env, "run-due", "--now", (t0 + timedelta(minutes=minutes)).isoformat(), "--json")
        return r.returncode, js(r)

    fake.reboot_seconds = 1.0
    code, report = due(0)  # an urgent update: pushed to the test ring at once, where it soaks
    assert code == 0, report
    assert [(p["host"], p["updates"], p["trigger"]) for p in report["patches"]] == [
        ("win01", [KEY], "urgent")
    ]
    assert report["patches"][0]["verification"]["verdict"] == "green", report
    code, report = due(20)
    assert code == 0, report
    assert [(c["host"], c["update"], c["verdict"]) for c in report["soak"]] == [("win01", KEY, "green")]

    fake.add_event("The Print Spooler service terminated unexpectedly.", log="Application")
    code, report = due(40)
    assert code == 0, report  # amber is shown, it does not hold
    check = report["soak"][0]
    assert check["verdict"] == "amber", check
    assert any("The Print Spooler service terminated unexpectedly" in x for x in check["reasons"]), check

    fake.services["Spooler"] = "Stopped"
    code, report = due(70)
    assert code == 1, report
    check = report["soak"][0]
    assert check["verdict"] == "red" and "service Spooler is stopped" in check["reasons"], check
    assert report["promotions"] == []
    held = next(h["reason"] for h in report["held"] if h["update"] == KEY)
    assert held.startswith("soak check red on win01 (test ring)") and "service Spooler is stopped" in held

    rollouts = js(run(db, env, "rollouts", "--json"))["rollouts"]
    soak = next(r for r in rollouts if r["key"] == KEY)["soak"]
    assert soak["state"] == "red"
    assert [c["verdict"] for c in soak["checks"]] == ["green", "amber", "red"]
