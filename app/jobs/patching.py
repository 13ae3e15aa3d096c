"""Task functions that change hosts: plan, patch, verify, roll back, reboot and wait.

Order of a patch, and why:

1. plan — simulate the transaction, so every package it touches (dependencies too) is known;
2. snapshot — installed versions of all of them, *persisted before anything changes* so a console
   killed mid-install can still roll back what completed;
3. pre-command, install (package-manager output streamed into the host's log), post-command;
4. snapshot again — the change record is the difference (what really changed, not what was planned);
5. reboot per policy, waiting for the host to come back with a newer boot time;
6. verify — rescan and health against the baseline; green / amber / red with reasons.

Where the package manager reports its own transaction before changing anything (apt's pre-install
hook; ``Adapter.reports_transaction``) and no pre-command is set, steps 1 to 3 are one run: the install
itself reports every package it is about to change with the versions it read under its own lock,
and that snapshot is persisted the moment it arrives, before dpkg starts. Same record, two sessions
and a simulation fewer per host (and no gap between the plan and the install). With a pre-command
the plan comes first, so the command runs only when there is something to install.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from app.domain.classify import classify_all
from app.domain.errors import AdapterError, CancelledError, PatchdeskError, UnreachableError
from app.domain.events import ChangesRecorded, RolledBack, ScanRecorded, SnapshotTaken, VerificationRecorded
from app.domain.models import (
    InstallPlan,
    LogLevel,
    OsFacts,
    PackageChange,
    PendingUpdate,
    RebootPolicy,
    ScanResult,
)
from app.domain.verdicts import Health, Verdict, Verification, judge
from app.jobs.engine import TaskContext
from app.platforms.base import Adapter, Snapshot
from app.platforms.family import family_of
from app.platforms.registry import detect
from app.transports.base import Transport

#: How long a host may take to come back after a reboot before we say so.
REBOOT_TIMEOUT = 600.0
REBOOT_POLL = 2.0
LOCK_WAIT = 120.0


@dataclass(frozen=True)
class HostSelection:
    """What to install on one host, decided on the caller's side from the last scan."""

    names: tuple[str, ...]
    security: tuple[str, ...] = ()  # the security updates among them (verification checks they are gone)
    #: every security update pending before the patch: only one *not* in here is "new" afterwards
    security_pending: tuple[str, ...] = ()
    #: name -> package manager, where a host has more than one (Windows: "wua", "choco", "winget");
    #: names not in here go to the host's primary adapter
    managers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PatchResult:
    plan: InstallPlan
    changes: tuple[PackageChange, ...]
    rebooted: bool
    reboot_required: bool
    verification: Verification | None


@dataclass(frozen=True)
class RollbackResult:
    restored: tuple[PackageChange, ...]
    verification: Verification


@dataclass
class _Session:
    transport: Transport
    adapter: Adapter
    facts_managers: tuple[str, ...] = field(default_factory=tuple)
    #: further adapters by name (Windows: Chocolatey, winget next to Windows Update)
    extras: dict[str, Adapter] = field(default_factory=dict)
    #: the health baseline, when it was taken in the same session as the facts (see _open)
    baseline: Health | None = None

    def adapters(self) -> list[Adapter]:
        return [self.adapter, *self.extras.values()]

    def groups(
        self, names: Sequence[str], managers: Mapping[str, str] | None = None
    ) -> list[tuple[Adapter, list[str]]]:
        """``names`` split by the adapter that handles each, the primary adapter's group first.

        A host with one package manager (every Linux host) gets one group: the primary adapter and all
        names, whatever the map says.
        """
        if not self.extras:
            return [(self.adapter, list(names))]
        by: dict[str, list[str]] = {}
        for name in names:
            by.setdefault((managers or {}).get(name, self.adapter.name), []).append(name)
        out: list[tuple[Adapter, list[str]]] = []
        for manager, group in sorted(by.items(), key=lambda kv: kv[0] != self.adapter.name):
            adapter = self.adapter if manager == self.adapter.name else self.extras.get(manager)
            if adapter is None:
                raise AdapterError(
                    f"{', '.join(group[:5])} came from {manager}, which was not found on the host this "
                    "time; scan it again."
                )
            out.append((adapter, group))
        return out


