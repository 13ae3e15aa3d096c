"""What is due, decided: pure functions the scheduler's pass (app/jobs/scheduler.py) applies per host.

The shell around them reads the inventory, rollouts and windows from the database and starts jobs;
every "may this run now, and if not, why" lives here so it can be tested by table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.domain.maintenance_windows import (
    MaintenanceWindow,
    Occurrence,
    estimate_duration,
    fits,
    next_windows,
)
from app.domain.models import Classification, Criticality, Host, JobTrigger, PendingUpdate
from app.domain.rollout import NEEDS_APPROVAL, PolicySettings, Rollout

#: Managers that pull new packages in as dependencies of what is named: a pending *new* package on
#: them is never started on its own.
DEPENDENCY_MANAGERS = frozenset({"apt", "dnf", "yum", "zypper"})


@dataclass(frozen=True)
class ScheduleEvent:
    """One line of the scheduler's log: what it did, or why it did not."""

    at: str  # the scheduler's time (may be simulated)
    host_name: str | None
    update_key: str | None
    action: str  # started | deferred | promoted | deployed | blocked
    reason: str
    job_id: int | None = None
    dry_run: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "host": self.host_name,
            "update": self.update_key,
            "action": self.action,
            "reason": self.reason,
            "job": self.job_id,
            "dry_run": self.dry_run,
        }


def scan_due(host: Host, now: datetime, interval: timedelta) -> bool:
    """A host is due for a scan when it was never scanned or its last scan is ``interval`` old."""
    return host.last_scan_at is None or now - host.last_scan_at >= interval


def comes_as_dependency(update: PendingUpdate) -> bool:
    """A new package on apt/dnf/zypper arrives with whatever needs it, never on its own."""
    return update.installed is None and update.manager in DEPENDENCY_MANAGERS


@dataclass(frozen=True)
class UpdateDecision:
    """For one pending update on one host: why it waits (None: it may go) and whether it needs a window."""

    why_waiting: str | None
    needs_window: bool


def decide_update(
    host: Host,
    update: PendingUpdate,
    rollout: Rollout,
    now: datetime,
    settings: PolicySettings,
    *,
    open_window: Occurrence | None,
    windows: Sequence[MaintenanceWindow],
    override_windows: bool = False,
) -> UpdateDecision:
    """Rollout gates first, then the urgent-push policy, then the maintenance window."""
    why = rollout.blocked(now)
    if why is None and not rollout.allows(host.ring) and rollout.kind in NEEDS_APPROVAL:
        why = (
            f"{rollout.kind} update: installed only after an explicit approval for the {host.ring} ring "
            f"(patchdesk approve --ring {host.ring})"
        )
    elif why is None and not rollout.allows(host.ring):
        why = f"waiting for promotion to the {host.ring} ring (" + (
            f"now at {rollout.ring})" if rollout.ring else "not tested yet)"
        )
    urgent = update.classification == Classification.URGENT
    needs_window = not urgent or (
        host.criticality == Criticality.MISSION_CRITICAL and not (rollout.override_window or override_windows)
    )
    if why is None and urgent and not settings.urgent_push:
        why = "urgent push proposed (policy urgent_push is off): patch it by hand or approve it"
    if why is None and needs_window and open_window is None:
        why = no_window_reason(host, windows, now, urgent)
    return UpdateDecision(why, needs_window)


def no_window_reason(host: Host, windows: Sequence[MaintenanceWindow], now: datetime, urgent: bool) -> str:
    who = "mission-critical: waits for its maintenance window" if urgent else "outside its maintenance window"
    if not windows:
        group = f"group {host.group!r}" if host.group else "no group"
        return f"{who}; no window covers {group}"
    nxt = next_windows(windows, now, 1)
    if not nxt:
        return f"{who}; its windows have no further openings"
    return f"{who}; next: {nxt[0].window.name} at {nxt[0].local_start().isoformat()}"


def window_deferral(
    occ: Occurrence,
    now: datetime,
    windows: Sequence[MaintenanceWindow],
    past_durations: Sequence[timedelta],
    settings: PolicySettings,
) -> str | None:
    """None when the host's expected patch plus its rollback reserve fits what is left of ``occ``;
    otherwise the reason it is deferred, naming the next window."""
    estimate = estimate_duration(past_durations, settings.default_estimate)
    fit = fits(occ, now, estimate, estimate * settings.reserve_factor)
    if fit.fits:
        return None
    later = [o for o in next_windows(windows, now, 3) if o.start >= occ.end]
    return fit.reason + (
        f"; deferred to the next window at {later[0].local_start().isoformat()}"
        if later
        else "; no later window"
    )


def trigger_for(updates: Iterable[PendingUpdate]) -> JobTrigger:
    """A patch that carries an urgent update is an urgent push; anything else is routine."""
    urgent = any(u.classification == Classification.URGENT for u in updates)
    return JobTrigger.URGENT if urgent else JobTrigger.SCHEDULE
