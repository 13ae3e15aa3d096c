"""The one-shot SYSTEM task's scripts and the parsing of its status."""

from __future__ import annotations

import json

from app.platforms.windows.scripts import render, script_ops
from app.platforms.windows.systask import parse_poll, start_script, wrap_payload


def test_task_scripts() -> None:
    run_ps = wrap_payload(render("wua-scan", "@{ x = 1 }"))
    assert script_ops(run_ps) == ["task", "wua-scan"]
    start = start_script("0123abcd", render("wua-scan", "@{}"))
    assert "NT AUTHORITY\\SYSTEM" in start and "-AtStartup" in start and "SetAccessRuleProtection" in start
    state = parse_poll(
        json.dumps({"status": json.dumps({"state": "running", "phase": "x"}), "task": "Running", "boot": "b"})
    )
    assert (
        state is not None and state.status == {"state": "running", "phase": "x"} and state.task == "Running"
    )
    assert parse_poll('{"status": "{broken", "task": 5}') == parse_poll(
        '{"status": null, "task": "Unknown", "boot": ""}'
    )
    assert parse_poll("[]") is None and parse_poll("") is None
