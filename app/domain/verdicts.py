"""Judging a host after a change: green, amber or red, with every reason listed.

Pure: the task collects the evidence (snapshots, rescans, health before and after) and this module
decides. Red means the change did not do what it should (a package is not at the intended version, a
security update it was meant to fix is still pending, services failed); amber means it did, but
something deserves a look (a new error in the journal, load far above the baseline); green means every
check that could run passed. Checks that cannot run on a host (no systemd, no journal) are listed as
notes and do not colour the verdict: a container is not unhealthy for lacking systemd.

What a verification compares with is its ``Baseline``: after a patch (or on its own, when the host's
last patch is newer than its last scan) the patch's change record; otherwise the host's last scan, where
nothing was changed, so security updates already pending then are "still pending" (amber), never "new"
(red); or nothing at all, for a host never scanned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from app.domain.models import PendingUpdate, StrEnum


@dataclass(frozen=True)
class Health:
    """What the health snippet found. ``None`` means "not available on this host"."""

    now: float | None = None
    boot_time: float | None = None
    load1: float | None = None
    mem_available_kb: int | None = None
    mem_total_kb: int | None = None
    cpus: int | None = None
    system_state: str | None = None  # systemctl is-system-running; None: no systemd
    failed_units: tuple[str, ...] = ()
    services: dict[str, str] = field(default_factory=dict)  # name -> is-active answer
    journal_errors: tuple[str, ...] | None = None  # None: no journal to read

    def as_json(self) -> dict[str, object]:
        return {
            "now": self.now,
            "boot_time": self.boot_time,
            "load1": self.load1,
            "mem_available_kb": self.mem_available_kb,
            "mem_total_kb": self.mem_total_kb,
            "cpus": self.cpus,
            "system_state": self.system_state,
            "failed_units": list(self.failed_units),
            "services": self.services,
            "journal_errors": None if self.journal_errors is None else list(self.journal_errors),
        }


class CheckState(StrEnum):
    PASSED = "passed"  # exit status 0
    FAILED = "failed"  # any other exit status
    NOT_RUN = "not-run"  # it could not run or did not finish (timeout, transport error): never green


@dataclass(frozen=True)
class CheckResult:
    """A host's custom health check (``Host.check_command``) as it ran once.

    ``output`` is the check's own output, cut to a bounded size; ``detail`` says in a sentence why a
    check that did not run did not."""

    command: str
    state: CheckState
    exit_status: int | None = None
    output: str = ""
    detail: str = ""

    @property
    def passed(self) -> bool:
        return self.state is CheckState.PASSED

    def summary(self) -> str:
        """One line for a verdict's reasons: what failed and the first line it printed."""
        if self.state is CheckState.PASSED:
            return "custom health check passed"
        if self.state is CheckState.NOT_RUN:
            return f"custom health check could not run: {self.detail}"
        first = next((line.strip() for line in self.output.splitlines() if line.strip()), "")
        return f"custom health check failed (exit status {self.exit_status})" + (
            f": {first[:200]}" if first else ""
        )

    def as_json(self) -> dict[str, object]:
        return {
            "command": self.command,
            "state": str(self.state),
            "exit_status": self.exit_status,
            "output": self.output,
            "detail": self.detail,
        }


class Baseline(StrEnum):
    """What a verification compares with."""

    PATCH = "patch"  # a patch's change record and the security updates it targeted
    SCAN = "scan"  # the host's last scan: nothing was patched since
    NONE = "none"  # nothing: the host was never scanned


