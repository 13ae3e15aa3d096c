"""Due work, run once: what the console's timer and ``patchdesk run-due`` both call.

One pass at a wall-clock instant ``now`` (simulated with ``--now``):

1. scans of hosts whose last scan is older than the scan interval;
2. soak checks of the hosts that got an update still soaking in their ring (app/jobs/soak.py), then
   promotions of updates whose soak time passed with green verification, no red (or blind) soak
   check and no rollback in their ring, and ``deployed`` for those nothing needs any more;
3. patching: per host, the pending updates its ring may have. Urgent ones go at once (the urgent
   push: the test ring first, the other rings as soon as the promotion allows; mission-critical hosts
   still wait for their window unless overridden). Everything else only inside a maintenance window
   of the host's group, and only when the host's estimated duration plus a rollback reserve fits in
   what is left of it; otherwise it is deferred to the next window and the reason logged.

Scheduling is by wall clock: every pass recomputes from the database what is due, so sleeping,
resuming or a missed timer only delays work, never loses or repeats it. A lock row in the database
(owner pid + expiry) keeps the GUI's timer and a headless run-due from working at the same time.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.domain.maintenance_windows import MaintenanceWindow, Occurrence, window_at
from app.domain.models import Host, HostStatus, JobTrigger, PendingUpdate, Ring, StepState
from app.domain.rollout import (
    PolicySettings,
    Rollout,
    RolloutState,
    SoakVerdict,
    evaluate,
    update_key,
)
from app.domain.schedule import (
    Cutoff,
    ScheduleEvent,
    comes_as_dependency,
    decide_update,
    scan_due,
    trigger_for,
    window_cutoff,
    window_deferral,
)
from app.jobs import soak
from app.jobs.engine import StartBy
from app.jobs.selection import select_updates
from db import hosts as db_hosts
from db import locks as db_locks
from db import maintenance_windows as db_windows
from db import rollouts as db_rollouts
from db import scans as db_scans
from db import schedule as db_schedule
from db import settings as db_settings
from db import soak as db_soak
from db.connection import Database

if TYPE_CHECKING:
    from app.jobs.engine import JobHandle
    from app.jobs.runner import JobRunner
    from app.secrets import SecretStore

logger = logging.getLogger(__name__)

LOCK_NAME = "scheduler"


@dataclass
class DueReport:
    """What one pass did (or, with ``dry_run``, would do), and why the rest waits."""

    now: datetime
    dry_run: bool = False
    locked_by: str | None = None
    scans: list[dict[str, Any]] = field(default_factory=list)
    promotions: list[dict[str, Any]] = field(default_factory=list)
    held: list[dict[str, Any]] = field(default_factory=list)
    patches: list[dict[str, Any]] = field(default_factory=list)
    deferred: list[dict[str, Any]] = field(default_factory=list)
    waiting: list[dict[str, Any]] = field(default_factory=list)
    soak: list[dict[str, Any]] = field(default_factory=list)  # each soak check (app/jobs/soak.py)
    rollbacks: list[dict[str, Any]] = field(default_factory=list)  # hosts rolled back on a red one

    @property
    def ok(self) -> bool:
        """Everything ran, and no soak check was red or could not see (unknown is never healthy)."""
        return (
            all(p.get("status") in (None, "ok", "planned") for p in self.patches)
            and all(s.get("status") in ("ok", "planned") for s in self.scans)
            and not any(c.get("verdict") in ("red", "unknown") for c in self.soak)
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "now": self.now.isoformat(),
            "dry_run": self.dry_run,
            "locked_by": self.locked_by,
            "scans": self.scans,
            "promotions": self.promotions,
            "held": self.held,
            "patches": self.patches,
            "deferred": self.deferred,
            "waiting": self.waiting,
            "soak": self.soak,
            "rollbacks": self.rollbacks,
        }


def _aware(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        return now.astimezone()  # a naive --now is local time, as a person means it
    return now


def run_due(
    db_path: Path | str,
    now: datetime | None = None,
    dry_run: bool = False,
    *,
    runner: JobRunner | None = None,
    secrets: SecretStore | None = None,
    override_windows: bool = False,
    owner: str | None = None,
    connect_timeout: float = 10.0,
    host_deadline: float = 3600.0,
) -> DueReport:
    """Run what is due at ``now`` once and wait for it; the GUI calls this off the main thread.

    ``runner``: the console's JobRunner (so its views see the jobs' events); headless callers leave
    it None and one is made for this pass.
    """
    from db.database import open_database

    now = _aware(now).astimezone(UTC)
    started = time.monotonic()  # the real clock's counterpart of ``now`` for window cut-offs
    report = DueReport(now, dry_run)
    db = open_database(db_path)
    settings = db_settings.policy_settings(db)
    locked = False
    own_runner = False
    try:
        if not dry_run:
            holder = db_locks.acquire_lock(
                db, LOCK_NAME, owner or f"patchdesk on {socket.gethostname()}", settings.lock_ttl
            )
            if holder is not None:
                report.locked_by = f"{holder.owner} (pid {holder.pid}, until {holder.expires_at})"
                return report
            locked = True
            if runner is None:
                from app.jobs.runner import JobRunner

                runner = JobRunner(
                    db_path, secrets=secrets, connect_timeout=connect_timeout, host_deadline=host_deadline
                )
                own_runner = True
        events: list[tuple[ScheduleEvent, int | None]] = []
        _scans(db, runner, now, settings, report)
        _soak(db, runner, now, settings, report, events, dry_run)
        rollouts = _promotions(db, now, settings, report, events, dry_run)
        _patches(db, runner, now, settings, rollouts, report, events, dry_run, override_windows, started)
        if events:
            db_schedule.add_schedule_events(db, events)
        return report
    finally:
        if own_runner and runner is not None:
            runner.close()
        if locked:
            db_locks.release_lock(db, LOCK_NAME)
        db.conn.close()


# -- 1. scans ------------------------------------------------------------------------------------------


def _scans(
    db: Database, runner: JobRunner | None, now: datetime, settings: PolicySettings, report: DueReport
) -> None:
    busy = db_schedule.busy_hosts(db)
    due = [
        h for h in db_hosts.list_hosts(db) if h.id not in busy and scan_due(h, now, settings.scan_interval)
    ]
    if not due:
        return
    if runner is None:
        report.scans.extend({"host": h.name, "status": "planned", "job": None} for h in due)
        return
    handle = runner.start_scan(db, due, accept_new_keys=True, trigger=JobTrigger.SCHEDULE)
    handle.wait()
    runner.flush()
    for h in due:
        assert h.id is not None
        out = handle.outcomes.get(h.id)
        state = out.state if out else StepState.FAILED
        report.scans.append(
            {
                "host": h.name,
                "job": handle.job_id,
                "status": "ok" if state == StepState.SUCCEEDED else str(state),
                "error": out.error if out else None,
            }
        )


# -- 2. soak checks, then promotions --------------------------------------------------------------------


def _soak(
    db: Database,
    runner: JobRunner | None,
    now: datetime,
    settings: PolicySettings,
    report: DueReport,
    events: list[tuple[ScheduleEvent, int | None]],
    dry_run: bool,
) -> None:
    """Re-check the hosts of soaking rollouts that are due (a dry run only lists them), before the
    promotions read the checks; a red or blind check is logged as what holds the update."""
    done = soak.run_checks(db, None if dry_run else runner, now, settings)
    report.soak.extend(done.entries)
    report.rollbacks.extend(done.rollbacks)
    if done.checks:
        db_soak.add_soak_checks(db, done.checks)
    for c, host_id in done.checks:
        if c.verdict in (SoakVerdict.RED, SoakVerdict.UNKNOWN):
            why = f"soak check {c.verdict} in the {c.ring} ring" + (f": {c.reasons[0]}" if c.reasons else "")
            events.append(
                (ScheduleEvent(now.isoformat(), c.host, c.rollout_key, "blocked", why, c.job_id), host_id)
            )
    for rb in done.rollbacks:
        events.append(
            (
                ScheduleEvent(
                    now.isoformat(), rb["host"], None, "rolled back", "a soak check was red", rb["job"]
                ),
                None,
            )
        )


def _all_pending(db: Database, hosts: Sequence[Host]) -> dict[int, list[PendingUpdate]]:
    return {h.id: db_scans.pending_for_host(db, h.id) for h in hosts if h.id is not None}


def _promotions(
    db: Database,
    now: datetime,
    settings: PolicySettings,
    report: DueReport,
    events: list[tuple[ScheduleEvent, int | None]],
    dry_run: bool,
) -> dict[str, Rollout]:
    hosts = db_hosts.list_hosts(db)
    pending = [u for lst in _all_pending(db, hosts).values() for u in lst]
    if dry_run:
        rollouts = {update_key(u): db_rollouts.get_rollout(db, update_key(u)) for u in pending}
        out = {
            k: r
            or Rollout(
                k,
                u.manager,
                u.name,
                u.available,
                u.kind,
                u.classification,
            )
            for k, r, u in ((update_key(u), rollouts[update_key(u)], u) for u in pending)
        }
    else:
        out = db_rollouts.ensure_rollouts(db, pending)
    at = now.isoformat()
    for r in (
        db_rollouts.list_rollouts(db, (RolloutState.NEW, RolloutState.TESTING, RolloutState.APPROVED))
        if not dry_run
        else list(out.values())
    ):
        evidence = db_rollouts.ring_evidence(db, r)
        if r.ring is None and evidence[Ring.TEST].got:
            # installed on the test ring outside the scheduler (a manual patch): it is being tested
            if not dry_run:
                r = db_rollouts.set_rollout(
                    db,
                    r.key,
                    state=RolloutState.TESTING,
                    ring=Ring.TEST,
                    ring_since=now,
                    event_at=now,
                    note="installed on the test ring",
                )
        if r.ring == Ring.PRODUCTION:
            if not any(e.pending for e in evidence.values()) and any(e.got for e in evidence.values()):
                if not dry_run:
                    r = db_rollouts.set_rollout(db, r.key, state=RolloutState.DEPLOYED, event_at=now)
                events.append(
                    (
                        ScheduleEvent(
                            at, None, r.key, "deployed", "no host needs it any more", dry_run=dry_run
                        ),
                        None,
                    )
                )
            out[r.key] = r
            continue
        decision = evaluate(r, evidence, now, settings, db_soak.soak_checks(db, r.key))
        if decision.to is not None:
            entry = {
                "update": r.key,
                "from": str(r.ring) if r.ring else None,
                "to": str(decision.to),
                "reason": decision.reason,
            }
            report.promotions.append(entry)
            events.append(
                (
                    ScheduleEvent(
                        at, None, r.key, "promoted", f"to {decision.to}: {decision.reason}", dry_run=dry_run
                    ),
                    None,
                )
            )
            if not dry_run:
                r = db_rollouts.set_rollout(
                    db,
                    r.key,
                    state=RolloutState.APPROVED,
                    ring=decision.to,
                    ring_since=now,
                    note=decision.reason,
                    event_at=now,
                    actor="scheduler",
                )
            else:
                from dataclasses import replace

                r = replace(r, state=RolloutState.APPROVED, ring=decision.to, ring_since=now)
        elif r.ring is not None or evidence[Ring.TEST].pending:
            report.held.append(
                {"update": r.key, "ring": str(r.ring) if r.ring else None, "reason": decision.reason}
            )
        out[r.key] = r
    return out


# -- 3. patching ---------------------------------------------------------------------------------------


@dataclass
class _HostPlan:
    host: Host
    updates: list[PendingUpdate]
    trigger: JobTrigger
    window: str | None = None
    cutoff: Cutoff | None = None  # no start after this (the window's end minus estimate and reserve)


@dataclass
class _Pass:
    """What one scheduler pass shares between its steps: the time, the policy and what it reports."""

    db: Database
    now: datetime
    settings: PolicySettings
    rollouts: dict[str, Rollout]
    report: DueReport
    events: list[tuple[ScheduleEvent, int | None]]
    dry_run: bool
    override_windows: bool
    #: time.monotonic() when the pass began, the real clock's counterpart of ``now`` (which may be
    #: simulated): a cut-off at ``now + d`` is ``started + d`` for the engine
    started: float

    @property
    def at(self) -> str:
        return self.now.isoformat()


def _patches(
    db: Database,
    runner: JobRunner | None,
    now: datetime,
    settings: PolicySettings,
    rollouts: dict[str, Rollout],
    report: DueReport,
    events: list[tuple[ScheduleEvent, int | None]],
    dry_run: bool,
    override_windows: bool,
    started: float,
) -> None:
    run = _Pass(db, now, settings, rollouts, report, events, dry_run, override_windows, started)
    busy = db_schedule.busy_hosts(db)
    plans: list[_HostPlan] = []
    pending_by_host: dict[int, list[PendingUpdate]] = {}
    for host in db_hosts.list_hosts(db):
        assert host.id is not None
        pend = db_scans.pending_for_host(db, host.id)
        pending_by_host[host.id] = pend
        if not pend:
            continue
        plan = _plan_host(run, host, pend, busy)
        if plan is not None:
            plans.append(plan)
    if not plans:
        return
    if runner is None:
        for p in plans:
            report.patches.append(
                {
                    "host": p.host.name,
                    "updates": [update_key(u) for u in p.updates],
                    "trigger": str(p.trigger),
                    "window": p.window,
                    "job": None,
                    "status": "planned",
                }
            )
        return
    _start_test_ring(run, plans)
    handles = _start_jobs(run, runner, plans, pending_by_host)
    for handle, _ in handles:
        handle.wait()
    runner.flush()
    _report_outcomes(run, handles)


def _plan_host(run: _Pass, host: Host, pend: list[PendingUpdate], busy: set[int]) -> _HostPlan | None:
    """What to install on one host now, if anything; why it waits or is deferred goes to the report."""
    assert host.id is not None
    if host.id in busy:
        run.report.waiting.append({"host": host.name, "update": None, "reason": "busy with another job"})
        return None
    if host.last_status != HostStatus.OK:
        run.report.waiting.append(
            {
                "host": host.name,
                "update": None,
                "reason": f"its last scan was {host.last_status}; scan it first",
            }
        )
        return None
    windows = db_windows.windows_for_group(run.db, host.group)
    occ = window_at(windows, run.now)
    now_list, in_window = _due_updates(run, host, pend, windows, occ)
    if in_window:
        assert occ is not None
        deferral = window_deferral(
            occ, run.now, windows, db_schedule.patch_durations(run.db, host.id), run.settings
        )
        if deferral is None:
            now_list.extend(in_window)
        else:
            keys = [update_key(u) for u in in_window]
            run.report.deferred.append({"host": host.name, "updates": keys, "reason": deferral})
            run.events.append(
                (
                    ScheduleEvent(
                        run.at, host.name, ", ".join(keys), "deferred", deferral, dry_run=run.dry_run
                    ),
                    host.id,
                )
            )
    if not now_list:
        return None
    plan = _HostPlan(host, now_list, trigger_for(now_list), occ.window.name if occ and in_window else None)
    if occ is not None and in_window and len(now_list) == len(in_window):
        # everything here needs the window: its end is a hard edge for the start (an urgent push that
        # rides along is not held back by a window it does not need)
        plan.cutoff = window_cutoff(occ, windows, db_schedule.patch_durations(run.db, host.id), run.settings)
    return plan


def _due_updates(
    run: _Pass,
    host: Host,
    pend: list[PendingUpdate],
    windows: list[MaintenanceWindow],
    occ: Occurrence | None,
) -> tuple[list[PendingUpdate], list[PendingUpdate]]:
    """The host's updates that may go now, and those that need its open window."""
    now_list: list[PendingUpdate] = []
    in_window: list[PendingUpdate] = []
    for u in pend:
        if comes_as_dependency(u):
            continue
        key = update_key(u)
        r = run.rollouts.get(key) or Rollout(key, u.manager, u.name, u.available, u.kind, u.classification)
        decision = decide_update(
            host,
            u,
            r,
            run.now,
            run.settings,
            open_window=occ,
            windows=windows,
            override_windows=run.override_windows,
        )
        if decision.why_waiting is not None:
            run.report.waiting.append({"host": host.name, "update": key, "reason": decision.why_waiting})
            continue
        (in_window if decision.needs_window else now_list).append(u)
    return now_list, in_window


