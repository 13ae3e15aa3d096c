"""Chocolatey's ``-r`` output parsing and exit codes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.errors import AdapterError
from app.platforms.windows.chocolatey import (
    exit_meaning,
    parse_list,
    parse_outdated,
    parse_outdated_run,
    parse_sources,
    parse_versions,
    search_script,
    source_index,
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


NOW = datetime(2024, 1, 10, 9, 0, tzinfo=UTC)
SOURCES = [
    "chocolatey|https://community.chocolatey.org/api/v2/|False|||0|False|False|False",
    "internal|https://nuget.example.invalid/choco/|False|deploy||1|False|False|True",
    "old|\\\\files.example.invalid\\choco|True|||2|False|False|False",
]


def _run(out: list[str], *, sources: list[str] | None = None, err: list[str] | None = None) -> str:
    return json.dumps(
        {
            "sources": SOURCES if sources is None else sources,
            "sourcesExit": 0,
            "out": out,
            "err": err or [],
            "exit": 2 if out else 0,
        }
    )


def test_sources() -> None:
    assert [(s.name, s.disabled) for s in parse_sources(SOURCES)] == [
        ("chocolatey", False),
        ("internal", False),
        ("old", True),
    ]


def test_every_enabled_source_answered_is_fresh() -> None:
    run = parse_outdated_run(_run(["git|2.43.0|2.44.0|false"]))
    assert run is not None and [i.id for i in run.items] == ["git"] and run.failed == []
    index = source_index(run, "win01", NOW)
    assert index.measured and index.updated == NOW and index.notes == ()


def test_an_unreachable_source_is_named_and_incomplete() -> None:
    """The "empty because broken" answer: the community source does not answer, choco warns and
    lists nothing (--ignore-unfound), exit code 0. That is not "nothing outdated"."""
    run = parse_outdated_run(
        _run(
            [],
            err=[
                "Unable to load the service index for source https://community.chocolatey.org/api/v2/.",
                "Unable to connect to source 'https://community.chocolatey.org/api/v2/': No such host.",
            ],
        )
    )
    assert run is not None and run.items == [] and run.failed == ["chocolatey"]
    index = source_index(run, "win01", NOW)
    assert not index.measured
    assert index.notes == (
        "Chocolatey source chocolatey did not answer on win01; updates from it are missing.",
    )


def test_no_enabled_source_or_unreadable_source_list_is_incomplete() -> None:
    none = parse_outdated_run(_run([], sources=[SOURCES[2]]))
    assert none is not None and "no enabled source" in source_index(none, "win01", NOW).notes[0]
    broken = json.loads(_run([]))
    broken["sourcesExit"] = 1
    run = parse_outdated_run(json.dumps(broken))
    assert run is not None and run.sources is None
    assert "could not be listed" in source_index(run, "win01", NOW).notes[0]


def test_unreadable_lines_make_the_scan_incomplete() -> None:
    run = parse_outdated_run(_run(["git|2.43.0|2.44.0|false", "bad|id|x"]))
    assert run is not None and not source_index(run, "win01", NOW).measured


def test_truncated_or_missing_answer_is_none() -> None:
    for text in ("", '{"sources": ["chocolatey|https://x.invalid/|False', "choco: command not found", "[]"):
        assert parse_outdated_run(text) is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_parsers_never_crash(text: str) -> None:
    parse_outdated_run(text)
    parse_outdated(text)
    parse_list(text)
    parse_versions(text, "git")
