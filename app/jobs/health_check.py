"""A host's health, checked: the family's health snippet plus the host's own custom check.

The custom check (``Host.check_command``, ``patchdesk hosts edit --check-command``) is a command the
administrator stored: it runs exactly as stored, as the host's login user (through sudo when the host
uses sudo), and is never built from anything a host said. Exit status 0 is healthy; anything else is
red with its (bounded) output in the host's log. A check that could not run or did not finish in time
is never healthy.

``check_host_health`` is the one entry point for anything that watches a host outside a patch (the
soak monitor): it judges services, failed units, new journal errors, load and memory against a
baseline, and the custom check, into one ``Verification``.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.errors import CancelledError, DeadlineExceededError, PatchdeskError
from app.domain.models import Host, LogLevel, TransportKind
from app.domain.verdicts import (
    Baseline,
    CheckResult,
    CheckState,
    Health,
    Verdict,
    Verification,
    judge,
)
from app.jobs.engine import TaskContext
from app.platforms.family import family_of
from app.transports.base import Transport

#: how long a custom check may run before it counts as failed to answer
CHECK_TIMEOUT = 120.0
#: how much of a check's output is kept (log and result): a chatty check cannot flood the log
MAX_CHECK_OUTPUT = 4096
MAX_CHECK_LOG_LINES = 20


class _Bounded:
    """Collects streamed output up to ``MAX_CHECK_OUTPUT`` bytes and counts what was cut."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.cut = 0

    def __call__(self, stream: str, chunk: bytes) -> None:
        room = MAX_CHECK_OUTPUT - len(self.data)
        self.data += chunk[: max(room, 0)]
        self.cut += max(len(chunk) - max(room, 0), 0)

    def text(self) -> str:
        text = self.data.decode("utf-8", errors="replace")
        return text + (f"\n… [{self.cut} bytes cut]" if self.cut else "")


def uses_sudo(host: Host) -> bool:
    """Whether commands for this host go through sudo (WinRM has no sudo: the login user's rights)."""
    return host.use_sudo and host.transport != TransportKind.WINRM


def run_custom_check(
    ctx: TaskContext, transport: Transport, *, when: str = "", timeout: float = CHECK_TIMEOUT
) -> CheckResult | None:
    """Run the host's custom check once and log its outcome; None when the host has none.

    A timeout, a refused sudo or a broken connection is a ``NOT_RUN`` result, not an exception: the
    verdict says the check could not vouch for the host. A cancel or the job's deadline still stops the
    job."""
    command = ctx.host.check_command
    if not command:
        return None
    label = f"custom health check{' ' + when if when else ''}"
    ctx.log(LogLevel.INFO, f"Running the {label}: {command}")
    out = _Bounded()
    try:
        result = transport.run(command, sudo=uses_sudo(ctx.host), timeout=timeout, on_output=out)
    except (CancelledError, DeadlineExceededError):
        raise
    except PatchdeskError as exc:
        check = CheckResult(command, CheckState.NOT_RUN, None, out.text(), str(exc))
    else:
        state = CheckState.PASSED if result.exit_status == 0 else CheckState.FAILED
        check = CheckResult(command, state, result.exit_status, out.text())
    _log_check(ctx, label, check)
    return check


def _log_check(ctx: TaskContext, label: str, check: CheckResult) -> None:
    level = LogLevel.INFO if check.passed else LogLevel.ERROR
    lines = [line for line in check.output.splitlines() if line.strip()]
    for line in lines[:MAX_CHECK_LOG_LINES]:
        ctx.log(level, f"[check] {line}")
    if len(lines) > MAX_CHECK_LOG_LINES:
        ctx.log(level, f"[check] … {len(lines) - MAX_CHECK_LOG_LINES} more line(s) not shown")
    if check.passed:
        ctx.log(LogLevel.INFO, f"The {label} passed.")
    elif check.state is CheckState.FAILED:
        ctx.log(LogLevel.ERROR, f"The {label} failed with exit status {check.exit_status}.")
    else:
        ctx.log(LogLevel.ERROR, f"The {label} could not run: {check.detail}")


@dataclass(frozen=True)
class HealthReport:
    """What :func:`check_host_health` saw: the verdict, the health snapshot (None: it could not be
    read) and the custom check's result (None: the host has none)."""

    verification: Verification
    health: Health | None
    check: CheckResult | None


def check_host_health(
    ctx: TaskContext,
    *,
    baseline: Health | None = None,
    since: float | None = None,
    check_before: CheckResult | None = None,
    timeout: float = 60,
) -> HealthReport:
    """The host's full health check, for a monitor between patches (the soak checks).

    Reads the family's health (the host's declared services, failed units, new journal / event-log
    errors since ``since`` (epoch seconds on the host), load and memory against ``baseline``, the
    health before the change) and runs the custom check; judges them with ``app.domain.verdicts``.
    Nothing is rescanned and nothing is recorded: the caller decides what a red result does. A health
    read that fails is red ("could not read the host's health"), never green."""
    transport = ctx.transport()
    try:
        health: Health | None = family_of(ctx.host).health(
            transport, ctx.host.services, since, timeout=timeout
        )
    except (CancelledError, DeadlineExceededError):
        raise
    except PatchdeskError as exc:
        health = None
        failure = f"could not read the host's health: {exc}"
    check = run_custom_check(ctx, transport, when="(monitor)")
    verification = judge(
        expected={},
        installed={},
        health_before=baseline,
        health_after=health,
        services=ctx.host.services,
        baseline=Baseline.PATCH,
        check_before=check_before,
        check_after=check,
    )
    if health is None:
        verification = Verification(Verdict.RED, (failure, *verification.reasons))
    return HealthReport(verification, health, check)