def _start_test_ring(run: _Pass, plans: list[_HostPlan]) -> None:
    """The test ring starting on an update puts it into "testing" before anything is installed."""
    for p in plans:
        if p.host.ring != Ring.TEST:
            continue
        for u in p.updates:
            started = run.rollouts.get(update_key(u))
            if started is not None and started.ring is None:
                run.rollouts[started.key] = db_rollouts.set_rollout(
                    run.db,
                    started.key,
                    state=RolloutState.TESTING,
                    ring=Ring.TEST,
                    ring_since=run.now,
                    event_at=run.now,
                    note="test ring started",
                    actor="scheduler",
                )


def _start_jobs(
    run: _Pass, runner: JobRunner, plans: list[_HostPlan], pending_by_host: dict[int, list[PendingUpdate]]
) -> list[tuple[JobHandle, list[_HostPlan]]]:
    """One patch job per trigger (urgent pushes apart from windowed work), each event logged."""
    handles = []
    for trigger in (JobTrigger.URGENT, JobTrigger.SCHEDULE):
        group = [p for p in plans if p.trigger == trigger]
        if not group:
            continue
        selections = {
            # what decide_update let through, firmware and drivers included only once approved
            p.host.id: select_updates(
                pending_by_host[p.host.id],
                packages={u.name for u in p.updates},
                approved={update_key(u) for u in p.updates},
            )
            for p in group
            if p.host.id is not None
        }
        start_by = {
            p.host.id: StartBy(run.started + (p.cutoff.at - run.now).total_seconds(), p.cutoff.reason)
            for p in group
            if p.cutoff is not None and p.host.id is not None
        }
        handle = runner.start_patch(
            run.db,
            [p.host for p in group],
            selections,
            trigger=trigger,
            accept_new_keys=True,
            start_by=start_by,
        )
        handles.append((handle, group))
        for p in group:
            why = "urgent push" if trigger == JobTrigger.URGENT else f"inside window {p.window!r}"
            run.events.append(
                (
                    ScheduleEvent(
                        run.at,
                        p.host.name,
                        ", ".join(update_key(u) for u in p.updates),
                        "started",
                        why,
                        handle.job_id,
                    ),
                    p.host.id,
                )
            )
    return handles


