"""Task functions that plan and patch a host (the session they share is in host_session.py).

Order of a patch, and why:

1. plan — simulate the transaction, so every package it touches (dependencies too) is known;
2. snapshot — installed versions of all of them, *persisted before anything changes* so a console
   killed mid-install can still roll back what completed;
3. pre-command, install (package-manager output streamed into the host's log), post-command;
4. snapshot again — the change record is the difference (what really changed, not what was planned);
5. reboot per policy, waiting for the host to come back with a boot time newer than the one read just
   before the restart order (not the one from before the install: a host may restart during it);
6. verify — rescan and health against the baseline; green / amber / red with reasons.

Where the package manager reports its own transaction before changing anything (apt's pre-install
hook; ``Adapter.reports_transaction``) and no pre-command is set, steps 1 to 3 are one run: the install
itself reports every package it is about to change with the versions it read under its own lock,
and that snapshot is persisted the moment it arrives, before dpkg starts. Same record, two sessions
and a simulation fewer per host (and no gap between the plan and the install). With a pre-command
the plan comes first, so the command runs only when there is something to install.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace

from app.domain.errors import CancelledError, PatchdeskError
from app.domain.events import ChangesRecorded, HealthBaselineTaken, SnapshotTaken
from app.domain.models import (
    AutoRollback,
    InstallPlan,
    LogLevel,
    PackageChange,
    PendingUpdate,
    RebootPolicy,
)
from app.domain.verdicts import CheckResult, Verdict, Verification
from app.jobs.engine import LOCK_WAIT, REBOOT_TIMEOUT, TaskContext
from app.jobs.health_check import run_custom_check
from app.jobs.host_session import (
    HostSession,
    LineLogger,
    adapter_log,
    diff_snapshots,
    open_session,
    reboot_and_wait,
    run_hook,
    verify_change,
)
from app.jobs.rollback import undo_changes
from app.platforms.base import Adapter, Snapshot
from app.platforms.family import family_of


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
    #: install the selected packages the host holds back too (patch --include-held); without it they
    #: are left out, and the plan and the result name them
    include_held: bool = False


@dataclass(frozen=True)
class AutoRollbackOutcome:
    """A patch's automatic rollback on red: why, what it put back and how its verification went
    (None with ``error`` when the rollback itself could not be done)."""

    reason: tuple[str, ...]
    trigger: str  # "policy on-red" or "patch --auto-rollback"
    restored: tuple[PackageChange, ...] = ()
    verification: Verification | None = None
    error: str | None = None

    @property
    def result(self) -> str:
        if self.error is not None:
            return "automatic rollback failed"
        return "rolled back automatically"

    def as_json(self) -> dict[str, object]:
        return {
            "result": self.result,
            "trigger": self.trigger,
            "reason": list(self.reason),
            "restored": [c.as_json() for c in self.restored],
            "verification": self.verification.as_json() if self.verification else None,
            "error": self.error,
        }


@dataclass(frozen=True)
class PatchResult:
    plan: InstallPlan
    changes: tuple[PackageChange, ...]
    rebooted: bool
    reboot_required: bool
    verification: Verification | None
    #: the custom health check before the change (None: the host has none)
    check_before: CheckResult | None = None
    auto_rollback: AutoRollbackOutcome | None = None


class RolledBackOnRed(PatchdeskError):
    """A patch whose verification was red and that was rolled back at once: the host step fails, and
    ``result`` keeps what happened (the patch, the rollback) for the job's report."""

    def __init__(self, message: str, result: PatchResult) -> None:
        super().__init__(message)
        self.result = result


# -- plan ------------------------------------------------------------------------------------------


def plan_host(ctx: TaskContext, *, selections: Mapping[int, HostSelection]) -> InstallPlan:
    """Read-only: what installing the selection would change on this host."""
    assert ctx.host.id is not None
    sel = selections.get(ctx.host.id, HostSelection(()))
    if not sel.names:
        ctx.log(LogLevel.INFO, "Nothing selected for this host.")
        return InstallPlan(())
    s = open_session(ctx)
    sel, held = _leave_held(ctx, s, sel)
    if not sel.names:
        return InstallPlan((), held=held)
    plan = _plan(ctx, s, s.groups(sel.names, sel.managers))
    for c in plan.changes:
        ctx.log(LogLevel.INFO, f"would {c.action}: {c.name} {c.from_version or '-'} → {c.to_version or '-'}")
    return replace(plan, held=held)


def _leave_held(
    ctx: TaskContext, s: HostSession, sel: HostSelection
) -> tuple[HostSelection, tuple[str, ...]]:
    """The selection without the packages the host holds back (unless ``include_held``), and those.

    Asked of the host itself at the time of the change (a hold set since the scan counts too); never
    silent: the held packages are named in the log, and by the plan and the result."""
    held: set[str] = set()
    for adapter, names in s.groups(sel.names, sel.managers):
        adapter.allow_held = sel.include_held
        holds = adapter.held(s.transport)
        held |= {n for n in names if n.split(":")[0] in holds}
    if not held:
        return sel, ()
    listed = ", ".join(sorted(held))
    if sel.include_held:
        ctx.log(LogLevel.WARNING, f"Held on the host, installed as asked (--include-held): {listed}")
        return sel, ()
    ctx.log(
        LogLevel.WARNING,
        f"Held on the host, will not be installed: {listed} (patch --include-held installs them).",
    )
    return replace(sel, names=tuple(n for n in sel.names if n not in held)), tuple(sorted(held))


