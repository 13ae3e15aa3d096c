"""Storing a host's package history: what a job made is authorized, the rest is outside; repeated reads
add nothing; an unreadable history is unknown; an older database gains the tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.domain.models import Host, JobKind, PackageChange, StepState
from app.domain.outside_changes import HistoryEntry, HistoryRead, HistoryStatus, JobChange, authorized_by
from app.services.outside_changes import (
    change_log_csv,
    outside_changes_for_host,
    outside_changes_status,
)
from db import changelog
from db import changes as db_changes
from db import hosts as db_hosts
from db import jobs as db_jobs
from db import outside_changes as db_outside
from db.database import open_database, schema_version
from db.schema import MIGRATIONS, SCHEMA_VERSION


def _host(db) -> Host:  # type: ignore[no-untyped-def]
    host = db_hosts.add_host(db, Host(name="web1", address="127.0.0.1", port=22))
    db.execute("UPDATE hosts SET created_at = ?", ["2025-06-01T00:00:00+00:00"])
    return host


def _entry(name: str, before: str | None, after: str | None, when: datetime) -> HistoryEntry:
    return HistoryEntry("apt", "upgrade", name, when, before, after, "all")


def test_job_change_authorizes_the_entry_and_the_rest_is_outside(db) -> None:  # type: ignore[no-untyped-def]
    host = _host(db)
    assert host.id is not None
    job = db_jobs.create_job(db, JobKind.PATCH, [host])
    db_jobs.set_host_state(db, job, host.id, StepState.RUNNING, None, "2025-06-24T12:00:00+00:00")
    db_changes.record_changes(db, job, host.id, [PackageChange("apt", "pd-secfix", "1.0-1", "1.0-2", "all")])
    db_jobs.set_host_state(db, job, host.id, StepState.SUCCEEDED, None, "2025-06-24T12:05:00+00:00")
    at = datetime(2025, 6, 24, 12, 1, tzinfo=UTC)
    read = HistoryRead(
        "apt",
        HistoryStatus.OK,
        (
            _entry("pd-old", "0.1", "0.2", datetime(2025, 5, 1, tzinfo=UTC)),  # before the host was added
            _entry("pd-secfix", "1.0-1", "1.0-2", at),
            _entry("pd-regular", "2.0-1", "2.1-1", at + timedelta(hours=3)),
        ),
    )
    new = db_outside.record_history(db, None, host.id, read, now=at + timedelta(hours=4))
    assert [(r.name, r.from_version, r.to_version) for r in new] == [("pd-regular", "2.0-1", "2.1-1")]
    rows = db_outside.history(db, host.id)
    assert [(r.name, r.authorized_job) for r in rows] == [("pd-secfix", job), ("pd-regular", None)]

    # the same read again: nothing new, nothing alerted twice
    assert db_outside.record_history(db, None, host.id, read, now=at + timedelta(hours=5)) == []
    assert len(db_outside.history(db, host.id)) == 2
    assert outside_changes_for_host(db, host) == [
        {"name": "pd-regular", "from": "2.0-1", "to": "2.1-1", "when": "2025-06-24T15:01:00+00:00"}
    ]
    assert outside_changes_status(db, host) == "ok"

    csv_text = change_log_csv(changelog.change_log(db), db_outside.history(db, outside_only=True))
    lines = csv_text.splitlines()
    assert lines[0].endswith(",authorized")
    assert lines[1].endswith(f",job {job}") and ",pd-secfix," in lines[1]
    assert lines[2].endswith(",outside") and ",pd-regular,upgrade,2.0-1,2.1-1," in lines[2]


def test_unreadable_history_is_unknown_and_keeps_what_was_read(db) -> None:  # type: ignore[no-untyped-def]
    host = _host(db)
    assert host.id is not None
    assert outside_changes_status(db, host) == "never"
    when = datetime(2025, 6, 24, tzinfo=UTC)
    db_outside.record_history(
        db, None, host.id, HistoryRead("apt", HistoryStatus.OK, (_entry("a", "1", "2", when),))
    )
    db_outside.record_history(
        db, None, host.id, HistoryRead.unknown("apt", "/var/log/dpkg.log could not be read")
    )
    st = db_outside.state(db, host.id)
    assert st is not None and st.status == HistoryStatus.UNKNOWN and "dpkg.log" in st.note
    assert st.cursor == when  # the next good read starts where the last good one ended
    assert outside_changes_status(db, host) == "unknown"
    assert len(outside_changes_for_host(db, host)) == 1


def test_read_that_does_not_reach_back_is_partial(db) -> None:  # type: ignore[no-untyped-def]
    host = _host(db)
    assert host.id is not None
    read = HistoryRead("apt", HistoryStatus.OK, (), covered_from=datetime(2025, 6, 20, tzinfo=UTC))
    db_outside.record_history(db, None, host.id, read)
    st = db_outside.state(db, host.id)
    assert st is not None and st.status == HistoryStatus.PARTIAL and "not known" in st.note


def test_matching_needs_the_same_version_and_the_job_time() -> None:
    at = datetime(2025, 6, 24, 12, tzinfo=UTC)
    rec = [JobChange(7, "pd-secfix", "1.0-2", at, at + timedelta(minutes=5))]
    assert authorized_by(_entry("pd-secfix:amd64", "1.0-1", "1.0-2", at), rec) == 7
    assert authorized_by(_entry("pd-secfix", "1.0-1", "1.0-3", at), rec) is None
    assert authorized_by(_entry("pd-secfix", "1.0-1", "1.0-2", at + timedelta(hours=1)), rec) is None
    removal = [JobChange(8, "pd-x", None, at, at)]
    assert authorized_by(HistoryEntry("apt", "remove", "pd-x", at, "1", None), removal) == 8


def test_older_database_upgrades_to_the_history_tables(tmp_path: Path) -> None:
    from sqlite_utils import Database

    path = tmp_path / "old.db"
    old = Database(path)
    MIGRATIONS.apply(old, stop_before="m011_outside_changes")
    old.execute("PRAGMA user_version = 7")
    old.conn.commit()
    old.conn.close()
    db = open_database(path)
    assert schema_version(db) == SCHEMA_VERSION
    assert {"host_history", "host_history_state"} <= set(db.table_names())


def test_new_outside_change_raises_one_alert_for_its_job(db) -> None:  # type: ignore[no-untyped-def]
    from app.services import alerts

    host = _host(db)
    assert host.id is not None
    job = db_jobs.create_job(db, JobKind.SCAN, [host])
    when = datetime(2025, 6, 24, tzinfo=UTC)
    read = HistoryRead("apt", HistoryStatus.OK, (_entry("pd-regular", "2.0-1", "2.1-1", when),))
    db_outside.record_history(db, job, host.id, read)
    found = [a for a in alerts.job_alerts(db, job) if a.kind == alerts.AlertKind.OUTSIDE_CHANGE]
    assert len(found) == 1 and "pd-regular 2.0-1 -> 2.1-1 on web1" in found[0].message
    later = db_jobs.create_job(db, JobKind.SCAN, [host])
    db_outside.record_history(db, later, host.id, read)  # seen before: no second alert
    assert not [a for a in alerts.job_alerts(db, later) if a.kind == alerts.AlertKind.OUTSIDE_CHANGE]


def test_program_list_is_compared_with_the_previous_read(db) -> None:  # type: ignore[no-untyped-def]
    host = _host(db)
    assert host.id is not None
    first = HistoryRead("wua", HistoryStatus.OK, (), inventory=(("7-Zip", "23.01"),))
    assert db_outside.record_history(db, None, host.id, first) == []  # nothing to compare with yet
    lost = HistoryRead("wua", HistoryStatus.OK, (), inventory=None)  # programs not read this time
    assert db_outside.record_history(db, None, host.id, lost) == []
    second = HistoryRead("wua", HistoryStatus.OK, (), inventory=(("7-Zip", "24.01"), ("PuTTY", "0.80")))
    new = db_outside.record_history(db, None, host.id, second)
    assert sorted((r.manager, r.action, r.name, r.from_version, r.to_version) for r in new) == [
        ("programs", "install", "PuTTY", None, "0.80"),
        ("programs", "upgrade", "7-Zip", "23.01", "24.01"),
    ]


def test_change_log_ics_lists_outside_changes_under_their_own_category(db) -> None:  # type: ignore[no-untyped-def]
    from app.reports.calendar import changes_ics
    from app.services.outside_changes import outside_events

    host = _host(db)
    assert host.id is not None
    when = datetime(2025, 6, 24, 15, 1, tzinfo=UTC)
    read = HistoryRead("apt", HistoryStatus.OK, (_entry("pd-regular", "2.0-1", "2.1-1", when),))
    db_outside.record_history(db, None, host.id, read)
    text = changes_ics([], when, outside_events(db_outside.history(db, outside_only=True)))
    assert "CATEGORIES:OUTSIDE-CHANGE" in text and "DTSTART:20250624T150100Z" in text
    assert "Outside Patchdesk on web1: upgrade pd-regular 2.0-1 -> 2.1-1" in text


def test_first_read_of_a_host_scanned_before_starts_at_that_scan(db) -> None:  # type: ignore[no-untyped-def]
    """A database from before history reading: "since the previous scan" is the host's last scan,
    not everything since it was added."""
    host = _host(db)
    assert host.id is not None
    db.execute("UPDATE hosts SET last_scan_at = ?", ["2025-06-20T00:00:00+00:00"])
    read = HistoryRead(
        "apt",
        HistoryStatus.OK,
        (
            _entry("before-the-scan", "1", "2", datetime(2025, 6, 10, tzinfo=UTC)),
            _entry("after-the-scan", "1", "2", datetime(2025, 6, 21, tzinfo=UTC)),
        ),
    )
    assert [r.name for r in db_outside.record_history(db, None, host.id, read)] == ["after-the-scan"]
