"""Judging a host after a change, by table: every reason, in order, and which colour it gives."""

from __future__ import annotations

import pytest

from app.domain.models import PendingUpdate
from app.domain.verdicts import Baseline, CheckResult, CheckState, Health, Verdict, judge

RUNNING = Health(system_state="running", journal_errors=(), load1=0.5, cpus=2, mem_available_kb=800_000)


def test_green_when_every_check_that_could_run_passed() -> None:
    v = judge(expected={"openssl": "3.0.15-1"}, installed={"openssl": "3.0.15-1"}, health_after=RUNNING)
    assert v.verdict == Verdict.GREEN
    assert v.reasons == ("all 1 changed package(s) at the intended version",)


def test_red_for_a_wrong_version_a_fix_still_pending_and_a_new_security_update() -> None:
    v = judge(
        expected={"openssl": "3.0.15-1", "gone": None},
        installed={"openssl": "3.0.14-1", "gone": "1.0"},
        targeted_security=["openssl"],
        pending_after=[
            PendingUpdate("apt", "openssl", "3.0.15-1", "3.0.14-1", security=True),
            PendingUpdate("apt", "curl", "8.1", "8.0", security=True),
            PendingUpdate("apt", "old", "2", "1", security=True),
        ],
        security_before=["old"],
    )
    assert v.verdict == Verdict.RED
    assert v.reasons == (
        "gone is at 1.0, expected not installed",
        "openssl is at 3.0.14-1, expected 3.0.15-1",
        "security update(s) still pending: openssl",
        "new security update(s) appeared: curl",
    )


def test_services_failed_units_and_system_state() -> None:
    after = Health(
        system_state="degraded",
        failed_units=("old.service", "nginx.service"),
        services={"nginx": "failed", "db": "active", "cache": "unknown"},
        journal_errors=None,
    )
    before = Health(system_state="running", failed_units=("old.service",))
    v = judge(
        expected={}, installed={}, health_before=before, health_after=after, services=["nginx", "db", "cache"]
    )
    assert v.verdict == Verdict.RED
    assert v.reasons == (
        "system state is degraded",
        "failed unit(s): nginx.service",
        "service nginx is failed",
        "service cache: state not available",
        "system journal not available: new errors not checked",
    )


def test_amber_for_new_journal_errors_load_and_memory_against_the_baseline() -> None:
    after = Health(
        system_state="starting",
        journal_errors=("kernel: oops", "x"),
        load1=9.0,
        cpus=2,
        mem_available_kb=100 * 1024,
    )
    before = Health(system_state="running", load1=1.0, mem_available_kb=1000 * 1024)
    v = judge(expected={"a": "1"}, installed={"a": "1"}, health_before=before, health_after=after)
    assert v.verdict == Verdict.AMBER
    assert v.reasons == (
        "system state is starting",
        "2 new error(s) in the journal, e.g. kernel: oops",
        "load 9.00, was 1.00 before the change",
        "available memory 100 MiB, was 1000 MiB before the change",
        "all 1 changed package(s) at the intended version",
    )


@pytest.mark.parametrize(("load1", "was"), [(2.9, 1.0), (1.5, 0.1)], ids=["within-factor", "within-cpus"])
def test_load_within_the_factor_or_the_cpu_count_is_fine(load1: float, was: float) -> None:
    after = Health(system_state="running", journal_errors=(), load1=load1, cpus=2)
    before = Health(load1=was)
    assert judge(expected={}, installed={}, health_before=before, health_after=after).verdict == Verdict.GREEN


def test_a_host_without_systemd_is_not_unhealthy() -> None:
    v = judge(expected={}, installed={}, health_after=Health(system_state=None, journal_errors=None))
    assert v.verdict == Verdict.GREEN
    assert v.reasons == (
        "service manager not available on this host (no systemd): service health not checked",
        "system journal not available: new errors not checked",
    )


def _sec(name: str) -> PendingUpdate:
    return PendingUpdate("apt", name, "2", "1", security=True)


