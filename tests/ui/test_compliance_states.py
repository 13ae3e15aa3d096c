"""Issue #17 in the window: unknown hosts have their own tile, 0 hosts is an empty state, and the
inventory's Status column tells the host's state (pytest-qt, offscreen)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.domain.compliance import Tile
from app.domain.events import HostStateChanged
from app.domain.models import StepState
from db import compliance as db_compliance
from tests.support.mixed_fleet import NAMES, populate_mixed
from ui.jobs_controller import VERBS
from ui.main_window import MainWindow
from ui.models.host_status import STATE_COLOURS
from ui.models.hosts_model import COL_STATUS


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


# -- the Status column --------------------------------------------------------------------------------


def _status(win: MainWindow, name: str) -> str:
    model = win.inventory.model
    h = next(h for h in model.hosts() if h.name == name)
    return model.data(model.index(model.row_of(h.id), COL_STATUS))


def test_status_tells_the_hosts_state(mixed) -> None:  # type: ignore[no-untyped-def]
    s = {n: _status(mixed, n) for n in NAMES}
    assert s["compliant.invalid"] == "compliant"
    assert s["pending.invalid"] == "non-compliant"
    assert s["never.invalid"] == "never scanned"
    assert s["scanfail.invalid"] == "scan failed"
    assert s["unreach.invalid"] == "unreachable"
    assert s["stale.invalid"].startswith("unknown")
    assert s["patchfail.invalid"] == "patch failed · compliant"
    assert s["rolledback.invalid"] == "non-compliant · rolled back"
    model = mixed.inventory.model
    h = next(h for h in model.hosts() if h.name == "patchfail.invalid")
    idx = model.index(model.row_of(h.id), COL_STATUS)
    assert model.data(idx, Qt.ItemDataRole.BackgroundRole).color() == STATE_COLOURS["failed"][1]
    assert "patch" in model.data(idx, Qt.ItemDataRole.ToolTipRole).lower()


def test_failed_last_job_tile_and_status_column_agree(qtbot, mixed, db) -> None:  # type: ignore[no-untyped-def]
    """The "Failed last job" tile opens hosts whose Status says so; no other host's Status does."""
    qtbot.mouseClick(mixed.dashboard.tiles[Tile.FAILED], Qt.MouseButton.LeftButton)
    model = mixed.inventory.model
    shown = sorted(model.host_at(r).name for r in range(model.rowCount()))
    assert shown == ["patchfail.invalid", "scanfail.invalid"]
    failed_words = ("failed", "interrupted", "verified red")
    for r in range(model.rowCount()):
        text = model.data(model.index(r, COL_STATUS))
        assert any(w in text for w in failed_words), text
    mixed.inventory.clear_scope()
    tile_ids = set(db_compliance.host_ids(db, Tile.FAILED))
    for h in model.hosts():
        says_failed = any(w in _status(mixed, h.name) for w in failed_words)
        assert says_failed == (h.id in tile_ids), h.name


def test_running_job_shows_its_own_verb_only_while_it_runs(mixed) -> None:  # type: ignore[no-untyped-def]
    model = mixed.inventory.model
    h = next(h for h in model.hosts() if h.name == "compliant.invalid")
    control = mixed.job_control
    control.jobs[991] = object()  # type: ignore[assignment]  # a job of this window, as _begin_job records it
    control.verbs[991] = "Verify"
    try:
        control.on_events([HostStateChanged(991, h.id, StepState.RUNNING)])
        assert _status(mixed, h.name) == "verifying…"
        control.on_events([HostStateChanged(991, h.id, StepState.SUCCEEDED)])
        assert _status(mixed, h.name) == "compliant"
    finally:
        del control.jobs[991]
    for what, verb in (("Scan", "scanning…"), ("Patch", "patching…"), ("Rollback", "rolling back…")):
        model.set_busy([h.id], True, verb=VERBS[what])
        assert _status(mixed, h.name) == verb
        model.set_busy([h.id], False)
    assert _status(mixed, h.name) == "compliant"


def test_detail_pane_says_what_the_column_says(mixed) -> None:  # type: ignore[no-untyped-def]
    model = mixed.inventory.model
    for name in ("patchfail.invalid", "scanfail.invalid", "stale.invalid", "compliant.invalid"):
        h = next(h for h in model.hosts() if h.name == name)
        mixed.detail.show_host(h)
        assert mixed.detail.status.text() == _status(mixed, name)
    h = next(h for h in model.hosts() if h.name == "scanfail.invalid")
    mixed.detail.show_host(h)
    pending = mixed.detail.facts["Pending"].text()
    assert "up to date" not in pending and pending.startswith("unknown")
    mixed.detail.show_host(next(h for h in model.hosts() if h.name == "stale.invalid"))
    assert mixed.detail.facts["Pending"].text().startswith("unknown — the last scan is stale")


def test_host_detail_says_why_an_incomplete_scan_is_unknown(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    from app.domain.models import Host, OsFacts, PendingUpdate, ScanResult
    from db import hosts as db_hosts
    from db import scans as db_scans

    h = db_hosts.add_host(db, Host(name="blind.invalid", address="127.0.32.30"))
    note = "The package index could not be refreshed, so this scan read the old one: E: repository gone"
    pending = (PendingUpdate("apt", "pd-lib", "1.1", "1.0"),)
    db_scans.record_scan(db, h.id, None, ScanResult(OsFacts(id="debian"), ("apt",), pending, notes=(note,)))
    win = _window(qtbot, db)
    try:
        win.show_inventory()
        win.inventory.select_host(h.id)
        qtbot.waitUntil(lambda: win.detail.host is not None and win.detail.host.id == h.id, timeout=5000)
        pending_text = win.detail.facts["Pending"].text()
        assert pending_text.startswith("unknown — incomplete scan (it found: 1 non-critical)")
        status = win.inventory.model.index(0, COL_STATUS).data()  # the only host
        assert status == "unknown · incomplete scan"
        assert "none — up to date" not in pending_text
        assert win.detail.scan_notes.isVisible() and note in win.detail.scan_notes.text()
    finally:
        win.close()
