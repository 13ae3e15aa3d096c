"""iCalendar and CSV exports: escaping, folding at 75 octets, formula-safe CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from app.domain.maintenance_windows import MaintenanceWindow, next_windows
from app.domain.models import ChangeLogEntry, PackageChange
from app.reports.calendar import changes_csv, changes_ics, escape_text, fold, windows_ics

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_escape() -> None:
    assert escape_text("a,b;c\\d\ne\r\nf") == "a\\,b\\;c\\\\d\\ne\\nf"
    assert escape_text("bell\x07") == "bell"


@given(st.text(min_size=0, max_size=400))
def test_fold_keeps_content_and_octet_limit(text: str) -> None:
    line = "DESCRIPTION:" + escape_text(text)
    folded = fold(line)
    assert folded.endswith("\r\n")
    physical = folded[:-2].split("\r\n")
    assert all(len(p.encode("utf-8")) <= 75 for p in physical)
    assert all(p.startswith(" ") for p in physical[1:])
    assert physical[0] + "".join(p[1:] for p in physical[1:]) == line


def test_windows_ics() -> None:
    w = MaintenanceWindow(
        "sat, late; night",
        "FREQ=WEEKLY;BYDAY=SA;BYHOUR=22",
        timedelta(hours=2),
        "Europe/Berlin",
        datetime(2026, 1, 1),
        groups=("lab", "web"),
        id=7,
    )
    text = windows_ics(next_windows([w], NOW, 2), NOW, {w.name: "Will patch: web1"})
    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:")
    assert text.count("BEGIN:VEVENT") == 2 and text.endswith("END:VCALENDAR\r\n")
    assert "DTSTART:20260606T200000Z" in text and "DTEND:20260606T220000Z" in text
    assert "SUMMARY:Maintenance window: sat\\, late\\; night" in text
    assert "UID:window-7-20260606T200000Z@patchdesk" in text
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))


def _entry() -> ChangeLogEntry:
    return ChangeLogEntry(
        12,
        "patch",
        "urgent",
        "admin",
        "=cmd|web1",
        NOW,
        NOW + timedelta(minutes=3),
        (
            PackageChange("apt", "openssl", "3.0.11-1", "3.0.15-1"),
            PackageChange("apt", "new-dep", None, "1.0"),
        ),
        "green",
        None,
    )


def test_change_log_csv_and_ics() -> None:
    rows = list(csv.reader(io.StringIO(changes_csv([_entry()]))))
    assert rows[0][:4] == ["finished_utc", "host", "job", "kind"]
    assert rows[1][1] == "'=cmd|web1"  # never a spreadsheet formula
    assert rows[1][7:11] == ["openssl", "upgrade", "3.0.11-1", "3.0.15-1"]
    assert rows[2][8] == "install"
    ics = changes_ics([_entry()], NOW)
    assert "SUMMARY:Patchdesk patch on =cmd|web1: 2 change(s)" in ics
    unfolded = ics.replace("\r\n ", "")
    assert "upgrade openssl 3.0.11-1 -> 3.0.15-1" in unfolded and "trigger urgent\\, by admin" in unfolded