class Verdict(StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"


@dataclass(frozen=True)
class Verification:
    verdict: Verdict
    reasons: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        return {"verdict": str(self.verdict), "reasons": list(self.reasons)}


#: load above ``LOAD_FACTOR`` times the baseline *and* above the CPU count is worth a look
LOAD_FACTOR = 3.0
#: available memory dropping below this share of the baseline is worth a look
MEMORY_FLOOR = 0.5


@dataclass
class _Findings:
    red: list[str] = field(default_factory=list)
    amber: list[str] = field(default_factory=list)
    ok: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # checks that could not run here: said, never coloured


def judge(
    *,
    expected: Mapping[str, str | None],
    installed: Mapping[str, str | None],
    targeted_security: Iterable[str] = (),
    pending_after: Iterable[PendingUpdate] = (),
    security_before: Iterable[str] = (),
    health_before: Health | None = None,
    health_after: Health | None = None,
    services: Iterable[str] = (),
    baseline: Baseline = Baseline.PATCH,
    check_before: CheckResult | None = None,
    check_after: CheckResult | None = None,
) -> Verification:
    """``expected``: name → version the change should have left (None: not installed).

    ``security_before``: the security updates pending before the patch, or at the last scan when the
    ``baseline`` is a scan (then ``expected`` and ``targeted_security`` are empty: nothing to judge)."""
    f = _Findings()
    if baseline is Baseline.PATCH:
        _check_versions(f, expected, installed)
        _check_security(f, list(pending_after), set(targeted_security), set(security_before))
    else:
        _check_unpatched(f, list(pending_after), set(security_before), baseline)
    if health_after is not None:
        _check_services(f, health_after, health_before, services)
        _check_journal_and_load(f, health_after, health_before)
    if check_after is not None:
        _check_custom(f, check_before, check_after)
    verdict = Verdict.RED if f.red else Verdict.AMBER if f.amber else Verdict.GREEN
    return Verification(verdict, tuple(f.red + f.amber + (f.ok if not f.red else []) + f.notes))


def _check_versions(
    f: _Findings, expected: Mapping[str, str | None], installed: Mapping[str, str | None]
) -> None:
    wrong = [
        f"{name} is at {installed.get(name) or 'not installed'}, expected {want or 'not installed'}"
        for name, want in sorted(expected.items())
        if installed.get(name) != want
    ]
    if wrong:
        f.red.extend(wrong)
    elif expected:
        f.ok.append(f"all {len(expected)} changed package(s) at the intended version")


def _check_security(
    f: _Findings, pending: list[PendingUpdate], targeted: set[str], security_before: set[str]
) -> None:
    still = sorted({u.name for u in pending} & targeted)
    if still:
        f.red.append("security update(s) still pending: " + ", ".join(still))
    new_security = sorted({u.name for u in pending if u.security} - security_before - targeted)
    if new_security:
        f.red.append("new security update(s) appeared: " + ", ".join(new_security))


def _check_unpatched(
    f: _Findings, pending: list[PendingUpdate], security_before: set[str], baseline: Baseline
) -> None:
    """No patch to judge: say so, with the security updates still (or newly) pending. Amber at most:
    nothing was changed, so nothing failed; what is pending needs patching, not alarm."""
    security = {u.name for u in pending if u.security}
    if baseline is Baseline.NONE:
        head, still, known, new = "no scan to compare with", "", security, set[str]()
    else:
        head, still = "nothing patched since the last scan", "still "
        known, new = security & security_before, security - security_before
    if known:
        f.amber.append(f"{head}; {len(known)} security update(s) {still}pending: " + ", ".join(sorted(known)))
    else:
        f.notes.append(head if new else f"{head}; no security update pending")
    if new:
        f.amber.append(f"{len(new)} security update(s) new since the last scan: " + ", ".join(sorted(new)))


def _check_custom(f: _Findings, before: CheckResult | None, after: CheckResult) -> None:
    """The custom check: red when it fails, or when it could not run (a check that cannot answer
    does not vouch for the host); amber only when it failed just the same before the change, since
    then the change did not break it."""
    if after.passed:
        f.ok.append(after.summary())
    elif after.state is CheckState.FAILED and before is not None and before.state is CheckState.FAILED:
        f.amber.append(after.summary() + " (it failed before the change too)")
    else:
        f.red.append(after.summary())


def _check_services(f: _Findings, h: Health, before: Health | None, services: Iterable[str]) -> None:
    if h.system_state is None:
        f.notes.append("service manager not available on this host (no systemd): service health not checked")
    elif h.system_state not in ("running",):
        (f.red if h.system_state in ("degraded", "maintenance") else f.amber).append(
            f"system state is {h.system_state}"
        )
    if h.failed_units:
        failed_before = set(before.failed_units) if before else set()
        new_failed = [u for u in h.failed_units if u not in failed_before]
        if new_failed:
            f.red.append("failed unit(s): " + ", ".join(new_failed))
    for svc in services:
        state = h.services.get(svc)
        if state is None or state == "unknown":
            f.notes.append(f"service {svc}: state not available")
        elif state != "active":
            f.red.append(f"service {svc} is {state}")


def _check_journal_and_load(f: _Findings, h: Health, before: Health | None) -> None:
    if h.journal_errors is None:
        f.notes.append("system journal not available: new errors not checked")
    elif h.journal_errors:
        f.amber.append(f"{len(h.journal_errors)} new error(s) in the journal, e.g. {h.journal_errors[0]}")
    if before is None:
        return
    if (
        h.load1 is not None
        and before.load1 is not None
        and h.load1 > LOAD_FACTOR * max(before.load1, 0.1)
        and h.load1 > (h.cpus or 1)
    ):
        f.amber.append(f"load {h.load1:.2f}, was {before.load1:.2f} before the change")
    if (
        h.mem_available_kb is not None
        and before.mem_available_kb
        and h.mem_available_kb < MEMORY_FLOOR * before.mem_available_kb
    ):
        f.amber.append(
            f"available memory {h.mem_available_kb // 1024} MiB, "
            f"was {before.mem_available_kb // 1024} MiB before the change"
        )
