"""Verify a host on its own: rescan and health judged against the change record of its last patch, or
against its last scan when nothing was patched since (``VerifyRequest.baseline``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from app.domain.verdicts import Baseline, Health, Verification
from app.jobs.engine import TaskContext
from app.jobs.host_session import open_session, verify_change


@dataclass(frozen=True)
class VerifyRequest:
    subject_job_id: int | None
    expected: dict[str, str | None]
    security: tuple[str, ...] = ()
    since: float | None = None
    security_pending: tuple[str, ...] = ()
    #: name -> package manager of the change record (Windows hosts have more than one)
    managers: Mapping[str, str] = field(default_factory=dict)
    #: PATCH: judge the change record; SCAN: nothing patched, ``security_pending`` is the last scan's
    baseline: Baseline = Baseline.NONE
    #: the health the patch took before changing anything (the soak checks pass it: load, memory and
    #: failed units are judged against it); None: judged on their own
    health_before: Health | None = None


def verify_host(ctx: TaskContext, *, requests: Mapping[int, VerifyRequest]) -> Verification:
    assert ctx.host.id is not None
    req = requests.get(ctx.host.id, VerifyRequest(None, {}))
    s = open_session(ctx)
    return verify_change(
        ctx,
        s,
        expected=req.expected,
        targeted_security=req.security,
        security_before=req.security_pending,
        health_before=req.health_before,
        journal_since=req.since,
        subject_job_id=req.subject_job_id,
        managers=req.managers,
        baseline=req.baseline,
    )