@pytest.mark.parametrize(
    ("baseline", "pending", "before", "verdict", "reasons"),
    [
        (
            Baseline.SCAN,
            [_sec("curl"), _sec("openssl"), PendingUpdate("apt", "vim", "2", "1")],
            ["curl", "openssl"],
            Verdict.AMBER,
            ("nothing patched since the last scan; 2 security update(s) still pending: curl, openssl",),
        ),
        (
            Baseline.SCAN,
            [PendingUpdate("apt", "vim", "2", "1")],
            [],
            Verdict.GREEN,
            ("nothing patched since the last scan; no security update pending",),
        ),
        (
            Baseline.SCAN,
            [_sec("curl"), _sec("zlib")],
            ["curl"],
            Verdict.AMBER,
            (
                "nothing patched since the last scan; 1 security update(s) still pending: curl",
                "1 security update(s) new since the last scan: zlib",
            ),
        ),
        (
            Baseline.SCAN,
            [_sec("zlib")],
            [],
            Verdict.AMBER,
            ("1 security update(s) new since the last scan: zlib", "nothing patched since the last scan"),
        ),
        (
            Baseline.NONE,
            [_sec("curl")],
            [],
            Verdict.AMBER,
            ("no scan to compare with; 1 security update(s) pending: curl",),
        ),
        (Baseline.NONE, [], [], Verdict.GREEN, ("no scan to compare with; no security update pending",)),
    ],
    ids=[
        "known-pending",
        "nothing-pending",
        "known-and-new",
        "only-new",
        "never-scanned",
        "never-scanned-clean",
    ],
)
def test_without_a_patch_to_judge_the_verdict_says_so_and_is_never_red_for_pending_updates(
    baseline: Baseline,
    pending: list[PendingUpdate],
    before: list[str],
    verdict: Verdict,
    reasons: tuple[str, ...],
) -> None:
    v = judge(
        expected={},
        installed={},
        pending_after=pending,
        security_before=before,
        health_after=RUNNING,
        baseline=baseline,
    )
    assert v.verdict == verdict
    assert v.reasons == reasons


def test_without_a_patch_an_unhealthy_host_is_still_red() -> None:
    after = Health(system_state="running", journal_errors=(), services={"nginx": "failed"})
    v = judge(
        expected={},
        installed={},
        pending_after=[_sec("curl")],
        security_before=["curl"],
        health_after=after,
        services=["nginx"],
        baseline=Baseline.SCAN,
    )
    assert v.verdict == Verdict.RED
    assert v.reasons == (
        "service nginx is failed",
        "nothing patched since the last scan; 1 security update(s) still pending: curl",
    )


# -- the custom health check (issue #20 item 2) ------------------------------------------------------

PASSED = CheckResult("check", CheckState.PASSED, 0)
FAILED = CheckResult("check", CheckState.FAILED, 3, "db down\nmore\n")
NOT_RUN = CheckResult("check", CheckState.NOT_RUN, None, "", "no answer within 120 s")


@pytest.mark.parametrize(
    ("before", "after", "verdict", "reason"),
    [
        (PASSED, PASSED, Verdict.GREEN, "custom health check passed"),
        (PASSED, FAILED, Verdict.RED, "custom health check failed (exit status 3): db down"),
        (None, FAILED, Verdict.RED, "custom health check failed (exit status 3): db down"),
        (NOT_RUN, FAILED, Verdict.RED, "custom health check failed (exit status 3): db down"),
        (
            FAILED,
            FAILED,
            Verdict.AMBER,
            "custom health check failed (exit status 3): db down (it failed before the change too)",
        ),
        (PASSED, NOT_RUN, Verdict.RED, "custom health check could not run: no answer within 120 s"),
    ],
)
def test_a_custom_check_that_fails_or_cannot_run_is_never_green(
    before: CheckResult | None, after: CheckResult, verdict: Verdict, reason: str
) -> None:
    v = judge(
        expected={"a": "2"},
        installed={"a": "2"},
        health_after=RUNNING,
        check_before=before,
        check_after=after,
    )
    assert v.verdict == verdict
    assert reason in v.reasons


def test_no_custom_check_adds_nothing() -> None:
    v = judge(expected={"a": "2"}, installed={"a": "2"}, health_after=RUNNING)
    assert not any("custom" in r for r in v.reasons)
