"""Issue #17 in the window: unknown hosts have their own tile, 0 hosts is an empty state, and the
inventory's Status column tells the host's state (pytest-qt, offscreen)."""

from __future__ import annotations

import pytest

from app.domain.compliance import Tile
from db import compliance as db_compliance
from tests.support.mixed_fleet import populate_mixed
from ui.main_window import MainWindow


def _window(qtbot, db) -> MainWindow:  # type: ignore[no-untyped-def]
    win = MainWindow(db, runner=None, secrets=None)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.show()
    qtbot.waitUntil(lambda: win.dashboard.data is not None and not win.dashboard.busy, timeout=10000)
    return win


@pytest.fixture
def mixed(qtbot, db):  # type: ignore[no-untyped-def]
    populate_mixed(db)
    win = _window(qtbot, db)
    yield win
    win.close()


def test_no_hosts_is_an_empty_state_not_100_percent(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    win = _window(qtbot, db)
    try:
        d = win.dashboard
        assert d.empty_label.isVisible() and "add a host" in d.empty_label.text()
        up = d.tiles[Tile.UP_TO_DATE]
        assert up.number.text() == "0" and "%" not in up.sub.text()
        assert up.property("level") != "ok"  # not green
    finally:
        win.close()


def test_unknown_hosts_have_their_own_tile(mixed, db) -> None:  # type: ignore[no-untyped-def]
    d = mixed.dashboard
    assert not d.empty_label.isVisible()
    assert d.tiles[Tile.UNKNOWN].number.text() == "4"
    assert d.tiles[Tile.UNKNOWN].property("level") == "unknown"
    assert d.tiles[Tile.NON_COMPLIANT].number.text() == "2"
    assert d.tiles[Tile.UP_TO_DATE].number.text() == "2"
    assert d.tiles[Tile.UP_TO_DATE].sub.text() == "50% of 4 known"
    assert db_compliance.summary(db).known_percent == 50.0
