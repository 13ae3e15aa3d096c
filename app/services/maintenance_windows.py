"""Maintenance windows: adding, editing and removing them (each audited), and what one will patch.

The CLI's ``windows`` commands and the Schedule view both write through these functions, so a window
change leaves the same audit entry whichever face made it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta

from app.domain.maintenance_windows import MaintenanceWindow, estimate_duration, validate
from app.domain.models import Classification
from app.services import audit
from db import hosts as db_hosts
from db import maintenance_windows as db_windows
from db import schedule as db_schedule
from db import settings as db_settings
from db.connection import Database


def add_window(db: Database, w: MaintenanceWindow) -> MaintenanceWindow:
    """Validate and store a new window; a taken name or a bad rule is a ConfigError."""
    validate(w)
    saved = db_windows.add_window(db, w)
    audit.record(db, audit.WINDOW_EDITED, saved.name, {"action": "added", **saved.as_json()})
    return saved


def update_window(db: Database, name: str, w: MaintenanceWindow) -> MaintenanceWindow:
    """Replace the window called ``name`` by ``w``, which may rename it."""
    validate(w)
    saved = db_windows.update_window(db, name, w)
    details: dict[str, object] = {"action": "edited", **saved.as_json()}
    if name != saved.name:
        details["renamed_from"] = name
    audit.record(db, audit.WINDOW_EDITED, saved.name, details)
    return saved


def set_window_enabled(db: Database, name: str, enabled: bool) -> bool:
    """Enable or disable a window; False when there is no such window (removed meanwhile)."""
    w = db_windows.get_window(db, name)
    if w is None:
        return False
    db_windows.update_window(db, name, replace(w, enabled=enabled))
    audit.record(db, audit.WINDOW_EDITED, name, {"action": "enabled" if enabled else "disabled"})
    return True


def remove_window(db: Database, name: str) -> bool:
    """Remove a window; False when there is no such window."""
    w = db_windows.get_window(db, name)
    if w is None or not db_windows.remove_window(db, name):
        return False
    audit.record(db, audit.WINDOW_EDITED, name, {"action": "removed", **w.as_json()})
    return True


@dataclass(frozen=True)
class HostInWindow:
    name: str
    ring: str
    pending: dict[str, int]  # classification -> count
    estimate: timedelta


@dataclass(frozen=True)
class WindowPlan:
    window: str
    hosts: tuple[HostInWindow, ...] = field(default_factory=tuple)

    def summary(self) -> str:
        if not self.hosts:
            return "No host of its groups has pending updates."
        parts = [
            f"{h.name} ({h.ring}): {sum(h.pending.values())} pending, "
            f"~{h.estimate.total_seconds() / 60:.0f} min"
            for h in self.hosts
        ]
        return "Will patch (as far as promotion allows): " + "; ".join(parts)

    def as_json(self) -> dict[str, object]:
        return {
            "window": self.window,
            "hosts": [
                {
                    "name": h.name,
                    "ring": h.ring,
                    "pending": h.pending,
                    "estimate_minutes": h.estimate.total_seconds() / 60,
                }
                for h in self.hosts
            ],
        }


def window_plan(db: Database, window: MaintenanceWindow) -> WindowPlan:
    """Hosts of the window's groups with pending updates, and how long each is expected to take."""
    groups = {g.lower() for g in window.groups}
    settings = db_settings.policy_settings(db)
    out = []
    for h in db_hosts.list_hosts(db):
        if not h.group or h.group.lower() not in groups or h.id is None or not h.pending_total:
            continue
        out.append(
            HostInWindow(
                h.name,
                str(h.ring),
                {
                    str(Classification.URGENT): h.pending_urgent,
                    str(Classification.IMPORTANT): h.pending_important,
                    str(Classification.NONCRITICAL): h.pending_noncritical,
                },
                estimate_duration(db_schedule.patch_durations(db, h.id), settings.default_estimate),
            )
        )
    return WindowPlan(window.name, tuple(out))
