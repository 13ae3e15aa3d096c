"""Maintenance windows (a recurrence, a duration, a time zone) and the host groups they apply to."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from app.domain.errors import ConfigError
from app.domain.maintenance_windows import MaintenanceWindow
from db.connection import Database
from db.database import now_iso
from db.hosts import ensure_group


def _window(db: Database, r: dict[str, Any]) -> MaintenanceWindow:
    groups = tuple(
        g[0]
        for g in db.execute(
            "SELECT g.name FROM window_groups wg JOIN groups g ON g.id = wg.group_id WHERE wg.window_id = ? "
            "ORDER BY g.name COLLATE NOCASE",
            [r["id"]],
        )
    )
    return MaintenanceWindow(
        id=r["id"],
        name=r["name"],
        rrule=r["rrule"],
        dtstart=datetime.fromisoformat(r["dtstart"]),
        duration=timedelta(minutes=r["duration_minutes"]),
        tz=r["tz"],
        groups=groups,
        enabled=bool(r["enabled"]),
        description=r["description"],
    )


def _window_row(w: MaintenanceWindow) -> list[object]:
    return [
        w.name,
        w.rrule,
        w.dtstart.isoformat(),
        w.duration.total_seconds() / 60,
        w.tz,
        int(w.enabled),
        w.description,
    ]


def _saved_window(db: Database, w: MaintenanceWindow, write: Callable[[], int]) -> MaintenanceWindow:
    """Run ``write`` (which returns the window's row id), then set its groups -- in one transaction."""
    try:
        with db.atomic():
            wid = write()
            db.execute("DELETE FROM window_groups WHERE window_id = ?", [wid])
            for g in w.groups:
                db.execute(
                    "INSERT OR IGNORE INTO window_groups (window_id, group_id) VALUES (?, ?)",
                    [wid, ensure_group(db, g)],
                )
    except sqlite3.IntegrityError as exc:
        if "UNIQUE" in str(exc):
            raise ConfigError(f"A window named {w.name!r} already exists.") from exc
        raise
    got = get_window(db, w.name)
    assert got is not None
    return got


def add_window(db: Database, w: MaintenanceWindow) -> MaintenanceWindow:
    def insert() -> int:
        cur = db.execute(
            "INSERT INTO maintenance_windows (name, rrule, dtstart, duration_minutes, tz, enabled, description, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [*_window_row(w), now_iso()],
        )
        return int(cur.lastrowid or 0)

    return _saved_window(db, w, insert)


def update_window(db: Database, name: str, w: MaintenanceWindow) -> MaintenanceWindow:
    """Replace the window called ``name`` by ``w`` (which may rename it), keeping its row id."""

    def update() -> int:
        row = db.execute("SELECT id FROM maintenance_windows WHERE name = ?", [name]).fetchone()
        if row is None:
            raise ConfigError(f"There is no window named {name!r} (removed meanwhile?).")
        db.execute(
            "UPDATE maintenance_windows SET name = ?, rrule = ?, dtstart = ?, duration_minutes = ?, tz = ?, "
            "enabled = ?, description = ? WHERE id = ?",
            [*_window_row(w), row[0]],
        )
        return int(row[0])

    return _saved_window(db, w, update)


def get_window(db: Database, name: str) -> MaintenanceWindow | None:
    rows = list(db.query("SELECT * FROM maintenance_windows WHERE name = ?", [name]))
    return _window(db, rows[0]) if rows else None


def list_windows(db: Database) -> list[MaintenanceWindow]:
    return [
        _window(db, r) for r in db.query("SELECT * FROM maintenance_windows ORDER BY name COLLATE NOCASE")
    ]


def remove_window(db: Database, name: str) -> bool:
    with db.atomic():
        cur = db.execute("DELETE FROM maintenance_windows WHERE name = ?", [name])
    return cur.rowcount > 0


def windows_for_group(db: Database, group: str | None) -> list[MaintenanceWindow]:
    if not group:
        return []
    return [w for w in list_windows(db) if group.lower() in (g.lower() for g in w.groups)]
