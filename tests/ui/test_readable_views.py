"""Times in local time and readable details in the Audit and Updates tabs, no elided headers
(#23 items 8 and 9, part)."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt

from app.domain.compliance import UpdateHost, UpdateStatus
from app.services import audit
from ui.models.host_status import local_iso
from ui.views.audit_view import AuditView, details_text
from ui.views.update_view import NEED_HEADERS, UpdateView


@pytest.fixture
def berlin(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_stored_utc_times_show_in_local_time(berlin) -> None:  # type: ignore[no-untyped-def]
    assert local_iso("2026-12-06T08:00:00+00:00") == "2026-12-06 09:00"
    assert local_iso("2026-12-06T08:00:00") == "2026-12-06 09:00"  # naive: stored as UTC
    assert local_iso("not a time at all, really") == "not a time at all, really"[:16]
    assert local_iso(None) == ""


def test_audit_tab_reads_like_the_logs_tab(qtbot, db, berlin) -> None:  # type: ignore[no-untyped-def]
    audit.record(db, audit.HOST_ADDED, "web1", {"address": "127.0.9.1", "transport": "ssh"})
    view = AuditView(db)
    qtbot.addWidget(view)
    view.reload()
    m = view.model
    headers = [m.headerData(c, Qt.Orientation.Horizontal) for c in range(6)]
    assert headers[1] == "Time"  # no longer "Time (UTC)" beside Logs' local times
    row = next(r for r in m.rows if r[4] == "web1")
    assert row[5] == "address: 127.0.9.1 · transport: ssh"
    entry = next(e for e in audit.entries(db) if e.target == "web1")
    assert row[1] == local_iso(entry.at) and row[1] != entry.at[:16].replace("T", " ")


def test_details_text_lists_and_long_lists() -> None:
    assert details_text({"added": ["a", "b"], "format": "csv"}) == "added: a, b · format: csv"
    assert details_text({"added": [str(i) for i in range(25)]}).endswith("(+5 more)")


def test_update_tables_fit_their_headers(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    view = UpdateView(db)
    qtbot.addWidget(view)
    view.resize(1280, 700)
    view.show()
    need = UpdateHost(
        1, "web-001", "1.0", "1.1", "important", None, "2026-12-06T08:00:00+00:00", "pd-regular", "a reason"
    )
    view.busy += 1
    view._status_loaded(UpdateStatus("pd-regular", (need,), (), ()))
    table = view.status_tables[0]
    header = table.horizontalHeader()
    metrics = header.fontMetrics()
    for col in range(view.need_model.columnCount()):
        text = view.need_model.headerData(col, Qt.Orientation.Horizontal)
        assert header.sectionSize(col) >= metrics.horizontalAdvance(text), text
    seen = NEED_HEADERS.index("Seen")  # "Why" moved to the end (#23 item 8)
    assert view.need_model.rows[0][seen] == local_iso("2026-12-06T08:00:00+00:00")
