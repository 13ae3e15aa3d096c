"""The alerts list's table (migration m014_alerts): every alert kept until acknowledged (#23 item 7)."""

from __future__ import annotations

from pathlib import Path

from app.domain.models import Host
from app.services import alerts as app_alerts
from db import alerts as db_alerts
from db import hosts as db_hosts
from db.database import open_database, schema_version
from db.schema import SCHEMA_VERSION
from tests.support.migrations import database_without


def test_a_database_from_before_the_alerts_list_upgrades(db_path: Path) -> None:
    # the schema as it was before m014: every migration but the last, its version stamped
    old = database_without(db_path, "m014_alerts")
    db_hosts.add_host(old, Host(name="web1", address="web1.example.invalid"))
    assert "alerts" not in old.table_names()
    old.conn.close()

    db = open_database(db_path)
    try:
        assert schema_version(db) == SCHEMA_VERSION
        assert "alerts" in db.table_names()
        assert [h.name for h in db_hosts.list_hosts(db)] == ["web1"]  # nothing lost on the way
        assert db_alerts.unacknowledged_count(db) == 0
    finally:
        db.conn.close()
    assert db_path.with_name(f"{db_path.name}.bak-v{SCHEMA_VERSION - 1}").exists()


def _alert(n: int) -> app_alerts.Alert:
    return app_alerts.Alert(
        app_alerts.AlertKind.JOB_FAILED,
        f"Patchdesk: scan job #{n} failed",
        f"job {n} failed",
        n,
        ("web1", "db1"),
    )


def test_alerts_are_kept_until_acknowledged(db) -> None:  # type: ignore[no-untyped-def]
    ids = app_alerts.record(db, [_alert(1), _alert(2), _alert(3)])
    assert len(ids) == 3 and app_alerts.open_count(db) == 3
    listed = app_alerts.listed(db)
    assert [a.job_id for a in listed] == [3, 2, 1]  # newest first
    assert listed[0].hosts == ("web1", "db1") and listed[0].kind == "job-failed"
    assert app_alerts.acknowledge(db, [ids[0]]) == 1
    assert app_alerts.acknowledge(db, [ids[0]]) == 0  # already seen
    assert app_alerts.open_count(db) == 2
    assert [a.id for a in app_alerts.listed(db, include_acknowledged=False)] == [ids[2], ids[1]]
    seen = next(a for a in app_alerts.listed(db) if a.id == ids[0])
    assert seen.acknowledged and seen.acknowledged_at is not None  # kept, with when
    assert app_alerts.acknowledge(db) == 2
    assert app_alerts.open_count(db) == 0 and len(app_alerts.listed(db)) == 3
    assert app_alerts.record(db, []) == []


def test_a_damaged_hosts_column_reads_as_no_hosts(db) -> None:  # type: ignore[no-untyped-def]
    (aid,) = app_alerts.record(db, [_alert(1)])
    db.execute("UPDATE alerts SET hosts = 'not json' WHERE id = ?", [aid])
    assert app_alerts.listed(db)[0].hosts == ()
