"""Roll a host back to the versions before a job, driven by that job's change record alone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from app.domain.errors import AdapterError
from app.domain.events import ChangesRecorded, RolledBack, SnapshotTaken
from app.domain.models import LogLevel, PackageChange
from app.domain.verdicts import Verdict, Verification
from app.jobs.engine import LOCK_WAIT, TaskContext
from app.jobs.host_session import (
    HostSession,
    LineLogger,
    adapter_log,
    diff_snapshots,
    open_session,
    verify_change,
)
from app.platforms.base import Adapter, Snapshot


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
    # the health baseline for its clock: the verification then counts only journal errors logged after
    # the rollback began, not those of the broken version being undone (systemd hosts showed them)
    s = open_session(ctx, baseline=True)
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
    return undo_changes(
        ctx,
        s,
        changes,
        subject_job_id=req.subject_job_id,
        transaction_id=req.transaction_id if req.changes else None,
        security_pending=req.security_pending,
        lock_wait=lock_wait,
        journal_since=s.baseline.now if s.baseline is not None else None,
    )


def undo_changes(
    ctx: TaskContext,
    s: HostSession,
    changes: Sequence[PackageChange],
    *,
    subject_job_id: int,
    transaction_id: str | None,
    security_pending: Sequence[str],
    lock_wait: float = LOCK_WAIT,
    own_record: bool = True,
    journal_since: float | None = None,
) -> RollbackResult:
    """Put back the from-versions of ``changes`` in the open session ``s``, then verify.

    Used by a rollback job and by a patch's automatic rollback on red (app/jobs/patching.py), which
    passes ``own_record=False``: its job already holds the change record being undone, so the
    rollback's snapshots and changes are logged and returned rather than recorded as that job's.
    ``journal_since``: the host's clock when the rollback began (None: the health check's own window)."""
    host = ctx.host
    assert host.id is not None
    names = [c.name for c in changes]
    managers = {c.name: c.manager for c in changes}
    groups = s.groups(names, managers)
    by_name = {c.name: c for c in changes}
    _check_available(ctx, s, groups, by_name, subject_job_id)
    ctx.log(
        LogLevel.INFO,
        "Rolling back: "
        + ", ".join(f"{c.name} {c.to_version or '-'} → {c.from_version or 'removed'}" for c in changes),
    )
    befores: list[Snapshot] = []
    for adapter, group in groups:
        before = adapter.snapshot(s.transport, group)
        befores.append(before)
        if own_record:
            ctx.report(
                SnapshotTaken(ctx.job_id, host_id=host.id, manager=adapter.name, versions=dict(before))
            )
    done = 0
    try:
        for adapter, group in groups:
            out = LineLogger(ctx)
            try:
                adapter.rollback(
                    s.transport,
                    [by_name[n] for n in group],
                    transaction_id=transaction_id if len(groups) == 1 else None,
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
        if own_record:
            ctx.report(ChangesRecorded(ctx.job_id, host_id=host.id, changes=restored))
        for c in restored:
            ctx.log(LogLevel.INFO, f"restored: {c.name} {c.from_version or '-'} → {c.to_version or '-'}")
    ctx.report(RolledBack(ctx.job_id, host_id=host.id, subject_job_id=subject_job_id))
    verification = verify_change(
        ctx,
        s,
        expected={c.name: c.from_version for c in changes},
        targeted_security=(),
        # firmware is installed and recorded as GUID=VERSION but pending as its GUID
        # (app/jobs/selection.py: install_name): the rollback brings back that name too
        security_before=[*security_pending, *names, *(n.partition("=")[0] for n in names)],
        health_before=None,
        journal_since=journal_since,
        subject_job_id=ctx.job_id,
        managers=managers,
    )
    return RollbackResult(restored, verification)


def _check_available(
    ctx: TaskContext,
    s: HostSession,
    groups: Sequence[tuple[Adapter, list[str]]],
    by_name: Mapping[str, PackageChange],
    subject_job_id: int,
) -> None:
    """Everything must be possible before anything is touched: no half rollbacks."""
    missing: list[str] = []
    for adapter, group in groups:
        wanted = {n: by_name[n].from_version for n in group if by_name[n].from_version is not None}
        available = adapter.available_versions(s.transport, list(wanted)) if wanted else {}
        missing += [f"{n} {v}" for n, v in sorted(wanted.items()) if v not in available.get(n, frozenset())]
    if missing:
        raise AdapterError(
            f"Cannot roll back job {subject_job_id} on {ctx.host.name}: no longer available from its "
            f"repositories: {', '.join(missing)}. Nothing was changed."
        )
