"""The Windows history parser (ps/windows-history.ps1's JSON) and the installed-programs comparison."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from app.domain.models import PackageChange
from app.domain.outside_changes import (
    HistoryStatus,
    JobChange,
    diff_programs,
    program_authorized_by,
)
from app.platforms.windows.history import MAX_ITEMS, parse_windows_history


def _answer(**kw: object) -> str:
    base: dict[str, object] = {
        "total": 3,
        "history": [
            {
                "Operation": 1,
                "ResultCode": 2,
                "Date": "2024-01-10T05:00:00.0000000Z",
                "Title": "Update (KB5034441)",
                "UpdateID": "0b9a6d3e-4c2f-4e8a-9a51-3f1e2d4c5b6a",
            },
            {
                "Operation": 2,
                "ResultCode": 2,
                "Date": "2024-01-11T05:00:00Z",
                "Title": "Security Update (KB5031364)",
                "UpdateID": "",
            },
            {
                "Operation": 1,
                "ResultCode": 4,
                "Date": "2024-01-12T05:00:00Z",
                "Title": "Failed (KB5000000)",
                "UpdateID": "",
            },
        ],
        "programsRead": True,
        "programs": [{"Name": "7-Zip 23.01 (x64)", "Version": "23.01"}, {"Name": "", "Version": "1"}],
        "errors": [],
    }
    base.update(kw)
    return json.dumps(base)


def test_history_entries_and_programs() -> None:
    read = parse_windows_history(_answer())
    assert read.status == HistoryStatus.OK and read.covered_from is None
    assert [(e.action, e.name, e.from_version, e.to_version) for e in read.entries] == [
        ("install", "KB5034441", None, "installed"),
        ("remove", "KB5031364", "installed", None),  # the failed one is no change
    ]
    assert read.entries[0].when == datetime(2024, 1, 10, 5, tzinfo=UTC)
    assert read.inventory == (("7-Zip 23.01 (x64)", "23.01"),)


def test_cut_history_covers_only_what_was_sent() -> None:
    read = parse_windows_history(_answer(total=5000))
    assert read.covered_from == datetime(2024, 1, 10, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not json",
        "[]",
        _answer(total=-1, errors=["the Windows Update history: 0x80070005 Access is denied."]),
    ],
)
def test_unreadable_history_is_unknown(text: str) -> None:
    read = parse_windows_history(text)
    assert read.status == HistoryStatus.UNKNOWN and read.entries == ()


def test_programs_not_read_are_no_list() -> None:
    read = parse_windows_history(_answer(programsRead=False, programs=[]))
    assert read.status == HistoryStatus.OK and read.inventory is None


def test_hostile_answer_is_bounded() -> None:
    many = [
        {"Operation": 1, "ResultCode": 2, "Date": "2024-01-10T05:00:00Z", "Title": f"x (KB{5000000 + i})"}
        for i in range(MAX_ITEMS * 3)
    ]
    odd = [{"Operation": "1; rm", "ResultCode": 2, "Date": "yesterday", "Title": "\x1b[31m"}, 42, None]
    read = parse_windows_history(_answer(total=len(many), history=odd + many))
    assert len(read.entries) <= MAX_ITEMS


def test_program_list_difference() -> None:
    when = datetime(2024, 2, 1, tzinfo=UTC)
    before = [("7-Zip 23.01 (x64)", "23.01"), ("Notepad++", "8.5"), ("Old Tool", "1.0")]
    after = [("7-Zip 23.01 (x64)", "23.01"), ("Notepad++", "8.6"), ("PuTTY", "0.80")]
    got = [(e.action, e.name, e.from_version, e.to_version) for e in diff_programs(before, after, when)]
    assert got == [
        ("upgrade", "Notepad++", "8.5", "8.6"),
        ("remove", "Old Tool", "1.0", None),
        ("install", "PuTTY", None, "0.80"),
    ]


def test_program_change_by_a_patchdesk_job_is_authorized() -> None:
    since, when = datetime(2024, 2, 1, tzinfo=UTC), datetime(2024, 2, 2, tzinfo=UTC)
    [entry] = diff_programs([("Notepad++ (64-bit x64)", "8.5")], [("Notepad++ (64-bit x64)", "8.6")], when)
    change = PackageChange("choco", "notepadplusplus", "8.5", "8.6")
    job = JobChange(9, change.name, change.to_version, datetime(2024, 2, 1, 12, tzinfo=UTC), None)
    assert program_authorized_by(entry, [job], since) == 9
    late = JobChange(9, "notepadplusplus", "8.6", datetime(2024, 3, 1, tzinfo=UTC), None)
    assert program_authorized_by(entry, [late], since) is None
