"""Criticality rules and group defaults, by table: what a host does when it sets nothing, and the
scheduler's gates reading the rules instead of a hard-wired criticality (issue #20 item 6)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from app.domain.criticality import (
    DEFAULT_RULES,
    CriticalityRule,
    GroupDefaults,
    effective_host,
    rule_from_json,
    setting_sources,
    with_rule_value,
)
from app.domain.errors import ConfigError
from app.domain.models import (
    AutoRollback,
    Classification,
    Criticality,
    Host,
    PendingUpdate,
    RebootPolicy,
    Ring,
)
from app.domain.rollout import PolicySettings, Rollout, RolloutState
from app.domain.schedule import decide_update

NOW = datetime(2026, 6, 6, 12, 0, tzinfo=UTC)
HOST = Host("web1", "web1.invalid", id=1, group="web", ring=Ring.PRODUCTION)
UPD = PendingUpdate("apt", "openssl", "3.0.15-1", "3.0.14-1", classification=Classification.URGENT)
NEW = Rollout("apt:openssl=3.0.15-1", "apt", "openssl", "3.0.15-1", UPD.kind, UPD.classification)
MC = DEFAULT_RULES[Criticality.MISSION_CRITICAL]


def test_the_default_rules_follow_the_issue() -> None:
    desktop, standard = DEFAULT_RULES[Criticality.DESKTOP], DEFAULT_RULES[Criticality.STANDARD]
    assert desktop.urgent_at_once and desktop.important_within_days == 2 and desktop.reboot == "if-needed"
    assert standard.test_ring_first and not standard.windows_only and standard.auto_rollback == "off"
    assert MC.test_ring_first and MC.windows_only and MC.reboot_approval
    assert MC.auto_rollback == AutoRollback.ON_RED


def test_host_settings_win_then_group_defaults_then_the_rule() -> None:
    group = GroupDefaults(
        "web", reboot_policy=RebootPolicy.NEVER, services=("nginx",), check_command="true",
        auto_rollback=AutoRollback.OFF, pre_command="pre",
    )  # fmt: skip
    host = replace(HOST, services=("postgresql",), criticality=Criticality.MISSION_CRITICAL)
    eff = effective_host(host, group, MC)
    assert eff.services == ("postgresql",)  # the host's own
    assert eff.check_command == "true" and eff.pre_command == "pre" and eff.post_command is None
    assert eff.reboot_policy == RebootPolicy.NEVER and eff.auto_rollback == AutoRollback.OFF  # the group's
    assert setting_sources(host, group)["services"] == "host"
    assert setting_sources(host, group)["check_command"] == "group"
    # without group defaults the rule decides reboot and rollback
    bare = effective_host(host, None, MC)
    assert bare.reboot_policy == RebootPolicy.IF_NEEDED and bare.auto_rollback == AutoRollback.ON_RED
    assert setting_sources(host, None)["auto_rollback"] == "criticality"
    assert setting_sources(host, None)["check_command"] == "none"


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        ("reboot_approval", "yes", True),
        ("windows_only", "off", False),
        ("important_within_days", "3.5", 3.5),
        ("important_within_days", "", None),
        ("reboot", "Always", RebootPolicy.ALWAYS),
        ("auto_rollback", "on-red", AutoRollback.ON_RED),
    ],
)
def test_rule_values_from_text(key: str, text: str, expected: object) -> None:
    assert getattr(with_rule_value(DEFAULT_RULES[Criticality.STANDARD], key, text), key) == expected


@pytest.mark.parametrize(
    ("key", "text"),
    [("nope", "yes"), ("windows_only", "maybe"), ("important_within_days", "nan"), ("reboot", "sometimes")],
)
def test_bad_rule_values_are_sentences(key: str, text: str) -> None:
    with pytest.raises(ConfigError):
        with_rule_value(MC, key, text)


def test_a_broken_stored_rule_falls_back_field_by_field() -> None:
    rule = rule_from_json(Criticality.STANDARD, {"reboot": "bogus", "windows_only": True, "x": 1})
    assert rule.windows_only and rule.reboot == RebootPolicy.IF_NEEDED


def _settings(crit: Criticality, rule: CriticalityRule) -> PolicySettings:
    return replace(PolicySettings(), criticality={**DEFAULT_RULES, crit: rule})


def test_urgent_windows_wait_comes_from_the_rule_not_the_name() -> None:
    host = replace(HOST, criticality=Criticality.MISSION_CRITICAL)
    promoted = replace(NEW, state=RolloutState.APPROVED, ring=Ring.PRODUCTION)
    d = decide_update(host, UPD, promoted, NOW, PolicySettings(), open_window=None, windows=())
    assert d.needs_window and "mission-critical: waits for its maintenance window" in str(d.why_waiting)
    relaxed = _settings(Criticality.MISSION_CRITICAL, replace(MC, windows_only=False))
    d = decide_update(host, UPD, promoted, NOW, relaxed, open_window=None, windows=())
    assert d == type(d)(None, False)
    # and a standard host whose rule says windows only waits like a mission-critical one did
    strict = _settings(Criticality.STANDARD, replace(DEFAULT_RULES[Criticality.STANDARD], windows_only=True))
    d = decide_update(HOST, UPD, promoted, NOW, strict, open_window=None, windows=())
    assert d.needs_window and d.why_waiting is not None


def test_desktops_get_urgent_updates_at_once_and_important_ones_within_the_deadline() -> None:
    desk = replace(HOST, criticality=Criticality.DESKTOP)
    d = decide_update(desk, UPD, NEW, NOW, PolicySettings(), open_window=None, windows=())
    assert d.why_waiting is None and not d.needs_window  # no test ring, no window
    important = replace(UPD, classification=Classification.IMPORTANT)
    testing = replace(NEW, state=RolloutState.TESTING, ring=Ring.TEST, ring_since=NOW - timedelta(days=1))
    d = decide_update(desk, important, testing, NOW, PolicySettings(), open_window=None, windows=())
    assert d.why_waiting is not None and "promotion" in d.why_waiting
    late = replace(testing, ring_since=NOW - timedelta(days=2, minutes=1))
    d = decide_update(desk, important, late, NOW, PolicySettings(), open_window=None, windows=())
    assert d.why_waiting is None and not d.needs_window
    # the same update on a standard host still waits for its promotion
    d = decide_update(HOST, important, late, NOW, PolicySettings(), open_window=None, windows=())
    assert d.why_waiting is not None
