"""The Windows health probe's parsing (app/platforms/windows/health.py) and how judge() reads it."""

from __future__ import annotations

import json

import pytest

from app.domain.errors import AdapterError
from app.domain.verdicts import Verdict, judge
from app.platforms.windows.health import (
    health_script,
    parse_time,
    parse_windows_health,
    restart_script,
    windows_wording,
)
from app.platforms.windows.scripts import script_ops, script_params


def test_script_carries_everything_as_data() -> None:
    script = health_script(["WinRM", "MSSQL$SQLEXPRESS"], 1700000000.7)
    assert script_ops(script) == ["windows-health"]
    assert script_params(script) == [
        {"services": ["WinRM", "MSSQL$SQLEXPRESS"], "sinceMs": 1700000000700, "max": 50}
    ]
    assert "NoMatchingEventsFound" in script and "LogName = 'System', 'Application'" in script
    with pytest.raises(ValueError):
        health_script(["x'; Stop-Computer"])
    assert script_ops(restart_script()) == ["restart"]


def test_seven_digit_fractions_and_offsets() -> None:
    assert parse_time("2024-01-10T06:00:00.0000000Z") == 1704866400.0
    assert parse_time("2024-01-10T07:00:00.5+01:00") == 1704866400.5
    assert parse_time("yesterday") is None and parse_time(None) is None


def _out(**kw: object) -> str:
    base: dict[str, object] = {
        "Now": "2024-01-10T08:00:00.0000000Z",
        "LastBoot": "2024-01-10T06:00:00.0000000Z",
        "Events": [],
        "EventsError": None,
        "Services": {"WinRM": "Running"},
    }
    base.update(kw)
    return "\ufeff" + json.dumps(base) + "\r\n"


def test_no_events_is_green() -> None:
    h = parse_windows_health(_out())
    assert h.system_state == "running" and h.journal_errors == () and h.services == {"WinRM": "active"}
    assert h.boot_time == 1704866400.0 and h.now == 1704873600.0
    v = judge(expected={}, installed={}, health_after=h, services=["WinRM"])
    assert v.verdict == Verdict.GREEN and not any("systemd" in r or "journal" in r for r in v.reasons)


def test_one_error_is_amber_and_reads_like_windows() -> None:
    # PowerShell 5's ConvertTo-Json turns a one-element array into the object itself
    event = {
        "Time": "2024-01-10T07:59:00.1234567Z",
        "Log": "System",
        "Source": "Service Control Manager",
        "Id": 7031,
        "Level": "Error",
        "Message": "The Print Spooler service terminated unexpectedly.\r\nmore",
    }
    h = parse_windows_health(
        _out(Events=event, Services={"WinRM": "Running", "Spooler": "Stopped", "Nope": "NotFound"})
    )
    assert h.journal_errors == (
        "2024-01-10 07:59:00 System log, Service Control Manager event 7031: "
        "The Print Spooler service terminated unexpectedly. more",
    )
    v = judge(expected={}, installed={}, health_after=h, services=["WinRM"])
    assert v.verdict == Verdict.AMBER
    reasons = windows_wording(v.reasons)
    assert reasons[0].startswith("1 new error(s) in the System/Application event logs, e.g. 2024-01-10")
    red = judge(expected={}, installed={}, health_after=h, services=["Spooler", "Nope"])
    assert red.verdict == Verdict.RED
    assert "service Spooler is stopped" in red.reasons and "service Nope is not installed" in red.reasons


def test_unreadable_logs_are_not_healthy_and_garbage_is_an_error() -> None:
    h = parse_windows_health(_out(EventsError="The RPC server is unavailable"))
    assert h.journal_errors is None
    with pytest.raises(AdapterError):
        parse_windows_health("<Objs>not json</Objs>")
