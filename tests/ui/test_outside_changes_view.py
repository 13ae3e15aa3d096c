"""The host detail's "Outside Patchdesk" tab and the dashboard tile: the changes no job made, and an
unreadable history shown as unknown rather than as none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.domain.outside_changes import HistoryEntry, HistoryRead, HistoryStatus
from db import hosts as db_hosts
from db import outside_changes as db_outside
from tests.support.fleet import populate
from ui.main_window import MainWindow


@pytest.fixture
def w(qtbot, db):  # type: ignore[no-untyped-def]
    populate(db, hosts=5, days=2)
    win = MainWindow(db, runner=None, secrets=None)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: win.dashboard.data is not None and not win.dashboard.busy, timeout=10000)
    yield win
    win.close()


def test_outside_change_in_host_detail_and_tile(w, db) -> None:  # type: ignore[no-untyped-def]
    hosts = db_hosts.list_hosts(db)
    hand, blind = hosts[0], hosts[1]
    assert hand.id is not None and blind.id is not None
    when = datetime.now(UTC) - timedelta(hours=1)
    db.execute("UPDATE hosts SET created_at = ?", [(when - timedelta(days=1)).isoformat()])
    entry = HistoryEntry("apt", "upgrade", "pd-regular", when, "2.0-1", "2.1-1", "all")
    db_outside.record_history(db, None, hand.id, HistoryRead("apt", HistoryStatus.OK, (entry,)))
    db_outside.record_history(
        db, None, blind.id, HistoryRead.unknown("apt", "/var/log/dpkg.log could not be read")
    )

    w.detail.show_host(hand)
    assert w.detail.tabs.tabText(w.detail.tabs.indexOf(w.detail.outside)) == "Outside Patchdesk (1)"
    item = w.detail.outside.tree.topLevelItem(0)
    assert [item.text(i) for i in (1, 2, 3)] == ["pd-regular", "2.0-1", "2.1-1"]
    w.detail.show_host(blind)
    assert w.detail.tabs.tabText(w.detail.tabs.indexOf(w.detail.outside)) == "Outside Patchdesk (0)"
    assert (
        w.detail.outside.status.text().startswith("Unknown") and "dpkg.log" in w.detail.outside.status.text()
    )

    w.dashboard.refresh_now()
    tile = w.dashboard.outside_tile
    assert tile.number.text() == "1" and "1 unknown" in tile.sub.text()
    assert "pd-regular 2.0-1 → 2.1-1" in tile.listing
