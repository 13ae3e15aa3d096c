"""Baseline items and drift verdicts: the pure decisions, by table."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.baseline import (
    DriftVerdict,
    ItemStatus,
    Observation,
    check_target,
    evaluate,
    make_item,
    verdict,
)

SHA = "a" * 64
META = "root:root:644:3:regular file"
PRL = {"options": {"PermitRootLogin": "no"}}
V2 = {"state": "present", "version": "2.0-1"}
V2MIN = {**V2, "match": "minimum"}
UP = {"enabled": True, "running": True}


def obs(**fields: str) -> Observation:
    return Observation(dict(fields), complete=True)


@pytest.mark.parametrize(
    ("kind", "target", "expected", "fields", "status"),
    [
        (
            "file",
            "/etc/x",
            {"state": "present", "mode": "0644"},
            {"exists": "1", "meta": META},
            "ok",
        ),
        (
            "file",
            "/etc/x",
            {"mode": "0600"},
            {"exists": "1", "meta": META},
            "drifted",
        ),
        (
            "file",
            "/etc/x",
            {"sha256": SHA},
            {"exists": "1", "meta": META},
            "unknown",
        ),
        ("file", "/etc/x", {"sha256": SHA}, {"exists": "1", "sha256": "b" * 64}, "drifted"),
        ("file", "/etc/x", {"state": "absent"}, {"exists": "0"}, "ok"),
        ("file", "/etc/x", {"sha256": SHA}, {"exists": "0"}, "drifted"),
        ("file", "/etc/x", {"sha256": SHA}, {}, "unknown"),
        (
            "file",
            "/etc/x",
            PRL,
            {"exists": "1", "readable": "1", "opt.PermitRootLogin": "no"},
            "ok",
        ),
        (
            "file",
            "/etc/x",
            PRL,
            {"exists": "1", "readable": "1"},
            "drifted",
        ),
        ("file", "/etc/x", PRL, {"exists": "1"}, "unknown"),
        ("package", "p", V2, {"installed": "2.0-1"}, "ok"),
        ("package", "p", V2, {"installed": "2.1-1"}, "drifted"),
        (
            "package",
            "p",
            V2MIN,
            {"installed": "2.1-1"},
            "ok",
        ),
        (
            "package",
            "p",
            V2MIN,
            {"installed": "1.9"},
            "drifted",
        ),
        ("package", "p", {"state": "absent"}, {"installed": ""}, "ok"),
        ("package", "p", {"state": "present"}, {"installed": ""}, "drifted"),
        ("package", "p", {"state": "present"}, {}, "unknown"),
        (
            "service",
            "ssh",
            {"enabled": True, "running": True},
            {"enabled": "enabled", "active": "active"},
            "ok",
        ),
        (
            "service",
            "ssh",
            {"enabled": True, "running": True},
            {"enabled": "enabled", "active": "failed"},
            "drifted",
        ),
        ("service", "ssh", {"enabled": True}, {}, "unknown"),
        ("sysctl", "net.ipv4.ip_forward", {"value": "0"}, {"value": "0"}, "ok"),
        ("sysctl", "net.ipv4.tcp_rmem", {"value": "4096 131072"}, {"value": "4096\t131072"}, "ok"),
        ("sysctl", "net.ipv4.ip_forward", {"value": "0"}, {"value": "1"}, "drifted"),
        ("sysctl", "net.ipv4.ip_forward", {"value": "0"}, {}, "unknown"),
        ("user", "bob", {"state": "present"}, {"rc": "0"}, "ok"),
        ("user", "bob", {"state": "absent"}, {"rc": "0"}, "drifted"),
        ("group", "wheel", {"state": "present"}, {"rc": "1"}, "unknown"),
        ("port", "tcp/22", {"state": "listening"}, {"listening": "1"}, "ok"),
        ("port", "tcp/23", {"state": "closed"}, {"listening": "1"}, "drifted"),
    ],
)
def test_evaluate(
    kind: str, target: str, expected: dict[str, Any], fields: dict[str, str], status: str
) -> None:
    item = make_item(kind, target, expected, 1)
    assert evaluate(item, obs(**fields)).status == status


def test_a_cut_or_missing_answer_is_unknown_never_ok() -> None:
    item = make_item("package", "p", {"state": "absent"}, 1)
    assert evaluate(item, None).status == ItemStatus.UNKNOWN
    assert evaluate(item, Observation({"installed": ""}, complete=False)).status == ItemStatus.UNKNOWN


def test_rpm_versions_compare_as_rpm() -> None:
    item = make_item("package", "p", {"version": "1.10-1", "match": "minimum"}, 1)
    assert evaluate(item, obs(installed="1.9-1"), fmt="rpm").status == ItemStatus.DRIFTED


@pytest.mark.parametrize(
    ("statuses", "assigned", "want"),
    [
        ([], 0, DriftVerdict.NO_BASELINE),
        (["ok", "ok"], 2, DriftVerdict.NO_DRIFT),
        (["ok"], 2, DriftVerdict.UNKNOWN),  # an item never checked
        (["ok", "unknown"], 2, DriftVerdict.UNKNOWN),
        (["unknown", "drifted"], 2, DriftVerdict.DRIFTED),
    ],
)
def test_verdict(statuses: list[str], assigned: int, want: DriftVerdict) -> None:
    assert verdict(statuses, assigned) == want


@pytest.mark.parametrize(
    ("kind", "target"),
    [
        ("file", "etc/relative"),
        ("file", "/etc/$(reboot)"),
        ("file", "/etc/a b"),
        ("file", "/etc/../shadow"),
        ("package", "-rf"),
        ("package", "a;b"),
        ("service", "x`id`"),
        ("sysctl", "../../etc"),
        ("user", "Root Name"),
        ("port", "tcp/70000"),
        ("port", "sctp/22"),
        ("nosuch", "x"),
    ],
)
def test_targets_that_could_reach_a_shell_are_refused(kind: str, target: str) -> None:
    with pytest.raises(ValueError):
        check_target(kind, target)


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("file", {"mode": "rwx"}),
        ("file", {"owner": "root;id"}),
        ("file", {"sha256": "xyz"}),
        ("package", {"version": "1.0 && reboot"}),
        ("package", {"match": "maybe"}),
        ("file", {"options": {"a b": "c"}}),
        ("sysctl", {"state": "present", "bogus": 1}),
    ],
)
def test_expected_values_are_checked(kind: str, expected: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        make_item(kind, "/etc/x" if kind == "file" else "x", expected)


REG = "HKLM\\SOFTWARE\\Policies\\X|Name"


@pytest.mark.parametrize(
    ("kind", "target", "expected", "fields", "status"),
    [
        (
            "registry",
            REG,
            {"value": "1", "type": "DWord"},
            {"exists": "1", "value": "1", "type": "DWord"},
            "ok",
        ),
        (
            "registry",
            REG,
            {"value": "1", "type": "DWord"},
            {"exists": "1", "value": "0", "type": "DWord"},
            "drifted",
        ),
        ("registry", REG, {"value": "1"}, {"exists": "0"}, "drifted"),
        ("registry", REG, {"state": "absent"}, {"exists": "0"}, "ok"),
        ("registry", REG, {"value": "1"}, {}, "unknown"),
        (
            "win-service",
            "Spooler",
            {"start_mode": "Disabled"},
            {"exists": "1", "start_mode": "Disabled"},
            "ok",
        ),
        ("win-service", "Spooler", {"running": False}, {"exists": "1", "status": "Running"}, "drifted"),
        ("win-service", "Spooler", {"running": False}, {"exists": "0"}, "drifted"),
        ("program", "7-Zip", {"state": "present", "version": "23.01"}, {"installed": "23.01"}, "ok"),
        ("program", "7-Zip", {"state": "absent"}, {"installed": "23.01"}, "drifted"),
        (
            "local-group",
            "Administrators",
            {"members": ["H\\a"]},
            {"exists": "1", "members": "h\\A\nH\\b"},
            "ok",
        ),
        (
            "local-group",
            "Administrators",
            {"members": ["H\\c"]},
            {"exists": "1", "members": "H\\a"},
            "drifted",
        ),
        ("firewall", "Public", {"enabled": True}, {"enabled": "True"}, "ok"),
        ("firewall", "Public", {"enabled": True}, {"enabled": "NotConfigured"}, "unknown"),
    ],
)
def test_evaluate_windows(
    kind: str, target: str, expected: dict[str, Any], fields: dict[str, str], status: str
) -> None:
    assert evaluate(make_item(kind, target, expected, 1), obs(**fields)).status == status


@pytest.mark.parametrize(
    ("kind", "target", "expected"),
    [
        ("registry", "HKXX\\SOFTWARE|Name", {}),
        ("registry", "HKLM\\SOFTWARE", {}),  # no value name part
        ("registry", REG, {"type": "REG_EVIL"}),
        ("win-service", "Spooler", {"start_mode": "Sometimes"}),
        ("firewall", "Everywhere", {}),
        ("firewall", "Public", {"enabled": "yes"}),
        ("local-group", "Admins:x", {}),
    ],
)
def test_windows_targets_and_values_are_checked(kind: str, target: str, expected: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        make_item(kind, target, expected)
