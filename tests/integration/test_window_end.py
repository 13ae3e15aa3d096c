"""A maintenance window's end is a hard edge, on real Debian test hosts (issue #20 item 4).

The scheduler's pass runs at a simulated time a few seconds before the window's cut-off (its end minus
the estimate and the rollback reserve) with one worker: the first host starts and finishes, the second
one's turn comes after the cut-off, so it is not started but deferred to the next window, with the
reason in the report, the scheduler's log and the job; the next window's pass plans it again.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from app.jobs import scheduler
from app.jobs.runner import JobRunner
from tests.integration.test_policy_cli import add, run_json
from tests.integration.test_scan_cli import cli

pytestmark = pytest.mark.hosts

#: real seconds between the pass and the cut-off: less than the first host's patch takes (its
#: pre-patch command sleeps for ``SLOW``)
GAP = 3
SLOW = 8


def _window(db_path: Path, start: datetime) -> None:
    r = cli(
        db_path,
        "windows",
        "add",
        "lab-hourly",
        "--rrule",
        f"FREQ=DAILY;BYHOUR={start.hour};BYMINUTE=0",
        "--duration",
        "60",
        "--tz",
        "UTC",
        "--groups",
        "lab",
        "--start",
        start.replace(tzinfo=None, day=1, month=1).isoformat(),
    )
    assert r.returncode == 0, r.stderr


def test_window_end_starts_no_host_after_the_cutoff_and_defers_the_rest(
    hosts: list[Any], host_pool: Any, db_path: Path
) -> None:
    first, second = hosts[0], hosts[1]
    for h in (first, second):
        add(db_path, h, host_pool.client_key, "test")
    code, _, err = run_json(db_path, "scan", first.name, second.name)
    assert code == 0, err
    con = sqlite3.connect(db_path)  # no face sets a pre-patch command yet (#20 item 1)
    con.execute("UPDATE hosts SET pre_command = ? WHERE name = ?", [f"sleep {SLOW}", first.name])
    con.commit()
    con.close()
    # pd-reboot would restart the host; not what this test is about
    code, _, err = run_json(db_path, "decline", "pd-reboot")
    assert code == 0, err
    start = (datetime.now(UTC) + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    _window(db_path, start)
    end = start + timedelta(minutes=60)
    # no history: 10 min estimate + 10 min reserve, so the cut-off is 20 min before the end
    now = end - timedelta(minutes=20, seconds=GAP)

    runner = JobRunner(db_path, concurrency=1, keep_connections=0)
    try:
        report = scheduler.run_due(db_path, now, runner=runner, owner="test")
    finally:
        runner.close()
    assert report.locked_by is None
    assert [p["host"] for p in report.patches] == [first.name], report.as_json()
    assert report.patches[0]["status"] == "ok", report.patches[0]
    assert first.installed_version("pd-regular") == "2.1-1"

    assert [d["host"] for d in report.deferred] == [second.name], report.as_json()
    deferred = report.deferred[0]
    reason = deferred["reason"]
    assert reason.startswith("not started: window 'lab-hourly' ends at ")
    assert f"no start was possible after {(end - timedelta(minutes=20)).strftime('%H:%M')}" in reason
    assert f"deferred to the next window at {(start + timedelta(days=1)).isoformat()}" in reason
    assert deferred["job"] == report.patches[0]["job"]
    assert second.installed_version("pd-regular") == "2.0-1"  # never touched
    assert report.ok  # a deferral is not a failure

    con = sqlite3.connect(db_path)
    try:
        logged = con.execute(
            "SELECT action, reason, job_id FROM schedule_events WHERE host_name = ? AND action = 'deferred'",
            [second.name],
        ).fetchall()
        step = con.execute(
            "SELECT jh.state, jh.error, jh.started_at FROM job_hosts jh JOIN hosts h ON h.id = jh.host_id "
            "WHERE jh.job_id = ? AND h.name = ?",
            [deferred["job"], second.name],
        ).fetchone()
        log = [
            r[0]
            for r in con.execute(
                "SELECT text FROM job_logs l JOIN hosts h ON h.id = l.host_id "
                "WHERE l.job_id = ? AND h.name = ?",
                [deferred["job"], second.name],
            )
        ]
    finally:
        con.close()
    assert logged == [("deferred", reason, deferred["job"])]
    assert step == ("skipped", reason, None)  # never started
    assert log == [reason]

    # the CLI says it too
    code, hist, err = run_json(db_path, "history", second.name)
    assert code == 0, err
    assert any(j.get("state") == "skipped" and j.get("error") == reason for j in hist["jobs"]), hist

    # the next window's pass picks it up (a dry run says what it would start)
    later = scheduler.run_due(db_path, start + timedelta(days=1, minutes=5), dry_run=True)
    assert second.name in [p["host"] for p in later.patches], later.as_json()
    assert later.deferred == []