def _facts(ctx: TaskContext, transport: Transport) -> tuple[OsFacts, frozenset[str]]:
    facts, found, _ = family_of(ctx.host).facts(transport)
    return facts, found


def _health(
    ctx: TaskContext,
    transport: Transport,
    services: Sequence[str] = (),
    since: float | None = None,
    timeout: float = 60,
) -> Health:
    """Health of the host: services, new errors since ``since``, load, memory and boot time."""
    return family_of(ctx.host).health(transport, services, since, timeout=timeout)


def _open(ctx: TaskContext, *, baseline: bool = False) -> _Session:
    """Connect, learn the OS and pick the adapters. ``baseline``: also take the health baseline (in
    ``_Session.baseline``), in the same session as the facts where the family allows (one shell
    session fewer per host and patch)."""
    family = family_of(ctx.host)
    transport = ctx.transport()
    health: Health | None = None
    if baseline:
        facts, found, health = family.facts_and_health(transport, ctx.host.services)
    else:
        facts, found, _ = family.facts(transport)
    adapter = detect(facts, found, host=ctx.host.name)
    extras = {a.name: a for a in family.extra_adapters(found, ctx.host.name)}
    return _Session(transport, adapter, extras=extras, baseline=health)


class LineLogger:
    """Turns streamed output chunks into log lines (partial lines wait for their newline)."""

    def __init__(self, ctx: TaskContext, prefix: str = "") -> None:
        self.ctx = ctx
        self.prefix = prefix
        self.buffers: dict[str, str] = {"stdout": "", "stderr": ""}

    def __call__(self, stream: str, chunk: bytes) -> None:
        buf = self.buffers.get(stream, "") + chunk.decode("utf-8", errors="replace")
        *lines, rest = buf.split("\n")
        self.buffers[stream] = rest
        for line in lines:
            self._emit(stream, line)

    def _emit(self, stream: str, line: str) -> None:
        line = line.rstrip("\r")
        if line.strip():
            level = LogLevel.WARNING if stream == "stderr" else LogLevel.INFO
            self.ctx.log(level, self.prefix + line)

    def flush(self) -> None:
        for stream, rest in self.buffers.items():
            if rest:
                self._emit(stream, rest)
        self.buffers = {"stdout": "", "stderr": ""}


def _adapter_log(ctx: TaskContext) -> Callable[[str, str], None]:
    return lambda level, text: ctx.log(LogLevel(level), text)


def _run_hook(ctx: TaskContext, transport: Transport, command: str | None, what: str) -> None:
    if not command:
        return
    ctx.log(LogLevel.INFO, f"Running the {what} command: {command}")
    out = LineLogger(ctx, f"[{what}] ")
    result = transport.run(command, sudo=True, timeout=600, on_output=out)
    out.flush()
    if not result.ok:
        raise AdapterError(
            f"The {what} command on {ctx.host.name} failed with exit status {result.exit_status}."
        )


def _diff(
    manager: str,
    before: Snapshot,
    after: Snapshot,
    arch: Mapping[str, str],
    kb: Mapping[str, str | None] | None = None,
) -> tuple[PackageChange, ...]:
    return tuple(
        PackageChange(
            manager, name, before.get(name), after.get(name), arch.get(name, ""), (kb or {}).get(name)
        )
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    )


