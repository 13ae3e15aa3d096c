"""What is due, by table: scan intervals, rollout gates, urgent push, windows and the fit into them."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from app.domain.maintenance_windows import MaintenanceWindow, window_at
from app.domain.models import Classification, Criticality, Host, JobTrigger, PendingUpdate, Ring
from app.domain.rollout import PolicySettings, Rollout, RolloutState
from app.domain.schedule import (
    comes_as_dependency,
    decide_update,
    no_window_reason,
    scan_due,
    trigger_for,
    window_cutoff,
    window_deferral,
)

NOW = datetime(2026, 6, 6, 22, 30, tzinfo=UTC)  # a Saturday, 30 minutes into the window below
S = PolicySettings()
SATURDAY = MaintenanceWindow(
    "sat-night", "FREQ=WEEKLY;BYDAY=SA", timedelta(hours=2), "UTC", datetime(2026, 1, 3, 22, 0), ("web",)
)
HOST = Host("web1", "web1.invalid", id=1, group="web", ring=Ring.PRODUCTION)
UPD = PendingUpdate("apt", "openssl", "3.0.15-1", "3.0.14-1", classification=Classification.IMPORTANT)
URGENT = replace(UPD, classification=Classification.URGENT)


def rollout(**kw: object) -> Rollout:
    base = Rollout("apt:openssl=3.0.15-1", "apt", "openssl", "3.0.15-1", UPD.kind, UPD.classification)
    return replace(base, **kw)  # type: ignore[arg-type]


PROMOTED = rollout(state=RolloutState.APPROVED, ring=Ring.PRODUCTION, ring_since=NOW - timedelta(days=3))


@pytest.mark.parametrize(
    ("last", "due"),
    [(None, True), (NOW - timedelta(hours=24), True), (NOW - timedelta(hours=23, minutes=59), False)],
)
def test_scan_due_after_the_interval(last: datetime | None, due: bool) -> None:
    assert scan_due(replace(HOST, last_scan_at=last), NOW, timedelta(hours=24)) is due


def test_new_packages_come_with_what_needs_them_on_dependency_managers_only() -> None:
    assert comes_as_dependency(replace(UPD, installed=None))
    assert not comes_as_dependency(UPD)
    assert not comes_as_dependency(PendingUpdate("wua", "KB5034441", "1", None))


def test_routine_update_goes_inside_an_open_window() -> None:
    d = decide_update(HOST, UPD, PROMOTED, NOW, S, open_window=window_at([SATURDAY], NOW), windows=[SATURDAY])
    assert d.why_waiting is None and d.needs_window


def test_routine_update_outside_a_window_names_the_next_one() -> None:
    later = NOW + timedelta(hours=3)
    d = decide_update(HOST, UPD, PROMOTED, later, S, open_window=None, windows=[SATURDAY])
    assert d.why_waiting == "outside its maintenance window; next: sat-night at 2026-06-13T22:00:00+00:00"


def test_no_window_for_the_group_says_so() -> None:
    assert no_window_reason(replace(HOST, group=None), [], NOW, False) == (
        "outside its maintenance window; no window covers no group"
    )


def test_untested_update_waits_for_promotion_but_the_test_ring_may_go() -> None:
    new = rollout()
    d = decide_update(HOST, UPD, new, NOW, S, open_window=window_at([SATURDAY], NOW), windows=[SATURDAY])
    assert d.why_waiting == "waiting for promotion to the production ring (not tested yet)"
    tester = replace(HOST, ring=Ring.TEST)
    assert decide_update(tester, UPD, new, NOW, S, open_window=None, windows=[]).why_waiting is not None
    assert decide_update(tester, URGENT, new, NOW, S, open_window=None, windows=[]).why_waiting is None


def test_urgent_skips_the_window_except_on_mission_critical_hosts() -> None:
    d = decide_update(HOST, URGENT, PROMOTED, NOW + timedelta(hours=3), S, open_window=None, windows=[])
    assert d.why_waiting is None and not d.needs_window
    critical = replace(HOST, criticality=Criticality.MISSION_CRITICAL)
    d = decide_update(critical, URGENT, PROMOTED, NOW, S, open_window=None, windows=[SATURDAY])
    assert d.needs_window and d.why_waiting is not None
    assert d.why_waiting.startswith("mission-critical: waits for its maintenance window")
    forced = decide_update(
        critical, URGENT, PROMOTED, NOW, S, open_window=None, windows=[], override_windows=True
    )
    assert forced.why_waiting is None and not forced.needs_window


def test_urgent_push_off_only_proposes() -> None:
    off = replace(S, urgent_push=False)
    d = decide_update(HOST, URGENT, PROMOTED, NOW, off, open_window=None, windows=[])
    assert d.why_waiting is not None and d.why_waiting.startswith("urgent push proposed")


def test_declined_update_never_goes() -> None:
    declined = replace(PROMOTED, state=RolloutState.DECLINED, note="breaks the app")
    d = decide_update(HOST, URGENT, declined, NOW, S, open_window=None, windows=[])
    assert d.why_waiting == "declined: breaks the app"


def test_window_fit_uses_the_hosts_history_plus_the_rollback_reserve() -> None:
    occ = window_at([SATURDAY], NOW)
    assert occ is not None  # 90 minutes left
    assert window_deferral(occ, NOW, [SATURDAY], [timedelta(minutes=40)], S) is None
    reason = window_deferral(occ, NOW, [SATURDAY], [timedelta(minutes=50)], S)
    assert reason is not None and reason.endswith("deferred to the next window at 2026-06-13T22:00:00+00:00")


def test_trigger_is_urgent_when_any_update_is() -> None:
    assert trigger_for([UPD, URGENT]) == JobTrigger.URGENT
    assert trigger_for([UPD]) == JobTrigger.SCHEDULE


def test_window_end_cutoff_leaves_the_estimate_and_the_rollback_reserve() -> None:
    occ = window_at([SATURDAY], NOW)
    assert occ is not None
    # no history: 10 min estimate + 10 min reserve before the 00:00 end
    cut = window_cutoff(occ, [SATURDAY], [], S)
    assert cut.at == datetime(2026, 6, 6, 23, 40, tzinfo=UTC)
    assert "window 'sat-night' ends at 00:00" in cut.reason
    assert "no start was possible after 23:40" in cut.reason
    assert cut.reason.endswith("deferred to the next window at 2026-06-13T22:00:00+00:00")
    # a host that usually takes 30 min, with a reserve of twice that: 90 min before the end
    slow = window_cutoff(occ, [SATURDAY], [timedelta(minutes=30)], replace(S, reserve_factor=2.0))
    assert slow.at == datetime(2026, 6, 6, 22, 30, tzinfo=UTC)
