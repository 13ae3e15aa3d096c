"""Settings changed through the services: stored, audited once, and a no-op change is no entry."""

from __future__ import annotations

from app.services import audit, reports
from db import joblogs
from db import tiles as db_tiles


def _settings(db) -> list[tuple[str, object]]:  # type: ignore[no-untyped-def]
    entries = reversed(audit.entries(db, action=audit.SETTINGS_CHANGED))
    return [(e.target, e.details["value"]) for e in entries]


def test_syslog_retention_and_stale_days(db) -> None:  # type: ignore[no-untyped-def]
    assert audit.set_syslog_target(db, " /dev/log ")
    assert not audit.set_syslog_target(db, "/dev/log")
    assert audit.syslog_target(db) == "/dev/log"
    assert audit.set_syslog_target(db, "")
    assert audit.syslog_target(db) is None

    assert audit.set_log_retention(db, 30)
    assert not audit.set_log_retention(db, 30)
    assert joblogs.retention_days(db) == 30
    assert audit.set_log_retention(db, 0)
    assert joblogs.retention_days(db) is None

    assert reports.set_stale_days(db, db_tiles.stale_days(db) + 1)
    assert not reports.set_stale_days(db, db_tiles.stale_days(db))
    assert _settings(db) == [
        (audit.SYSLOG_SETTING, "/dev/log"),
        (audit.SYSLOG_SETTING, "off"),
        (joblogs.RETENTION_SETTING, 30),
        (joblogs.RETENTION_SETTING, "forever"),
        ("compliance.stale_days", db_tiles.stale_days(db)),
    ]
    assert audit.verify(db).ok


def test_patch_and_rollback_started(db) -> None:  # type: ignore[no-untyped-def]
    audit.patch_started(db, ["a", "b"], 7, changes=3)
    audit.rollback_started(db, ["a"], 8, None)
    patch, rollback = reversed(audit.entries(db))
    assert (patch.action, patch.target, patch.details) == (
        audit.PATCH_STARTED,
        "a, b",
        {"job": 7, "hosts": ["a", "b"], "changes": 3},
    )
    assert rollback.details == {"job": 8, "hosts": ["a"], "undo_job": None}