def _snapshot_all(s: _Session, groups: Sequence[tuple[Adapter, Sequence[str]]]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for adapter, names in groups:
        out.update(adapter.snapshot(s.transport, list(names)))
    return out


def _rescan(ctx: TaskContext, s: _Session) -> ScanResult:
    facts, _ = _facts(ctx, s.transport)
    raw = list(s.adapter.scan(s.transport, log=_adapter_log(ctx)))
    for extra in s.extras.values():
        try:
            raw.extend(extra.scan(s.transport, log=_adapter_log(ctx)))
        except AdapterError as exc:  # as in the scan: a third-party manager must not hide the rest
            ctx.log(LogLevel.WARNING, f"{extra.name}: {exc}")
    pending = classify_all(raw)
    reboot, pkgs = s.adapter.reboot_required(s.transport)
    result = ScanResult(facts, (s.adapter.name, *s.extras), tuple(pending), reboot, pkgs)
    assert ctx.host.id is not None
    ctx.report(ScanRecorded(ctx.job_id, host_id=ctx.host.id, result=result))
    return result


def _verify(
    ctx: TaskContext,
    s: _Session,
    *,
    expected: Mapping[str, str | None],
    targeted_security: Sequence[str],
    security_before: Sequence[str],
    health_before: Health | None,
    journal_since: float | None,
    subject_job_id: int | None,
    managers: Mapping[str, str] | None = None,
) -> Verification:
    ctx.log(LogLevel.INFO, "Verifying: rescan and health checks…")
    rescan = _rescan(ctx, s)
    installed = _snapshot_all(s, s.groups(list(expected), managers)) if expected else {}
    health = _health(ctx, s.transport, ctx.host.services, journal_since)
    verification = judge(
        expected=expected,
        installed=installed,
        targeted_security=targeted_security,
        pending_after=rescan.pending,
        security_before=security_before,
        health_before=health_before,
        health_after=health,
        services=ctx.host.services,
    )
    if rescan.reboot_required:
        verification = Verification(
            verification.verdict if verification.verdict != Verdict.GREEN else Verdict.AMBER,
            (*verification.reasons, "a reboot is still pending"),
        )
    verification = Verification(verification.verdict, family_of(ctx.host).wording(verification.reasons))
    level = {Verdict.GREEN: LogLevel.INFO, Verdict.AMBER: LogLevel.WARNING, Verdict.RED: LogLevel.ERROR}
    ctx.log(
        level[verification.verdict],
        f"Verification {verification.verdict}: " + "; ".join(verification.reasons),
    )
    assert ctx.host.id is not None
    ctx.report(
        VerificationRecorded(
            ctx.job_id,
            host_id=ctx.host.id,
            subject_job_id=subject_job_id,
            verdict=str(verification.verdict),
            reasons=verification.reasons,
        )
    )
    return verification


# -- plan ------------------------------------------------------------------------------------------


def plan_host(ctx: TaskContext, *, selections: Mapping[int, HostSelection]) -> InstallPlan:
    """Read-only: what installing the selection would change on this host."""
    assert ctx.host.id is not None
    sel = selections.get(ctx.host.id, HostSelection(()))
    if not sel.names:
        ctx.log(LogLevel.INFO, "Nothing selected for this host.")
        return InstallPlan(())
    s = _open(ctx)
    plan = _plan(ctx, s, s.groups(sel.names, sel.managers))
    for c in plan.changes:
        ctx.log(LogLevel.INFO, f"would {c.action}: {c.name} {c.from_version or '-'} → {c.to_version or '-'}")
    return plan


def _plan(ctx: TaskContext, s: _Session, groups: Sequence[tuple[Adapter, Sequence[str]]]) -> InstallPlan:
    """One plan over every adapter's group (a single group is the adapter's own plan, unchanged)."""
    plans = [adapter.plan(s.transport, list(names), log=_adapter_log(ctx)) for adapter, names in groups]
    if len(plans) == 1:
        return plans[0]
    return InstallPlan(
        tuple(c for p in plans for c in p.changes),
        reboot_expected=any(p.reboot_expected for p in plans),
        warnings=tuple(w for p in plans for w in p.warnings),
    )


def _log_install_results(ctx: TaskContext, adapter: Adapter) -> None:
    """The package manager's own result per package (where it has one), in the job log the history
    shows."""
    for level, line in adapter.install_results():
        ctx.log(LogLevel(level), line)


# -- patch -----------------------------------------------------------------------------------------


#: what an install step leaves: the plan, what really changed, the transaction id, the install's
#: failure (raised once the changes are recorded) and the reboot check when it shared a session
_RebootAnswer = tuple[bool, tuple[str, ...]]
_Installed = tuple[
    InstallPlan, tuple[PackageChange, ...], str | None, PatchdeskError | None, _RebootAnswer | None
]


def _log_plan(ctx: TaskContext, plan: InstallPlan) -> None:
    ctx.log(
        LogLevel.INFO,
        f"Plan: {len(plan.changes)} package(s): "
        + ", ".join(f"{c.name} {c.from_version or '-'}→{c.to_version or '-'}" for c in plan.changes),
    )


def _after(
    ctx: TaskContext, s: _Session, adapter: Adapter, names: Sequence[str], failure: PatchdeskError | None
) -> tuple[Snapshot, _RebootAnswer | None]:
    """The snapshot after the install; with the reboot check in the same session when nothing runs
    between them (a post-patch hook could change what needs a reboot). When it fails after a failed
    install, the install's own error is the one raised: it says more."""
    try:
        if adapter is s.adapter and failure is None and not ctx.host.post_command:
            return adapter.snapshot_and_reboot(s.transport, names)
        return adapter.snapshot(s.transport, names), None
    except PatchdeskError:
        if failure is not None:
            raise failure from None
        raise


def _installing(
    ctx: TaskContext, adapter: Adapter, install: Callable[[LineLogger], str | None]
) -> tuple[str | None, PatchdeskError | None]:
    """Run one install with its output streamed into the host's log: (transaction id, None), or
    (None, the known failure) -- raised by the caller once the changes are recorded."""
    out = LineLogger(ctx)
    try:
        return install(out), None
    except CancelledError:
        raise
    except PatchdeskError as exc:
        return None, exc
    finally:
        out.flush()
        _log_install_results(ctx, adapter)


def _install_reported(
    ctx: TaskContext, s: _Session, adapter: Adapter, names: Sequence[str], lock_wait: float
) -> _Installed | None:
    """One package-manager run that reports its transaction before changing anything (apt's pre-install
    hook): the "before" snapshot is what the package manager read under its own lock, recorded the
    moment it arrives (before dpkg starts), so an interrupted job can still be rolled back."""
    host_id = ctx.host.id
    assert host_id is not None
    seen: list[InstallPlan] = []

    def on_transaction(plan: InstallPlan) -> None:
        seen.append(plan)
        _log_plan(ctx, plan)
        versions = {c.name: c.from_version for c in plan.changes}
        ctx.report(SnapshotTaken(ctx.job_id, host_id=host_id, manager=adapter.name, versions=versions))
        ctx.progress(0.3, "installing")

    ctx.progress(0.2, "installing")
    txid, failure = _installing(
        ctx,
        adapter,
        lambda out: adapter.install_reporting(
            s.transport,
            list(names),
            on_transaction=on_transaction,
            log=_adapter_log(ctx),
            on_output=out,
            lock_wait=lock_wait,
        ),
    )
    if not seen or not seen[0].changes:
        if failure is not None:
            raise failure  # stopped before its transaction: nothing was changed
        return None
    plan = seen[0]
    before: Snapshot = {c.name: c.from_version for c in plan.changes}
    after, reboot_answer = _after(ctx, s, adapter, list(before), failure)
    arch = {c.name: c.arch for c in plan.changes}
    return plan, _diff(adapter.name, before, after, arch), txid, failure, reboot_answer


def _install_planned(
    ctx: TaskContext, s: _Session, groups: Sequence[tuple[Adapter, Sequence[str]]], lock_wait: float
) -> _Installed | None:
    """Plan, snapshot every package the plan touches, run the pre-patch hook, install, snapshot again."""
    host = ctx.host
    assert host.id is not None
    ctx.progress(0.1, "planning")
    plan = _plan(ctx, s, groups)
    if not plan.changes:
        return None
    arch = {c.name: c.arch for c in plan.changes}
    kbs = {c.name: c.kb for c in plan.changes if c.kb}
    # what each adapter's plan touches (dependencies included), snapshotted by that adapter
    touched: dict[str, list[str]] = {}
    for c in plan.changes:
        touched.setdefault(c.manager, []).append(c.name)
    _log_plan(ctx, plan)

    def plan_names(adapter: Adapter, names: Sequence[str]) -> list[str]:
        # a single group keeps the old behaviour exactly: every package the plan touches
        if len(groups) == 1:
            return [c.name for c in plan.changes]
        return touched.get(adapter.name, [])

    ctx.progress(0.15, "snapshot")
    befores: list[Snapshot] = []
    for adapter, names in groups:
        before = adapter.snapshot(s.transport, plan_names(adapter, names))
        befores.append(before)
        ctx.report(SnapshotTaken(ctx.job_id, host_id=host.id, manager=adapter.name, versions=dict(before)))

    _run_hook(ctx, s.transport, host.pre_command, "pre-patch")
    ctx.progress(0.2, "installing")
    failure: PatchdeskError | None = None
    txid: str | None = None
    done = 0
    for adapter, names in groups:
        if len(groups) > 1:
            ctx.log(LogLevel.INFO, f"Installing with {adapter.name}: {', '.join(names)}")

        def install(out: LineLogger, adapter: Adapter = adapter, names: Sequence[str] = names) -> str | None:
            return adapter.install(
                s.transport, list(names), log=_adapter_log(ctx), on_output=out, lock_wait=lock_wait
            )

        txid, failure = _installing(ctx, adapter, install)
        done += 1
        if failure is not None:
            break
    if len(groups) > 1:
        txid = None  # no single transaction undoes several package managers
    # Record what really changed even when the install failed halfway: rollback needs it.
    changes_list: list[PackageChange] = []
    reboot_answer: _RebootAnswer | None = None
    for (adapter, names), before in zip(groups[:done], befores, strict=False):
        after, answer = _after(ctx, s, adapter, plan_names(adapter, names), failure)
        reboot_answer = answer if adapter is s.adapter else reboot_answer
        changes_list.extend(_diff(adapter.name, before, after, arch, kbs))
    return plan, tuple(changes_list), txid, failure, reboot_answer


def patch_host(
    ctx: TaskContext,
    *,
    selections: Mapping[int, HostSelection],
    reboot: RebootPolicy | None = None,
    verify: bool = True,
    lock_wait: float = LOCK_WAIT,
    reboot_timeout: float = REBOOT_TIMEOUT,
) -> PatchResult:
    host = ctx.host
    assert host.id is not None
    sel = selections.get(host.id, HostSelection(()))
    if not sel.names:
        ctx.log(LogLevel.INFO, "Nothing to install on this host.")
        return PatchResult(InstallPlan(()), (), False, False, None)
    ctx.log(LogLevel.INFO, f"Connecting to {host.address}…")
    s = _open(ctx, baseline=True)
    ctx.progress(0.05, "health baseline")
    baseline = s.baseline
    assert baseline is not None  # _open(baseline=True) always takes it
    security_before = list(sel.security_pending or sel.security)

    groups = s.groups(sel.names, sel.managers)
    adapter = groups[0][0]
    if len(groups) == 1 and adapter.reports_transaction and not host.pre_command:
        # the package manager reports its own transaction: no separate plan and snapshot sessions
        done = _install_reported(ctx, s, adapter, groups[0][1], lock_wait)
    else:
        done = _install_planned(ctx, s, groups, lock_wait)
    if done is None:
        ctx.log(LogLevel.INFO, "The package manager has nothing to do: already up to date.")
        return PatchResult(InstallPlan(()), (), False, False, None)
    plan, changes, txid, failure, reboot_answer = done
    ctx.report(ChangesRecorded(ctx.job_id, host_id=host.id, changes=changes, transaction_id=txid))
    for c in changes:
        ctx.log(
            LogLevel.INFO,
            f"changed: {c.name} {c.from_version or '-'} → {c.to_version or '-'}"
            + (f" ({c.kb})" if c.kb and c.kb != c.name else ""),
        )
    if failure is not None:
        raise failure
    _run_hook(ctx, s.transport, host.post_command, "post-patch")

    ctx.progress(0.7, "reboot check")
    needed, pkgs = reboot_answer if reboot_answer is not None else s.adapter.reboot_required(s.transport)
    for extra in s.extras.values():
        if any(a is extra for a, _ in groups):
            extra_needed, extra_pkgs = extra.reboot_required(s.transport)
            needed = needed or extra_needed
            pkgs = (*pkgs, *extra_pkgs)
    policy = reboot or host.reboot_policy
    rebooted = False
    if policy == RebootPolicy.ALWAYS or (policy == RebootPolicy.IF_NEEDED and needed):
        why = f" (required by {', '.join(pkgs)})" if pkgs else ""
        ctx.log(LogLevel.INFO, f"Rebooting{why}…")
        s = reboot_and_wait(ctx, s, baseline.boot_time, reboot_timeout)
        rebooted = True
        baseline_for_load = None  # load right after boot says nothing against the old baseline
    else:
        baseline_for_load = baseline
        if needed:
            ctx.log(
                LogLevel.WARNING, "A reboot is required; the reboot policy is 'never', so it is left to you."
            )

    verification = None
    if verify:
        ctx.progress(0.85, "verifying")
        verification = _verify(
            ctx,
            s,
            expected={c.name: c.to_version for c in plan.changes},
            targeted_security=sel.security,
            security_before=security_before,
            health_before=baseline_for_load,
            journal_since=baseline.now,
            subject_job_id=ctx.job_id,
            managers={c.name: c.manager for c in plan.changes},
        )
    return PatchResult(plan, changes, rebooted, needed and not rebooted, verification)


# -- reboot ----------------------------------------------------------------------------------------


def reboot_and_wait(ctx: TaskContext, s: _Session, boot_before: float | None, timeout: float) -> _Session:
    """Reboot the host and wait until it answers again with a boot time after the reboot."""
    started = time.time()
    if boot_before is None:
        boot_before = started - 1
    family_of(ctx.host).restart(s.transport, ctx.host.name)
    ctx.close(discard=True)  # the host is going down: never keep this connection
    limit = time.monotonic() + timeout
    last_error = "no answer yet"
    time.sleep(REBOOT_POLL)
    while time.monotonic() < limit:
        ctx.deadline.check()
        try:
            transport = ctx.transport()
            health = _health(ctx, transport, (), None, timeout=20)
            if health.boot_time is not None and health.boot_time > boot_before + 1:
                ctx.log(LogLevel.INFO, f"{ctx.host.name} is back after {time.time() - started:.0f} s.")
                return _open(ctx)
            last_error = "still running since before the reboot"
        except CancelledError:
            raise
        except PatchdeskError as exc:
            last_error = str(exc)
        ctx.close(discard=True)
        time.sleep(REBOOT_POLL)
    raise UnreachableError(
        f"{ctx.host.name} did not come back within {timeout:.0f} s after the reboot ({last_error}). "
        "Check its console; the change record is kept, so rollback is possible once it is up."
    )


# -- verify ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VerifyRequest:
    subject_job_id: int | None
    expected: dict[str, str | None]
    security: tuple[str, ...] = ()
    since: float | None = None
    security_pending: tuple[str, ...] = ()
    #: name -> package manager of the change record (Windows hosts have more than one)
    managers: Mapping[str, str] = field(default_factory=dict)


def verify_host(ctx: TaskContext, *, requests: Mapping[int, VerifyRequest]) -> Verification:
    assert ctx.host.id is not None
    req = requests.get(ctx.host.id, VerifyRequest(None, {}))
    s = _open(ctx)
    return _verify(
        ctx,
        s,
        expected=req.expected,
        targeted_security=req.security,
        security_before=req.security_pending,
        health_before=None,
        journal_since=req.since,
        subject_job_id=req.subject_job_id,
        managers=req.managers,
    )


# -- rollback --------------------------------------------------------------------------------------


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


def rollback_host(
    ctx: TaskContext, *, requests: Mapping[int, RollbackRequest], lock_wait: float = LOCK_WAIT
) -> RollbackResult:
    host = ctx.host
    assert host.id is not None
    req = requests[host.id]
    s = _open(ctx)
    changes = list(req.changes)
    if not changes and req.snapshot:
        # The patch was interrupted before it recorded its changes: compare its snapshot with now.
        now = s.adapter.snapshot(s.transport, list(req.snapshot))
        changes = list(_diff(s.adapter.name, now, req.snapshot, {}))
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
                    log=_adapter_log(ctx),
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
                _diff(
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
    verification = _verify(
        ctx,
        s,
        expected={c.name: c.from_version for c in changes},
        targeted_security=(),
        security_before=[*req.security_pending, *names],
        health_before=None,
        journal_since=None,
        subject_job_id=ctx.job_id,
        managers=managers,
    )
    return RollbackResult(restored, verification)


def security_names(pending: Sequence[PendingUpdate]) -> tuple[str, ...]:
    return tuple(sorted(u.name for u in pending if u.security))
