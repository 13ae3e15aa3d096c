"""Chocolatey's ``-r`` output parsing and exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.errors import AdapterError
from app.platforms.windows.chocolatey import (
    exit_meaning,
    parse_list,
    parse_outdated,
    parse_versions,
    search_script,
    to_pending,
    upgrade_script,
)
from app.platforms.windows.scripts import script_params

DATA = Path(__file__).resolve().parents[4] / "data" / "windows"


def test_outdated() -> None:
    items, warnings = parse_outdated((DATA / "choco_outdated.txt").read_text())
    assert [(i.id, i.installed, i.available, i.pinned) for i in items] == [
        ("git", "2.43.0", "2.44.0", False),
        ("7zip", "23.1.0", "24.1.0", False),
        ("notepadplusplus", "8.6.1", "8.6.4", True),
    ]
    assert len(warnings) == 1 and "bad|id|x" in warnings[0]
    assert to_pending(items[2]).source == "chocolatey (pinned)"


def test_list_and_versions() -> None:
    assert parse_list((DATA / "choco_list.txt").read_text())["git"] == "2.43.0"
    assert parse_list("evil id|1.0\r\nok|1.0 ; calc\r\n") == {}
    assert parse_versions("git|2.44.0\r\ngit|2.43.0\r\nGit|2.42.0\r\nother|1\r\n", "git") == {
        "2.44.0",
        "2.43.0",
        "2.42.0",
    }


def test_exit_codes() -> None:
    assert [exit_meaning(c) for c in (0, 1641, 3010, 350, 1604, 1)] == [
        "ok",
        "reboot",
        "reboot",
        "pending-reboot",
        "suspended",
        "failed",
    ]


def test_ids_are_data_and_checked() -> None:
    assert script_params(upgrade_script("git", "2.44.0")) == [
        {"id": "git", "version": "2.44.0", "downgrade": False}
    ]
    with pytest.raises(AdapterError):
        search_script("git; calc")
    with pytest.raises(AdapterError):
        upgrade_script("git", "1.0 --source evil")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_parsers_never_crash(text: str) -> None:
    parse_outdated(text)
    parse_list(text)
    parse_versions(text, "git")
