"""What a maintenance window will patch: for the calendar view and the .ics export."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlite_utils import Database

from app.domain.maintenance_windows import MaintenanceWindow, estimate_duration
from app.domain.models import Classification
from db import hosts as db_hosts
from db import schedule as db_schedule
from db import settings as db_settings


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