def _report_outcomes(run: _Pass, handles: list[tuple[JobHandle, list[_HostPlan]]]) -> None:
    for handle, group in handles:
        for p in group:
            assert p.host.id is not None
            out = handle.outcomes.get(p.host.id)
            if out is not None and out.details.get("deferred"):
                _report_deferred(run, p, handle.job_id, str(out.details["deferred"]))
                continue
            state = out.state if out else StepState.FAILED
            result = out.result if out else None
            verification = getattr(result, "verification", None)
            run.report.patches.append(
                {
                    "host": p.host.name,
                    "updates": [update_key(u) for u in p.updates],
                    "trigger": str(p.trigger),
                    "window": p.window,
                    "job": handle.job_id,
                    "status": "ok" if state == StepState.SUCCEEDED else str(state),
                    "error": out.error if out else None,
                    "verification": verification.as_json() if verification is not None else None,
                }
            )


def _report_deferred(run: _Pass, p: _HostPlan, job_id: int, reason: str) -> None:
    """A host the window's end left unstarted: deferred, with the reason, in the report and the log.
    Nothing was installed, so the next pass inside its next window plans it again."""
    keys = [update_key(u) for u in p.updates]
    run.report.deferred.append({"host": p.host.name, "updates": keys, "reason": reason, "job": job_id})
    run.events.append(
        (ScheduleEvent(run.at, p.host.name, ", ".join(keys), "deferred", reason, job_id), p.host.id)
    )