def _plan(ctx: TaskContext, s: HostSession, groups: Sequence[tuple[Adapter, Sequence[str]]]) -> InstallPlan:
    """One plan over every adapter's group (a single group is the adapter's own plan, unchanged)."""
    plans = [adapter.plan(s.transport, list(names), log=adapter_log(ctx)) for adapter, names in groups]
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
    ctx: TaskContext, s: HostSession, adapter: Adapter, names: Sequence[str], failure: PatchdeskError | None
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
    ctx: TaskContext, s: HostSession, adapter: Adapter, names: Sequence[str], lock_wait: float
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
            log=adapter_log(ctx),
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
    return plan, diff_snapshots(adapter.name, before, after, arch), txid, failure, reboot_answer


def _install_planned(
    ctx: TaskContext, s: HostSession, groups: Sequence[tuple[Adapter, Sequence[str]]], lock_wait: float
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

    run_hook(ctx, s.transport, host.pre_command, "pre-patch")
    ctx.progress(0.2, "installing")
    failure: PatchdeskError | None = None
    txid: str | None = None
    done = 0
    for adapter, names in groups:
        if len(groups) > 1:
            ctx.log(LogLevel.INFO, f"Installing with {adapter.name}: {', '.join(names)}")

        def install(out: LineLogger, adapter: Adapter = adapter, names: Sequence[str] = names) -> str | None:
            return adapter.install(
                s.transport, list(names), log=adapter_log(ctx), on_output=out, lock_wait=lock_wait
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
        changes_list.extend(diff_snapshots(adapter.name, before, after, arch, kbs))
    return plan, tuple(changes_list), txid, failure, reboot_answer


def _boot_time_before_restart(ctx: TaskContext, s: HostSession, baseline: float | None) -> float | None:
    """The host's boot time read just before the restart order. The one from before the install will
    not do: a host that restarted during the install (Windows does, mid-task) has a newer one, and the
    wait would find it "back" while it is still about to go down."""
    try:
        boot = family_of(ctx.host).health(s.transport, (), None, timeout=60).boot_time
    except CancelledError:
        raise
    except PatchdeskError as exc:
        boot, why = None, str(exc)
    else:
        why = "the host did not say"
    if boot is None:
        ctx.log(
            LogLevel.WARNING,
            f"Could not read the boot time of {ctx.host.name} before the restart ({why}); waiting for "
            "one newer than before the installation instead.",
        )
        return baseline
    return boot


def patch_host(
    ctx: TaskContext,
    *,
    selections: Mapping[int, HostSelection],
    reboot: RebootPolicy | None = None,
    verify: bool = True,
    lock_wait: float = LOCK_WAIT,
    reboot_timeout: float = REBOOT_TIMEOUT,
    auto_rollback: bool = False,
    reboot_approval: Collection[int] = frozenset(),
) -> PatchResult:
    """Patch one host (see the module's docstring for the order).

    ``reboot``: the job's reboot policy, which overrides the host's and counts as the approval a host
    in ``reboot_approval`` (ids whose criticality rule wants one) needs before it is restarted.
    ``auto_rollback`` (``patch --auto-rollback``) or the host's policy ``on-red``: a red verification
    rolls the host back at once, verifies that, and fails the step with ``RolledBackOnRed``."""
    host = ctx.host
    assert host.id is not None
    sel = selections.get(host.id, HostSelection(()))
    if not sel.names:
        ctx.log(LogLevel.INFO, "Nothing to install on this host.")
        return PatchResult(InstallPlan(()), (), False, False, None)
    ctx.log(LogLevel.INFO, f"Connecting to {host.address}…")
    s = open_session(ctx, baseline=True)
    sel, held = _leave_held(ctx, s, sel)
    if not sel.names:
        ctx.log(LogLevel.INFO, "Nothing to install on this host but held packages.")
        return PatchResult(InstallPlan((), held=held), (), False, False, None)
    ctx.progress(0.05, "health baseline")
    baseline = s.baseline
    assert baseline is not None  # open_session(baseline=True) always takes it
    ctx.report(HealthBaselineTaken(ctx.job_id, host_id=host.id, health=baseline))  # for the soak checks
    check_before = run_custom_check(ctx, s.transport, when="before the change")
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
        return PatchResult(InstallPlan((), held=held), (), False, False, None, check_before)
    plan, changes, txid, failure, reboot_answer = done
    plan = replace(plan, held=held)
    ctx.report(ChangesRecorded(ctx.job_id, host_id=host.id, changes=changes, transaction_id=txid))
    for c in changes:
        ctx.log(
            LogLevel.INFO,
            f"changed: {c.name} {c.from_version or '-'} → {c.to_version or '-'}"
            + (f" ({c.kb})" if c.kb and c.kb != c.name else ""),
        )
    if failure is not None:
        raise failure
    run_hook(ctx, s.transport, host.post_command, "post-patch")

    ctx.progress(0.7, "reboot check")
    s, rebooted, needed = _reboot_step(
        ctx, s, groups, reboot_answer, reboot, host.id in reboot_approval, baseline.boot_time, reboot_timeout
    )
    verification = None
    if verify:
        ctx.progress(0.85, "verifying")
        verification = verify_change(
            ctx,
            s,
            expected={c.name: c.to_version for c in plan.changes},
            targeted_security=sel.security,
            security_before=security_before,
            health_before=None if rebooted else baseline,  # load right after boot says nothing
            journal_since=baseline.now,
            subject_job_id=ctx.job_id,
            managers={c.name: c.manager for c in plan.changes},
            check_before=check_before,
        )
    result = PatchResult(plan, changes, rebooted, needed and not rebooted, verification, check_before)
    on_red = auto_rollback or host.auto_rollback == AutoRollback.ON_RED
    if verification is not None and verification.verdict == Verdict.RED and on_red and changes:
        trigger = "patch --auto-rollback" if auto_rollback else "policy on-red"
        _roll_back_on_red(ctx, s, result, txid, trigger, security_before, lock_wait)
    return result


def _reboot_step(
    ctx: TaskContext,
    s: HostSession,
    groups: Sequence[tuple[Adapter, Sequence[str]]],
    reboot_answer: _RebootAnswer | None,
    reboot: RebootPolicy | None,
    needs_approval: bool,
    boot_before: float | None,
    reboot_timeout: float,
) -> tuple[HostSession, bool, bool]:
    """Restart the host per its reboot policy (the job's, when given); (session, rebooted, needed)."""
    needed, pkgs = reboot_answer if reboot_answer is not None else s.adapter.reboot_required(s.transport)
    for extra in s.extras.values():
        if any(a is extra for a, _ in groups):
            extra_needed, extra_pkgs = extra.reboot_required(s.transport)
            needed = needed or extra_needed
            pkgs = (*pkgs, *extra_pkgs)
    policy = reboot or ctx.host.reboot_policy or RebootPolicy.IF_NEEDED
    wants = policy == RebootPolicy.ALWAYS or (policy == RebootPolicy.IF_NEEDED and needed)
    if wants and needs_approval and reboot is None:
        ctx.log(
            LogLevel.WARNING,
            f"A reboot {'is required' if needed else 'is due (policy always)'}, but hosts of criticality "
            f"{ctx.host.criticality} restart only with approval: patch with --reboot if-needed (or "
            "always) to approve, or restart the host yourself.",
        )
        return s, False, needed
    if wants:
        why = f" (required by {', '.join(pkgs)})" if pkgs else ""
        ctx.log(LogLevel.INFO, f"Rebooting{why}…")
        s = reboot_and_wait(ctx, s, _boot_time_before_restart(ctx, s, boot_before), reboot_timeout)
        return s, True, needed
    if needed:
        ctx.log(LogLevel.WARNING, "A reboot is required; the reboot policy is 'never', so it is left to you.")
    return s, False, needed


def _roll_back_on_red(
    ctx: TaskContext,
    s: HostSession,
    result: PatchResult,
    txid: str | None,
    trigger: str,
    security_before: Sequence[str],
    lock_wait: float,
) -> None:
    """Undo the patch at once in the same session, verify that, and fail the step saying so (the
    result, with the rollback's outcome, travels on the error). The rollback marks this job's change
    record as rolled back by the job itself; its verification is recorded like any other."""
    assert result.verification is not None
    reasons = tuple(r for r in result.verification.reasons)
    ctx.log(
        LogLevel.ERROR,
        f"Verification red: rolling back automatically ({trigger}). Reason: " + "; ".join(reasons),
    )
    ctx.progress(0.9, "rolling back")
    try:
        rb = undo_changes(
            ctx,
            s,
            result.changes,
            subject_job_id=ctx.job_id,
            transaction_id=txid,
            security_pending=security_before,
            lock_wait=lock_wait,
            own_record=False,
        )
    except CancelledError:
        raise
    except PatchdeskError as exc:
        outcome = AutoRollbackOutcome(reasons, trigger, error=str(exc))
        raise RolledBackOnRed(
            f"Verification red ({'; '.join(reasons)}); the automatic rollback failed: {exc}",
            replace(result, auto_rollback=outcome),
        ) from exc
    outcome = AutoRollbackOutcome(reasons, trigger, rb.restored, rb.verification)
    ctx.log(
        LogLevel.ERROR if rb.verification.verdict == Verdict.RED else LogLevel.WARNING,
        f"Rolled back automatically; the rollback's verification is {rb.verification.verdict}.",
    )
    raise RolledBackOnRed(
        f"Verification red, rolled back automatically ({trigger}; the rollback's verification is "
        f"{rb.verification.verdict}). Reason: {'; '.join(reasons)}",
        replace(result, auto_rollback=outcome),
    )


def security_names(pending: Sequence[PendingUpdate]) -> tuple[str, ...]:
    return tuple(sorted(u.name for u in pending if u.security))
