"""The history event between the job worker and the console: the recorder in the worker has stored
the entries, so the console gets the event without them (like a scan's pending list)."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

from app.domain.outside_changes import HistoryEntry, HistoryRead, HistoryRecorded, HistoryStatus
from app.jobs.worker import _slim


def test_history_event_crosses_to_the_console_without_its_entries() -> None:
    entry = HistoryEntry("apt", "install", "pd-x", datetime(2025, 1, 1, tzinfo=UTC), None, "1.0")
    read = HistoryRead("apt", HistoryStatus.OK, (entry,) * 2000, inventory=(("a", "1"),))
    ev = HistoryRecorded(7, host_id=3, read=read)
    slim = _slim(ev)
    assert isinstance(slim, HistoryRecorded) and slim.host_id == 3
    assert slim.read.entries == () and slim.read.inventory is None and slim.read.status == HistoryStatus.OK
    assert pickle.loads(pickle.dumps(ev)) == ev  # the worker's pipe pickles events
