"""Criticality rules and group defaults: what a host does when it does not say itself.

A host's own settings win; where it sets nothing, its group's defaults apply; where the group sets
nothing either, the rule of the host's criticality decides (reboot policy, automatic rollback). The
rules are data (db/host_policy.py, ``patchdesk policy criticality``, the Settings dialog) so no code
is hard-wired to one criticality: the scheduler's window and ring gates (app/domain/schedule.py) and
the patch task's reboot and rollback decisions (app/jobs/patching.py) read them.

Pure: the shell reads the rules and the group defaults and calls :func:`effective_host` before a job
starts, so the tasks see the settings that apply and never read the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Any

from app.domain.errors import ConfigError
from app.domain.models import AutoRollback, Criticality, Host, RebootPolicy


@dataclass(frozen=True)
class CriticalityRule:
    """How hosts of one criticality are patched by default."""

    criticality: Criticality
    #: urgent updates go out as soon as they are found: no wait for the test ring or a window
    urgent_at_once: bool = False
    #: important updates reach these hosts at most this many days after the update entered its
    #: current ring (``Rollout.ring_since``), promoted or not, without waiting for a window (None: no
    #: deadline)
    important_within_days: float | None = None
    #: updates reach these hosts only through the rings (test first, then promotion)
    test_ring_first: bool = True
    #: every change waits for a maintenance window, urgent ones too (unless overridden)
    windows_only: bool = False
    #: the reboot policy where neither the host nor its group sets one
    reboot: RebootPolicy = RebootPolicy.IF_NEEDED
    #: a needed reboot is not done by a patch on its own: it waits for the administrator
    #: (``patch --reboot ...`` or ``patchdesk reboot``)
    reboot_approval: bool = False
    #: what a red verification after a patch does where neither the host nor its group says
    auto_rollback: AutoRollback = AutoRollback.OFF

    def as_json(self) -> dict[str, object]:
        return {
            "criticality": str(self.criticality),
            "urgent_at_once": self.urgent_at_once,
            "important_within_days": self.important_within_days,
            "test_ring_first": self.test_ring_first,
            "windows_only": self.windows_only,
            "reboot": str(self.reboot),
            "reboot_approval": self.reboot_approval,
            "auto_rollback": str(self.auto_rollback),
        }


#: The rules a new database starts with (the issue's policy): desktops patched quickly after brief
#: testing, servers through the test ring inside windows, critical systems with the most care.
DEFAULT_RULES: Mapping[Criticality, CriticalityRule] = {
    Criticality.DESKTOP: CriticalityRule(
        Criticality.DESKTOP, urgent_at_once=True, important_within_days=2.0, reboot=RebootPolicy.IF_NEEDED
    ),
    Criticality.STANDARD: CriticalityRule(Criticality.STANDARD, test_ring_first=True),
    Criticality.MISSION_CRITICAL: CriticalityRule(
        Criticality.MISSION_CRITICAL,
        test_ring_first=True,
        windows_only=True,
        reboot_approval=True,
        auto_rollback=AutoRollback.ON_RED,
    ),
}

#: rule field -> what it means, for `policy criticality show` and the Settings table
RULE_FIELDS: Mapping[str, str] = {
    "urgent_at_once": "urgent updates at once (no test ring, no window)",
    "important_within_days": "important updates within N days (empty: no deadline)",
    "test_ring_first": "updates through the test ring first",
    "windows_only": "changes inside windows only, urgent too",
    "reboot": "reboot policy: never | if-needed | always",
    "reboot_approval": "a reboot needs approval",
    "auto_rollback": "on a red verification: off | on-red",
}

_TRUE = ("yes", "true", "1", "on")
_FALSE = ("no", "false", "0", "off")


def rule_for(rules: Mapping[Criticality, CriticalityRule], criticality: Criticality) -> CriticalityRule:
    return rules.get(criticality) or DEFAULT_RULES[criticality]


def with_rule_value(rule: CriticalityRule, key: str, text: str) -> CriticalityRule:
    """``rule`` with one field set from text (the CLI's and the table's input); a sentence if not."""
    if key not in RULE_FIELDS:
        raise ConfigError(f"Unknown criticality rule field {key!r}; known: {', '.join(RULE_FIELDS)}.")
    v = text.strip().lower()
    value: Any
    if key == "important_within_days":
        value = _days(v)
    elif key == "reboot":
        value = _choice(RebootPolicy, v, key)
    elif key == "auto_rollback":
        value = _choice(AutoRollback, v, key)
    elif v in _TRUE or v in _FALSE:
        value = v in _TRUE
    else:
        raise ConfigError(f"{key} takes yes or no, not {text[:40]!r}.")
    return replace(rule, **{key: value})


def _days(v: str) -> float | None:
    if not v:
        return None
    try:
        days = float(v)
    except ValueError:
        raise ConfigError(f"important_within_days takes a number of days, not {v[:40]!r}.") from None
    if not 0 <= days <= 366:  # NaN fails this too
        raise ConfigError("important_within_days must be from 0 to 366 days.")
    return days


def _choice(enum: type[RebootPolicy] | type[AutoRollback], v: str, key: str) -> RebootPolicy | AutoRollback:
    for member in enum:
        if member.value == v:
            return member
    raise ConfigError(f"{key} takes {' | '.join(m.value for m in enum)}, not {v[:40]!r}.")


def rule_from_json(criticality: Criticality, data: Mapping[str, object]) -> CriticalityRule:
    """A stored rule; unknown or broken fields fall back to the default rule's (never a crash)."""
    rule = DEFAULT_RULES[criticality]
    for f in fields(CriticalityRule):
        if f.name == "criticality" or f.name not in data:
            continue
        raw = data[f.name]
        text = "" if raw is None else ("yes" if raw is True else "no" if raw is False else str(raw))
        try:
            rule = with_rule_value(rule, f.name, text)
        except ConfigError:
            continue
    return rule


