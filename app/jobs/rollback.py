"""Roll a host back to the versions before a job, driven by that job's change record alone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from app.domain.errors import AdapterError
from app.domain.events import ChangesRecorded, RolledBack, SnapshotTaken
from app.domain.models import LogLevel, PackageChange
from app.domain.verdicts import Verdict, Verification
from app.jobs.engine import TaskContext
from app.jobs.host_session import (
    LOCK_WAIT,
    LineLogger,
    adapter_log,
    diff_snapshots,
    open_session,
    verify_change,
)
from app.platforms.base import Snapshot


@dataclass(frozen=True)
class RollbackRequest:
    subject_job_id: int
    changes: tuple[PackageChange, ...]
    #: versions before the subject job; used when it was interrupted before its change record
    snapshot: dict[str, str | None] = field(default_factory=dict)
    #: security updates pending before the rollback (the rollback itself brings back those it undoes)
    security_pending: tuple[str, ...] = ()
    #: the package manager's id of the subject transaction (dnf can undo it as a whole)
    transaction_id: str | None = None


@dataclass(frozen=True)
class RollbackResult:
    restored: tuple[PackageChange, ...]
    verification: Verification


def rollback_host(
    ctx: TaskContext, *, requests: Mapping[int, RollbackRequest], lock_wait: float = LOCK_WAIT
) -> RollbackResult:
    host = ctx.host
    assert host.id is not None
    req = requests[host.id]
    s = open_session(ctx)
    changes = list(req.changes)
    if not changes and req.snapshot:
        # The patch was interrupted before it recorded its changes: compare its snapshot with now.
        now = s.adapter.snapshot(s.transport, list(req.snapshot))
        changes = list(diff_snapshots(s.adapter.name, now, req.snapshot, {}))
        changes = [c.reverse() for c in changes]
        ctx.log(
            LogLevel.INFO,
            f"Job {req.subject_job_id} was interrupted; derived {len(changes)} change(s) from its snapshot.",
        )
    if not changes:
        ctx.log(
            LogLevel.INFO, f"Job {req.subject_job_id} changed nothing on this host; nothing to roll back."
        )
        v = Verification(Verdict.GREEN, ("nothing to roll back",))
        ctx.report(RolledBack(ctx.job_id, host_id=host.id, subject_job_id=req.subject_job_id))
        return RollbackResult((), v)
    names = [c.name for c in changes]
    managers = {c.name: c.manager for c in changes}
    groups = s.groups(names, managers)
    by_name = {c.name: c for c in changes}
    # Everything must be possible before anything is touched: no half rollbacks.
    missing: list[str] = []
    for adapter, group in groups:
        wanted = {n: by_name[n].from_version for n in group if by_name[n].from_version is not None}
        available = adapter.available_versions(s.transport, list(wanted)) if wanted else {}
        missing += [f"{n} {v}" for n, v in sorted(wanted.items()) if v not in available.get(n, frozenset())]
    if missing:
        raise AdapterError(
            f"Cannot roll back job {req.subject_job_id} on {host.name}: no longer available from its "
            f"repositories: {', '.join(missing)}. Nothing was changed."
        )
    ctx.log(
        LogLevel.INFO,
        "Rolling back: "
        + ", ".join(f"{c.name} {c.to_version or '-'} → {c.from_version or 'removed'}" for c in changes),
    )
    befores: list[Snapshot] = []
    for adapter, group in groups:
        before = adapter.snapshot(s.transport, group)
        befores.append(before)
        ctx.report(SnapshotTaken(ctx.job_id, host_id=host.id, manager=adapter.name, versions=dict(before)))
    done = 0
    try:
        for adapter, group in groups:
            out = LineLogger(ctx)
            try:
                adapter.rollback(
                    s.transport,
                    [by_name[n] for n in group],
                    transaction_id=req.transaction_id if req.changes and len(groups) == 1 else None,
                    log=adapter_log(ctx),
                    on_output=out,
                    lock_wait=lock_wait,
                )
            finally:
                out.flush()
                done += 1
    finally:
        restored_list: list[PackageChange] = []
        for (adapter, group), before in zip(groups[:done], befores, strict=False):
            after = adapter.snapshot(s.transport, group)
            restored_list.extend(
                diff_snapshots(
                    adapter.name,
                    before,
                    after,
                    {c.name: c.arch for c in changes},
                    {c.name: c.kb for c in changes if c.kb},
                )
            )
        restored = tuple(restored_list)
        ctx.report(ChangesRecorded(ctx.job_id, host_id=host.id, changes=restored))
    ctx.report(RolledBack(ctx.job_id, host_id=host.id, subject_job_id=req.subject_job_id))
    verification = verify_change(
        ctx,
        s,
        expected={c.name: c.from_version for c in changes},
        targeted_security=(),
        # firmware is installed and recorded as GUID=VERSION but pending as its GUID
        # (app/jobs/selection.py: install_name): the rollback brings back that name too
        security_before=[*req.security_pending, *names, *(n.partition("=")[0] for n in names)],
        health_before=None,
        journal_since=None,
        subject_job_id=ctx.job_id,
        managers=managers,
    )
    return RollbackResult(restored, verification)
