"""What is due, decided: pure functions the scheduler's pass (app/jobs/scheduler.py) applies per host.

The shell around them reads the inventory, rollouts and windows from the database and starts jobs;
every "may this run now, and if not, why" lives here so it can be tested by table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.domain.criticality import important_deadline_passed, rule_for
from app.domain.maintenance_windows import (
    MaintenanceWindow,
    Occurrence,
    estimate_duration,
    fits,
    next_windows,
)
from app.domain.models import Classification, Host, JobTrigger, PendingUpdate
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
    """Rollout gates first, then the urgent-push policy, then the maintenance window; what a host's
    criticality changes in each comes from its rule (``settings.criticality``), never from its name."""
    rule = rule_for(settings.criticality, host.criticality)
    urgent = update.classification == Classification.URGENT
    at_once = urgent and rule.urgent_at_once
    due = update.classification == Classification.IMPORTANT and important_deadline_passed(
        rule, rollout.ring_since, now
    )
    why = rollout.blocked(now)
    gated = rule.test_ring_first and not at_once and not due
    # firmware and drivers wait for an approval per ring whatever the criticality says
    if why is None and not rollout.allows(host.ring) and rollout.kind in NEEDS_APPROVAL:
        why = (
            f"{rollout.kind} update: installed only after an explicit approval for the {host.ring} ring "
            f"(patchdesk approve --ring {host.ring})"
        )
    elif why is None and gated and not rollout.allows(host.ring):
        why = f"waiting for promotion to the {host.ring} ring (" + (
            f"now at {rollout.ring})" if rollout.ring else "not tested yet)"
        )
    windows_only = rule.windows_only and not (rollout.override_window or override_windows)
    needs_window = windows_only or not (urgent or due)
    if why is None and urgent and not settings.urgent_push:
        why = "urgent push proposed (policy urgent_push is off): patch it by hand or approve it"
    if why is None and needs_window and open_window is None:
        why = no_window_reason(host, windows, now, urgent)
    return UpdateDecision(why, needs_window)


def no_window_reason(host: Host, windows: Sequence[MaintenanceWindow], now: datetime, urgent: bool) -> str:
    who = "outside its maintenance window"
    if urgent:
        who = f"{host.criticality}: waits for its maintenance window"
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


@dataclass(frozen=True)
class Cutoff:
    """The last instant a host may start inside an open window, and why it is not started after it."""

    at: datetime
    reason: str


def window_cutoff(
    occ: Occurrence,
    windows: Sequence[MaintenanceWindow],
    past_durations: Sequence[timedelta],
    settings: PolicySettings,
) -> Cutoff:
    """The window's end is a hard edge: a host starts no later than the end minus its expected patch
    time and its rollback reserve, so a patch that turns red still has the reserve to be undone inside
    the window. The reason names the cut-off and the next window it is deferred to."""
    estimate = estimate_duration(past_durations, settings.default_estimate)
    reserve = estimate * settings.reserve_factor
    at = occ.end - estimate - reserve
    zone = occ.window.zone()
    later = [o for o in next_windows(windows, occ.end - timedelta(seconds=1), 3) if o.start >= occ.end]
    where = (
        f"deferred to the next window at {later[0].local_start().isoformat()}"
        if later
        else "deferred: no later window"
    )
    reason = (
        f"not started: window {occ.window.name!r} ends at {occ.end.astimezone(zone).strftime('%H:%M')}, and "
        f"with its estimated {_minutes(estimate)} + rollback reserve {_minutes(reserve)} no start was "
        f"possible after {at.astimezone(zone).strftime('%H:%M')}; {where}"
    )
    return Cutoff(at, reason)


def _minutes(d: timedelta) -> str:
    m = d.total_seconds() / 60
    return f"{m:.0f} min" if m >= 1 or m == 0 else f"{d.total_seconds():.0f} s"


def trigger_for(updates: Iterable[PendingUpdate]) -> JobTrigger:
    """A patch that carries an urgent update is an urgent push; anything else is routine."""
    urgent = any(u.classification == Classification.URGENT for u in updates)
    return JobTrigger.URGENT if urgent else JobTrigger.SCHEDULE
