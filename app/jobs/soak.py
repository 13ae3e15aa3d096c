"""Soak monitoring: while an update soaks in a ring, the hosts there that got it are checked again.

Each scheduler pass (app/jobs/scheduler.py) finds the rollouts sitting in a ring that has a next one
and, of the hosts of that ring that installed the update (and did not roll it back), those not checked
for ``soak_check_interval`` (scheduler time). One verify job checks them all through the verification
entry point (``verify_host``, app/jobs/verification.py) against the host's last patch: the versions
are still the ones installed, declared services run, no unit failed, no new journal errors (Linux) or
System/Application errors (Windows) since the patch, load and memory against the health the patch
took before it changed anything, and the host's own check command where it has one. There is no
second health gathering here.

Every check is recorded (db/soak.py) with the scheduler's time, its verdict and reasons. A host the
check could not see (unreachable, timed out, failed) is ``unknown``, never healthy. The promotion gate
(``soak_gate``, app/domain/rollout.py) holds an update on any red check and on a latest check that
could not see; the faces raise the alerts (app/services/alerts.py: ``soak_alerts``), and a host whose
policy says to roll back on red is rolled back.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.domain.errors import PatchdeskError
from app.domain.models import AutoRollback, Host, JobTrigger, Ring, StepState
from app.domain.rollout import (
    PolicySettings,
    Rollout,
    RolloutState,
    SoakCheck,
    SoakVerdict,
    next_ring,
)
from app.domain.verdicts import Verification
from app.jobs.selection import patch_verify_request
from app.jobs.verification import VerifyRequest
from db import changes as db_changes
from db import host_policy as db_host_policy
from db import hosts as db_hosts
from db import rollouts as db_rollouts
from db import schedule as db_schedule
from db import soak as db_soak
from db.connection import Database

if TYPE_CHECKING:
    from app.jobs.runner import JobRunner

logger = logging.getLogger(__name__)

_SOAKING_STATES = (RolloutState.TESTING, RolloutState.APPROVED)


@dataclass(frozen=True)
class Soaking:
    """A rollout sitting in ``ring`` (a ring it can be promoted from) and the hosts there that have it."""

    rollout: Rollout
    ring: Ring
    hosts: tuple[str, ...]


@dataclass
class SoakPass:
    """What one pass of soak checks did: each check, the hosts it could not check and the rollbacks."""

    checks: list[tuple[SoakCheck, int | None]]
    entries: list[dict[str, Any]]
    rollbacks: list[dict[str, Any]]


def soaking(db: Database) -> list[Soaking]:
    """Rollouts whose promotion waits on their current ring, with the ring's hosts that installed them.

    An explicit approval promotes to every ring at once, so nothing soaks then."""
    out: list[Soaking] = []
    for r in db_rollouts.list_rollouts(db, _SOAKING_STATES):
        if r.ring is None or next_ring(r.ring, r.classification) is None or r.explicit_approval:
            continue
        ev = db_rollouts.ring_evidence(db, r)[r.ring]
        kept = tuple(h for h in ev.got if h not in ev.rolled_back)
        if kept:
            out.append(Soaking(r, r.ring, kept))
    return out


def due(
    db: Database, items: Sequence[Soaking], now: datetime, settings: PolicySettings
) -> dict[str, list[Soaking]]:
    """Per host name: the soaking rollouts it is due to be checked for (never, or ``interval`` ago)."""
    out: dict[str, list[Soaking]] = {}
    for s in items:
        for name in s.hosts:
            last = db_soak.last_checked(db, s.rollout.key, name, s.ring)
            if last is None or now - last >= settings.soak_check_interval:
                out.setdefault(name, []).append(s)
    return out


def _request(db: Database, host: Host) -> VerifyRequest | None:
    """Verify against the host's last patch, with the health that patch took before it changed anything."""
    assert host.id is not None
    subject = db_changes.last_patch_job(db, host.id)
    if subject is None:
        return None
    req = patch_verify_request(db, host, subject)
    return replace(req, health_before=db_soak.baseline(db, subject, host.id))


