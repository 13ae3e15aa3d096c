"""The per-host session every task that changes a host shares: connect and pick the adapters, stream
output into the host's log, snapshot and diff versions, verify against the baseline, reboot and wait.

Plan and patch (patching.py), verification (verification.py) and rollback (rollback.py) are built on
it, so each of them opens, records and judges a host the same way.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from app.domain.classify import classify_all
from app.domain.errors import AdapterError, CancelledError, PatchdeskError, UnreachableError
from app.domain.events import ScanRecorded, VerificationRecorded
from app.domain.models import LogLevel, OsFacts, PackageChange, ScanResult
from app.domain.verdicts import Baseline, CheckResult, Health, Verdict, Verification, judge
from app.jobs.engine import TaskContext
from app.jobs.health_check import run_custom_check
from app.platforms.base import Adapter, Snapshot
from app.platforms.family import family_of
from app.platforms.registry import detect
from app.transports.base import Transport

REBOOT_POLL = 2.0


@dataclass
class HostSession:
    transport: Transport
    adapter: Adapter
    facts_managers: tuple[str, ...] = field(default_factory=tuple)
    #: further adapters by name (Windows: Chocolatey, winget next to Windows Update)
    extras: dict[str, Adapter] = field(default_factory=dict)
    #: the health baseline, when it was taken in the same session as the facts (see open_session)
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


def open_session(ctx: TaskContext, *, baseline: bool = False) -> HostSession:
    """Connect, learn the OS and pick the adapters. ``baseline``: also take the health baseline (in
    ``HostSession.baseline``), in the same session as the facts where the family allows (one shell
    session fewer per host and patch)."""
    family = family_of(ctx.host)
    transport = ctx.transport()
    health: Health | None = None
    if baseline:
        facts, found, health = family.facts_and_health(transport, ctx.host.services)
    else:
        facts, found, _ = family.facts(transport)
    adapter = detect(facts, found, host=ctx.host.name)
    adapter.extra_sources = ctx.extra_sources
    extras = {a.name: a for a in family.extra_adapters(found, ctx.host.name)}
    return HostSession(transport, adapter, extras=extras, baseline=health)


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


def adapter_log(ctx: TaskContext) -> Callable[[str, str], None]:
    return lambda level, text: ctx.log(LogLevel(level), text)


def run_hook(ctx: TaskContext, transport: Transport, command: str | None, what: str) -> None:
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


def diff_snapshots(
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


def _snapshot_all(s: HostSession, groups: Sequence[tuple[Adapter, Sequence[str]]]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for adapter, names in groups:
        out.update(adapter.snapshot(s.transport, list(names)))
    return out


def _rescan(ctx: TaskContext, s: HostSession) -> ScanResult:
    facts, _ = _facts(ctx, s.transport)
    raw = list(s.adapter.scan(s.transport, log=adapter_log(ctx)))
    index = s.adapter.index_state(s.transport)
    notes = list(index.notes)
    for extra in s.extras.values():
        try:
            raw.extend(extra.scan(s.transport, log=adapter_log(ctx)))
        except AdapterError as exc:  # as in the scan: a third-party manager must not hide the rest
            ctx.log(LogLevel.WARNING, f"{extra.name}: {exc}")
            notes.append(f"{extra.name} could not be scanned: {exc}")
            continue
        notes.extend(extra.index_state(s.transport).notes)
    pending = classify_all(raw)
    reboot, pkgs = s.adapter.reboot_required(s.transport)
    # the rescan after a change reads the index the change itself used: its age is reported, and any
    # note (unmeasured, empty, a third-party manager that failed or cannot tell) makes it incomplete
    result = ScanResult(
        facts,
        (s.adapter.name, *s.extras),
        tuple(pending),
        reboot,
        pkgs,
        index_updated=index.updated,
        complete=index.measured and index.updated is not None and not notes,
        notes=tuple(notes),
    )
    assert ctx.host.id is not None
    ctx.report(ScanRecorded(ctx.job_id, host_id=ctx.host.id, result=result))
    return result


_VERIFYING = {
    Baseline.PATCH: "Verifying: rescan and health checks…",
    Baseline.SCAN: "Verifying against the last scan (nothing patched since): rescan and health checks…",
    Baseline.NONE: "Verifying (no scan to compare with): rescan and health checks…",
}


def verify_change(
    ctx: TaskContext,
    s: HostSession,
    *,
    expected: Mapping[str, str | None],
    targeted_security: Sequence[str],
    security_before: Sequence[str],
    health_before: Health | None,
    journal_since: float | None,
    subject_job_id: int | None,
    managers: Mapping[str, str] | None = None,
    baseline: Baseline = Baseline.PATCH,
    check_before: CheckResult | None = None,
) -> Verification:
    """Rescan, snapshot, health and the host's custom check (``check_before``: its result before the
    change, when there was one), judged into one verdict that is logged and recorded."""
    ctx.log(LogLevel.INFO, _VERIFYING[baseline])
    rescan = _rescan(ctx, s)
    installed = _snapshot_all(s, s.groups(list(expected), managers)) if expected else {}
    health = _health(ctx, s.transport, ctx.host.services, journal_since)
    check = run_custom_check(ctx, s.transport, when="after the change" if baseline is Baseline.PATCH else "")
    verification = judge(
        expected=expected,
        installed=installed,
        targeted_security=targeted_security,
        pending_after=rescan.pending,
        security_before=security_before,
        health_before=health_before,
        health_after=health,
        services=ctx.host.services,
        baseline=baseline,
        check_before=check_before,
        check_after=check,
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


# -- reboot ----------------------------------------------------------------------------------------


def reboot_and_wait(
    ctx: TaskContext, s: HostSession, boot_before: float | None, timeout: float
) -> HostSession:
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
                return open_session(ctx)
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