# -- group defaults --------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupDefaults:
    """Settings a group gives its hosts where a host sets nothing (None / empty: the group sets
    nothing either)."""

    group: str
    reboot_policy: RebootPolicy | None = None
    pre_command: str | None = None
    post_command: str | None = None
    services: tuple[str, ...] = ()
    check_command: str | None = None
    auto_rollback: AutoRollback | None = None

    def is_empty(self) -> bool:
        return self == GroupDefaults(self.group)

    def as_json(self) -> dict[str, object]:
        return {
            "group": self.group,
            "reboot_policy": str(self.reboot_policy) if self.reboot_policy else None,
            "pre_command": self.pre_command,
            "post_command": self.post_command,
            "services": list(self.services),
            "check_command": self.check_command,
            "auto_rollback": str(self.auto_rollback) if self.auto_rollback else None,
        }


#: the host fields a group can give a default for
GROUP_DEFAULT_FIELDS = (
    "reboot_policy",
    "pre_command",
    "post_command",
    "services",
    "check_command",
    "auto_rollback",
)


def effective_host(host: Host, group: GroupDefaults | None, rule: CriticalityRule) -> Host:
    """``host`` with every setting it leaves unset filled in: from its group, then from its rule.

    The reboot policy and automatic rollback always end set (the rule has one of each); commands and
    services stay empty when neither the host nor its group gives any."""
    changes = _unset_filled(host, group, rule)
    return replace(host, **changes) if changes else host


def effective_settings(host: Host, group: GroupDefaults | None, rule: CriticalityRule) -> dict[str, Any]:
    """The defaultable settings that apply to ``host`` (``GROUP_DEFAULT_FIELDS``), without building a
    new Host: ``hosts list --json`` asks this of the whole inventory."""
    out = {name: getattr(host, name) for name in GROUP_DEFAULT_FIELDS}
    out.update(_unset_filled(host, group, rule))
    return out


def _unset_filled(host: Host, group: GroupDefaults | None, rule: CriticalityRule) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if group is not None:
        for name in GROUP_DEFAULT_FIELDS:
            if not getattr(host, name) and getattr(group, name):
                changes[name] = getattr(group, name)
    if host.reboot_policy is None and "reboot_policy" not in changes:
        changes["reboot_policy"] = rule.reboot
    if host.auto_rollback is None and "auto_rollback" not in changes:
        changes["auto_rollback"] = rule.auto_rollback
    return changes


def setting_sources(host: Host, group: GroupDefaults | None) -> dict[str, str]:
    """Where each defaultable setting of ``host`` comes from: "host", "group" or "criticality"
    (commands and services nobody sets come from nowhere: "none")."""
    out: dict[str, str] = {}
    for name in GROUP_DEFAULT_FIELDS:
        if getattr(host, name):
            out[name] = "host"
        elif group is not None and getattr(group, name):
            out[name] = "group"
        elif name in ("reboot_policy", "auto_rollback"):
            out[name] = "criticality"
        else:
            out[name] = "none"
    return out


def important_deadline_passed(rule: CriticalityRule, ring_since: datetime | None, now: datetime) -> bool:
    """Whether an important update that entered its current ring at ``ring_since`` is now due on a
    host of ``rule`` whatever its promotion (the rule's ``important_within_days``)."""
    if rule.important_within_days is None or ring_since is None:
        return False
    return now - ring_since >= timedelta(days=rule.important_within_days)
