"""Soak monitoring on real Debian test hosts (issue #20 item 5): while an update soaks in the test ring
the scheduler re-checks the host that got it at the soak interval; a check that could not see and a
check that turned red both hold the promotion, are recorded with their time, verdict and reasons,
and show in `rollouts --json` and run-due's report (exit 1)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_policy_cli import add, run_json
from tests.integration.test_scan_cli import cli

pytestmark = pytest.mark.hosts

KEY = "apt:pd-regular=2.1-1"


def _soak_of(db_path: Path) -> dict[str, Any]:
    code, data, err = run_json(db_path, "rollouts")
    assert code == 0, err
    return next(r for r in data["rollouts"] if r["key"] == KEY)


def _checks(report: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(c["host"], c["verdict"]) for c in report["soak"] if c["update"] == KEY]


def _held(report: dict[str, Any]) -> str:
    return next(h["reason"] for h in report["held"] if h["update"] == KEY)


def test_soak_check_that_turns_red_blocks_the_promotion(
    hosts: list[Any], host_pool: Any, db_path: Path
) -> None:
    tested, prod = hosts[0], hosts[1]
    add(db_path, tested, host_pool.client_key, "test")
    add(db_path, prod, host_pool.client_key, "production")
    code, _, err = run_json(db_path, "scan", tested.name, prod.name)
    assert code == 0, err
    for key, value in (
        ("soak.noncritical", "0.5"),
        ("soak.important", "0.5"),
        ("soak_check_interval_minutes", "10"),
    ):
        r = cli(db_path, "policy", "set", key, value)
        assert r.returncode == 0, r.stderr
    # the test ring gets pd-regular by hand; the scheduler takes it from there
    code, patched, err = run_json(db_path, "patch", tested.name, "--packages", "pd-regular")
    assert code == 0, (err, patched)
    assert tested.installed_version("pd-regular") == "2.1-1"

    t0 = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)

    def due(minutes: int) -> tuple[int, dict[str, Any]]:
        code, report, err = run_json(
            db_path, "run-due", "--now", (t0 + timedelta(minutes=minutes)).isoformat()
        )
        assert report.get("locked_by") is None, (err, report)
        return code, report

    code, report = due(0)  # the manual patch puts it into "testing" in the test ring
    assert code == 0, report
    assert _soak_of(db_path)["ring"] == "test" and _soak_of(db_path)["soak"]["state"] == "none"

    code, report = due(10)  # the first soak check: green, still soaking
    assert code == 0, report
    assert _checks(report) == [(tested.name, "green")]
    assert "soaking in the test ring" in _held(report)

    tested.stop_sshd()  # the next check cannot see the host: unknown, never healthy
    try:
        code, report = due(15)
        assert _checks(report) == []  # not due: checked 5 min ago, interval 10 min
        code, report = due(21)
    finally:
        tested.start_sshd()
    assert code == 1, report
    assert _checks(report) == [(tested.name, "unknown")]
    assert report["soak"][0]["reasons"][0].startswith("could not check: ")
    assert _soak_of(db_path)["soak"]["state"] == "unknown"

    # someone puts the old version back: the check sees it and turns red
    r = tested.run("apt-get install -y --allow-downgrades pd-regular=2.0-1")
    assert r.returncode == 0, r.stderr
    code, report = due(32)
    assert code == 1, report
    assert _checks(report) == [(tested.name, "red")]
    assert any("pd-regular is at 2.0-1, expected 2.1-1" in x for x in report["soak"][0]["reasons"])
    assert _held(report).startswith(f"soak check red on {tested.name} (test ring)")

    # put right again and the soak time over: green now, but the red check still holds it
    r = tested.run("apt-get install -y pd-regular=2.1-1")
    assert r.returncode == 0, r.stderr
    code, report = due(45)
    assert _checks(report) == [(tested.name, "green")]
    assert report["promotions"] == []
    assert _held(report).startswith(f"soak check red on {tested.name} (test ring)")
    assert prod.installed_version("pd-regular") == "2.0-1"

    soak = _soak_of(db_path)["soak"]
    assert soak["state"] == "red"
    assert [c["verdict"] for c in soak["checks"]] == ["green", "unknown", "red", "green"]
    assert soak["checks"][2]["at"] == (t0 + timedelta(minutes=32)).isoformat()
    con = sqlite3.connect(db_path)
    try:
        blocked = con.execute(
            "SELECT reason FROM schedule_events WHERE action = 'blocked' AND update_key = ? ORDER BY id",
            [KEY],
        ).fetchall()
    finally:
        con.close()
    assert [b[0].split(":")[0] for b in blocked] == [
        "soak check unknown in the test ring",
        "soak check red in the test ring",
    ]

    r = cli(db_path, "rollouts")
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith(KEY))
    assert " red " in line


def test_green_soak_checks_let_the_update_through(hosts: list[Any], host_pool: Any, db_path: Path) -> None:
    tested, prod = hosts[0], hosts[1]
    add(db_path, tested, host_pool.client_key, "test")
    add(db_path, prod, host_pool.client_key, "production")
    code, _, err = run_json(db_path, "scan", tested.name, prod.name)
    assert code == 0, err
    for key in ("soak.noncritical", "soak.important"):
        r = cli(db_path, "policy", "set", key, "0.5")
        assert r.returncode == 0, r.stderr
    code, _, err = run_json(db_path, "patch", tested.name, "--packages", "pd-regular")
    assert code == 0, err
    t0 = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    for minutes in (0, 20):
        code, report, err = run_json(
            db_path, "run-due", "--now", (t0 + timedelta(minutes=minutes)).isoformat()
        )
        assert code == 0, (err, report)
    # soak over, the last check (15 min interval: the one at 20 min is 15 min old at 35) runs first
    code, report, err = run_json(db_path, "run-due", "--now", (t0 + timedelta(minutes=35)).isoformat())
    assert code == 0, (err, report)
    assert _checks(report) == [(tested.name, "green")]
    assert [(p["update"], p["from"], p["to"]) for p in report["promotions"]] == [(KEY, "test", "pilot")]
    assert [c["verdict"] for c in _soak_of(db_path)["soak"]["checks"]] == []  # a new ring: a new soak