def _verdict(outcome: Any) -> tuple[SoakVerdict, tuple[str, ...]]:
    """A verification's verdict; anything else (failed, unreachable, cancelled) is unknown with why."""
    if outcome is None:
        return SoakVerdict.UNKNOWN, ("the check did not report",)
    if outcome.state == StepState.SUCCEEDED and isinstance(outcome.result, Verification):
        return SoakVerdict(str(outcome.result.verdict)), outcome.result.reasons
    return SoakVerdict.UNKNOWN, (f"could not check: {outcome.error or outcome.state}",)


def run_checks(db: Database, runner: JobRunner | None, now: datetime, settings: PolicySettings) -> SoakPass:
    """Check every host due, wait, and record the checks (the caller stores them). Without a runner
    (a dry run) the due checks are only listed as planned."""
    result = SoakPass([], [], [])
    todo = due(db, soaking(db), now, settings)
    if not todo:
        return result
    # as their policy stands: the group's defaults and the criticality rule fill what a host leaves unset
    by_name = {h.name: h for h in db_host_policy.effective_hosts(db, db_hosts.list_hosts(db))}
    busy = db_schedule.busy_hosts(db)
    hosts: list[Host] = []
    requests: dict[int, VerifyRequest] = {}
    for name, items in todo.items():
        host = by_name.get(name)
        if host is None or host.id is None:
            continue
        req = _request(db, host)
        if host.id in busy or req is None or runner is None:
            why = "planned" if runner is None else "busy with another job" if req else "no patch to check"
            result.entries.extend(_entry(s, name, None, why, None) for s in items)
            continue
        hosts.append(host)
        requests[host.id] = req
    if not hosts or runner is None:
        return result
    handle = runner.start_verify(
        db, hosts, requests=requests, trigger=JobTrigger.SCHEDULE, accept_new_keys=True
    )
    handle.wait()
    runner.flush()
    for host in hosts:
        assert host.id is not None
        verdict, reasons = _verdict(handle.outcomes.get(host.id))
        for s in todo[host.name]:
            check = SoakCheck(s.rollout.key, host.name, s.ring, now, verdict, reasons, handle.job_id)
            result.checks.append((check, host.id))
            result.entries.append(_entry(s, host.name, verdict, "", handle.job_id, reasons))
        if verdict == SoakVerdict.RED and rolls_back_on_red(host):
            result.rollbacks.append(_roll_back(db, runner, host))
    return result


def _entry(
    s: Soaking,
    host: str,
    verdict: SoakVerdict | None,
    status: str,
    job_id: int | None,
    reasons: Sequence[str] = (),
) -> dict[str, Any]:
    return {
        "update": s.rollout.key,
        "host": host,
        "ring": str(s.ring),
        "verdict": str(verdict) if verdict is not None else None,
        "status": status or "checked",
        "reasons": list(reasons),
        "job": job_id,
    }


def rolls_back_on_red(host: Host) -> bool:
    """Whether the host's policy (``host`` with its effective settings) rolls it back when a check turns
    red."""
    return host.auto_rollback == AutoRollback.ON_RED


def _roll_back(db: Database, runner: JobRunner, host: Host) -> dict[str, Any]:
    """Roll a host back to before its last patch because a soak check turned red, and wait for it."""
    try:
        handle = runner.start_rollback(db, [host], accept_new_keys=True)
    except PatchdeskError as exc:
        return {"host": host.name, "job": None, "status": "failed", "error": str(exc)}
    handle.wait()
    runner.flush()
    assert host.id is not None
    out = handle.outcomes.get(host.id)
    ok = out is not None and out.state == StepState.SUCCEEDED
    return {
        "host": host.name,
        "job": handle.job_id,
        "status": "ok" if ok else str(out.state if out else StepState.FAILED),
        "error": out.error if out else None,
    }
