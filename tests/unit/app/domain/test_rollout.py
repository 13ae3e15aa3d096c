"""Promotion through the rings: soak, green verification share, rollback, firmware approval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.models import Classification, PendingUpdate, Ring, UpdateKind
from app.domain.rollout import (
    PolicySettings,
    RingEvidence,
    Rollout,
    RolloutState,
    SoakCheck,
    SoakVerdict,
    current_checks,
    evaluate,
    soak_state,
    update_key,
)

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
S = PolicySettings()


def r(
    cls: Classification = Classification.IMPORTANT, kind: UpdateKind = UpdateKind.SECURITY, **kw: object
) -> Rollout:
    base: dict[str, object] = {
        "key": "apt:x=1",
        "manager": "apt",
        "name": "x",
        "version": "1",
        "kind": kind,
        "classification": cls,
        "state": RolloutState.TESTING,
        "ring": Ring.TEST,
        "ring_since": NOW - timedelta(hours=25),
    }
    base.update(kw)
    return Rollout(**base)  # type: ignore[arg-type]


GREEN = {Ring.TEST: RingEvidence(got=("t1",), green=("t1",))}


def test_keys() -> None:
    assert update_key(PendingUpdate("apt", "openssl", "3.0.15-1")) == "apt:openssl=3.0.15-1"
    assert update_key(PendingUpdate("wua", "kb5034441", "2024-01 Security Update")) == "wua:KB5034441"


def test_promotes_after_soak_with_green_verification() -> None:
    p = evaluate(r(), GREEN, NOW, S)
    assert p.to == Ring.PILOT and "verification green on 1 of 1" in p.reason
    assert (
        evaluate(r(ring=Ring.PILOT), {Ring.PILOT: RingEvidence(("p1",), ("p1",))}, NOW, S).to
        == Ring.PRODUCTION
    )


def test_urgent_skips_pilot_and_soaks_two_hours() -> None:
    young = r(Classification.URGENT, ring_since=NOW - timedelta(hours=1))
    p = evaluate(young, GREEN, NOW, S)
    assert p.to is None and "soaking in the test ring: 1.0 h of 2.0 h left" in p.reason
    assert (
        evaluate(r(Classification.URGENT, ring_since=NOW - timedelta(hours=2)), GREEN, NOW, S).to
        == Ring.PRODUCTION
    )


@pytest.mark.parametrize(
    ("evidence", "reason"),
    [
        ({Ring.TEST: RingEvidence(got=("t1", "t2"), green=("t1",))}, "verification green on 1 of 2"),
        ({Ring.TEST: RingEvidence(got=("t1",), green=(), rolled_back=("t1",))}, "rolled back on t1"),
        ({Ring.TEST: RingEvidence(pending=("t1",))}, "not installed on the test ring yet"),
    ],
)
def test_held(evidence: dict[Ring, RingEvidence], reason: str) -> None:
    p = evaluate(r(), evidence, NOW, S)
    assert p.to is None and reason in p.reason


def test_verify_share_is_configurable() -> None:
    half = PolicySettings(verify_share=0.5)
    ev = {Ring.TEST: RingEvidence(got=("t1", "t2"), green=("t1",))}
    assert evaluate(r(), ev, NOW, half).to == Ring.PILOT


def test_empty_pilot_ring_is_passed_through() -> None:
    assert evaluate(r(ring=Ring.PILOT), {}, NOW, S).to == Ring.PRODUCTION


@pytest.mark.parametrize("kind", [UpdateKind.FIRMWARE, UpdateKind.DRIVER])
def test_firmware_and_drivers_never_promote_without_approval(kind: UpdateKind) -> None:
    for cls in Classification:
        long_ago = r(cls, kind, ring_since=NOW - timedelta(days=365))
        p = evaluate(long_ago, GREEN, NOW, S)
        assert p.to is None and "never promoted without an explicit approval" in p.reason
        # not even a production ring allows it before approval
        assert not long_ago.allows(Ring.PILOT) and not long_ago.allows(Ring.PRODUCTION)
    approved = r(
        Classification.URGENT, kind, state=RolloutState.APPROVED, explicit_approval=True, ring=Ring.PRODUCTION
    )
    assert approved.allows(Ring.PRODUCTION)


@pytest.mark.parametrize("kind", [UpdateKind.FIRMWARE, UpdateKind.DRIVER])
def test_firmware_waits_for_an_approval_even_on_the_test_ring_and_then_per_ring(kind: UpdateKind) -> None:
    """#24: not even the test ring installs firmware before an approval, and an approval for the test
    ring (one host of the model) does not carry it further: the rest needs a second approval."""
    for state in (RolloutState.NEW, RolloutState.TESTING):
        assert not r(kind=kind, state=state, ring=None).allows(Ring.TEST)
        assert not r(kind=kind, state=state, ring=Ring.TEST).allows(Ring.TEST)
    first = r(kind=kind, state=RolloutState.APPROVED, explicit_approval=True, ring=Ring.TEST)
    assert first.allows(Ring.TEST) and not first.allows(Ring.PILOT) and not first.allows(Ring.PRODUCTION)
    p = evaluate(first, {Ring.TEST: RingEvidence(got=("t1",), green=("t1",))}, NOW + timedelta(days=30), S)
    assert p.to is None and "needs another approval" in p.reason
    # nothing on the test ring needs it any more: still no promotion without the second approval
    assert evaluate(first, {}, NOW, S).to is None
    second = r(kind=kind, state=RolloutState.APPROVED, explicit_approval=True, ring=Ring.PRODUCTION)
    assert second.allows(Ring.PILOT) and second.allows(Ring.PRODUCTION)


def test_declined_and_deferred_block_everything() -> None:
    declined = r(state=RolloutState.DECLINED, note="breaks the ERP")
    assert declined.blocked(NOW) == "declined: breaks the ERP"
    assert evaluate(declined, GREEN, NOW, S).to is None
    deferred = r(state=RolloutState.DEFERRED, deferred_until=NOW + timedelta(days=1))
    assert deferred.blocked(NOW) is not None and deferred.blocked(NOW + timedelta(days=2)) is None


def test_new_update_without_test_ring_hosts_needs_approval() -> None:
    p = evaluate(r(state=RolloutState.NEW, ring=None), {}, NOW, S)
    assert p.to is None and "approve it" in p.reason
    assert r(state=RolloutState.NEW, ring=None).allows(Ring.TEST)
    assert not r(state=RolloutState.NEW, ring=None).allows(Ring.PRODUCTION)


# -- soak checks (issue #20 item 5) -------------------------------------------------------------------


def soak(host: str, minutes_ago: float, verdict: str, ring: Ring = Ring.TEST, why: str = "") -> SoakCheck:
    return SoakCheck(
        "apt:x=1",
        host,
        ring,
        NOW - timedelta(minutes=minutes_ago),
        SoakVerdict(verdict),
        (why,) if why else (),
    )


TWO = {Ring.TEST: RingEvidence(got=("t1", "t2"), green=("t1", "t2"))}


@pytest.mark.parametrize(
    ("checks", "promoted", "reason"),
    [
        ([soak("t1", 5, "green"), soak("t2", 5, "green")], True, "soaked"),
        ([soak("t1", 5, "green"), soak("t2", 5, "amber")], True, "soaked"),  # amber does not hold
        ([soak("t1", 5, "green")], False, "no soak check of t2 in the test ring yet"),
        ([], False, "no soak check of t1, t2 in the test ring yet"),
        # red once holds it, even after a later green
        (
            [
                soak("t1", 60, "red", why="service nginx is failed"),
                soak("t1", 5, "green"),
                soak("t2", 5, "green"),
            ],
            False,
            "soak check red on t1 (test ring) at 2026-06-01T11:00+00:00: service nginx is failed",
        ),
        # could not see: unknown holds it while it is the latest ...
        (
            [soak("t1", 5, "unknown", why="could not check: refused"), soak("t2", 5, "green")],
            False,
            "the last soak check could not see t1: could not check: refused",
        ),
        # ... and a later check that sees clears it
        ([soak("t1", 30, "unknown"), soak("t1", 5, "green"), soak("t2", 5, "green")], True, "soaked"),
        # checks of another ring, from before it entered this one, or of a host rolled back do not count
        (
            [soak("t1", 5, "red", ring=Ring.PILOT), soak("t1", 5, "green"), soak("t2", 5, "green")],
            True,
            "soaked",
        ),
        ([soak("t1", 26 * 60, "red"), soak("t1", 5, "green"), soak("t2", 5, "green")], True, "soaked"),
    ],
)
def test_soak_checks_gate_the_promotion(checks: list[SoakCheck], promoted: bool, reason: str) -> None:
    p = evaluate(r(), TWO, NOW, S, checks)
    assert (p.to == Ring.PILOT) is promoted, p.reason
    assert p.reason.startswith(reason) if not promoted else reason in p.reason


def test_red_soak_check_is_said_at_once_not_only_after_the_soak_time() -> None:
    young = r(ring_since=NOW - timedelta(hours=1))
    assert "soaking in the test ring" in evaluate(young, TWO, NOW, S, []).reason
    p = evaluate(young, TWO, NOW, S, [soak("t2", 5, "red", why="failed unit(s): pd.service")])
    assert p.to is None and p.reason.startswith("soak check red on t2 (test ring)")


def test_rolled_back_host_needs_no_soak_check() -> None:
    ev = {Ring.TEST: RingEvidence(got=("t1", "t2"), green=("t1",), rolled_back=("t2",))}
    p = evaluate(r(), ev, NOW, S, [soak("t1", 5, "green")])
    assert p.to is None and p.reason.startswith("rolled back on t2")


@pytest.mark.parametrize(
    ("verdicts", "state"),
    [
        ([], "none"),
        (["green"], "green"),
        (["green", "amber"], "amber"),
        (["unknown", "green"], "unknown"),
        (["red", "green"], "red"),
    ],
)
def test_soak_state_for_lists(verdicts: list[str], state: str) -> None:
    checks = [soak(f"t{i}", 5, v) for i, v in enumerate(verdicts)]
    assert soak_state(r(), checks) == state
    assert current_checks(r(ring=Ring.PILOT), checks) == []
