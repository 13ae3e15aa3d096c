"""Room at 1280x800 (#23 item 8): the idle job panel is one line, the host's pending updates and
history fit the pane without sideways scrolling, the History splitter does not jump, and the
Updates tab's "Why" is read whole."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.domain.compliance import UpdateHost, UpdateStatus
from app.domain.models import Classification, Host, OsFacts, PendingUpdate, ScanResult, UpdateKind
from db import hosts as db_hosts
from db import scans as db_scans
from tests.support.fleet import populate
from ui.main_window import MainWindow
from ui.views.update_view import NEED_HEADERS, NEED_WHY, UpdateView


def _window(qtbot, db) -> MainWindow:  # type: ignore[no-untyped-def]
    w = MainWindow(db, runner=None, secrets=None)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_idle_job_panel_is_one_line(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    w = _window(qtbot, db)
    w.show_inventory()
    qtbot.wait(50)
    panel = w.job_panel
    assert not panel.expanded
    assert panel.height() <= 60, panel.height()  # was ~220 px of an empty table and log
    assert w.inventory_tab.height() >= 600  # about 430 before
    panel.details_button.click()  # the administrator can still look at the last job
    qtbot.wait(50)
    assert panel.expanded and panel.height() >= 150
    panel.details_button.click()
    qtbot.wait(50)
    assert panel.height() <= 60


def _long_host(db) -> Host:  # type: ignore[no-untyped-def]
    host = db_hosts.add_host(db, Host(name="deb1", address="deb1.example.invalid"))
    assert host.id is not None
    ups = tuple(
        PendingUpdate(
            "apt",
            name,
            "1:9.2p1-2+deb12u5",
            "1:9.2p1-2+deb12u6",
            source="bookworm-security/main debian-security",
            kind=UpdateKind.SECURITY,
            classification=Classification.URGENT,
            reason="security update from bookworm-security (DSA-5678-1, CVE-2024-6387)",
        )
        for name in ("openssh-server", "linux-image-6.1.0-37-amd64", "libssl3")
    )
    facts = OsFacts(
        id="debian", name="Debian", pretty_name="Debian GNU/Linux 12", version="12", kernel="6.1.0"
    )
    db_scans.record_scan(db, host.id, None, ScanResult(facts, ("apt",), ups, complete=True))
    return db_hosts.get_host(db, host.id)


def test_pending_updates_fit_the_pane_at_1280(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    host = _long_host(db)
    w = _window(qtbot, db)
    w.show_inventory()
    w.inventory.select_host(host.id)
    qtbot.wait(50)
    view = w.detail.updates_view
    assert view.model().rowCount() == 3
    assert view.horizontalScrollBar().maximum() == 0 and not view.horizontalScrollBar().isVisible()
    assert w.detail.updates_fit.total_width() <= view.viewport().width()
    installed = view.model().index(0, 1)
    assert "1:9.2p1-2+deb12u5" in view.model().data(installed, Qt.ItemDataRole.ToolTipRole)


def test_history_splitter_does_not_jump(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    fleet = populate(db, hosts=45, days=2)
    w = _window(qtbot, db)
    w.show_inventory()
    patched, plain = fleet.host_ids[21], fleet.host_ids[0]  # hosts 20-39 were patched
    w.inventory.select_host(patched)
    w.detail.tabs.setCurrentIndex(1)
    qtbot.wait(50)
    before = w.detail.history_split.sizes()
    for hid in (plain, patched, plain, patched):
        w.inventory.select_host(hid)
        qtbot.wait(20)
        assert w.detail.history_split.sizes() == before
    hist = w.detail.history_view
    assert w.detail.history_fit.total_width() <= hist.viewport().width()
    header = hist.horizontalHeader()
    metrics = header.fontMetrics()
    for col in range(hist.model().columnCount()):
        if not header.isSectionHidden(col):  # no header cut ("olled bac" for "Rolled back")
            text = hist.model().headerData(col, Qt.Orientation.Horizontal)
            assert header.sectionSize(col) >= metrics.horizontalAdvance(text), text


def test_updates_why_is_last_and_whole(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    view = UpdateView(db)
    qtbot.addWidget(view)
    view.resize(1280, 700)
    view.show()
    reason = "KEV CVE-2099-0001 (due 2026-12-03), DSA-5678-1 high; the vendor says exploitation seen"
    need = UpdateHost(
        1, "web-001", "1.0", "1.1", "urgent", None, "2026-12-06T08:00:00+00:00", "openssl", reason
    )
    view.busy += 1
    view._status_loaded(UpdateStatus("openssl", (need,), (), ()))
    table = view.status_tables[0]
    assert NEED_HEADERS[-1] == "Why" and NEED_WHY == len(NEED_HEADERS) - 1
    assert view.need_model.rows[0][NEED_WHY] == reason
    assert table.columnWidth(NEED_WHY) >= table.fontMetrics().horizontalAdvance(reason)
    # and with a short reason, "Why" takes what is left of the width (no blank strip after it)
    short = UpdateHost(1, "web-001", "1.0", "1.1", "urgent", None, None, "openssl", "KEV")
    view.busy += 1
    view._status_loaded(UpdateStatus("openssl", (short,), (), ()))
    qtbot.wait(20)
    used = sum(table.columnWidth(c) for c in range(len(NEED_HEADERS)))
    assert used >= table.viewport().width() - 2


def test_a_job_unfolds_the_panel(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    from app.jobs.engine import JobHandle

    host = db_hosts.add_host(db, Host(name="web1", address="web1.example.invalid"))
    w = _window(qtbot, db)
    w.show_inventory()
    qtbot.wait(50)
    assert not w.job_panel.expanded
    w.job_panel.start_job(JobHandle(1, [host]), [host])
    qtbot.wait(50)
    assert w.job_panel.expanded and w.job_panel.height() >= 150  # the hosts and the log show


def test_fitted_columns_measure_what_qt_would(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    # The fitter reads the texts itself rather than Qt's sizeHintForColumn (which asks every cell a
    # dozen roles: 150 ms on a host with 4,000 updates); it must not come out narrower than Qt would.
    host = _long_host(db)
    w = _window(qtbot, db)
    w.show_inventory()
    w.inventory.select_host(host.id)
    qtbot.wait(50)
    view, fitter = w.detail.updates_view, w.detail.updates_fit
    for col in range(view.model().columnCount()):
        assert fitter._measure(col) >= view.sizeHintForColumn(col), col
        assert fitter._measure(col) <= view.sizeHintForColumn(col) + 12, col


def _headers_whole(view) -> list[str]:  # type: ignore[no-untyped-def]
    """The visible columns whose header text is cut (the stylesheet's headers are bold)."""
    from PySide6.QtGui import QFont, QFontMetrics

    header = view.horizontalHeader()
    font = QFont(header.font())
    font.setBold(True)
    metrics = QFontMetrics(font)
    cut = []
    for col in range(view.model().columnCount()):
        if header.isSectionHidden(col):
            continue
        text = str(view.model().headerData(col, Qt.Orientation.Horizontal) or "")
        if header.sectionSize(col) < metrics.horizontalAdvance(text) + 13:
            cut.append(text)
    return cut


def test_inventory_fits_without_sideways_scrolling_at_1280(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    """At 1280x800 the inventory's eleven columns needed sideways scrolling (Address and beyond were off
    screen): the columns that fit are shown whole, the rest wait for room or the header's menu."""
    from ui.views.inventory import CORE_COLUMNS

    populate(db, hosts=45, days=2)
    w = _window(qtbot, db)
    w.show_inventory()
    qtbot.wait(100)
    table = w.inventory.table
    bar = table.horizontalScrollBar()
    assert bar.maximum() == 0 and not bar.isVisible()
    assert w.inventory.fitter.total_width() <= table.viewport().width()
    assert set(CORE_COLUMNS) <= set(w.inventory.visible_columns())
    assert _headers_whole(table) == []
    narrow = w.inventory.visible_columns()
    w.resize(1920, 1080)  # more room: more of the optional columns come back
    qtbot.wait(100)
    assert len(w.inventory.visible_columns()) > len(narrow)
    assert table.horizontalScrollBar().maximum() == 0
    assert _headers_whole(table) == []


def test_inventory_header_menu_picks_columns_and_keeps_them(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    from ui.models.hosts_model import COL_CRITICALITY
    from ui.views.inventory import InventoryView

    populate(db, hosts=10, days=1)
    w = _window(qtbot, db)
    w.show_inventory()
    qtbot.wait(50)
    inv = w.inventory
    menu = inv.column_menu()
    names = {a.text(): a for a in menu.actions()}
    assert {"Columns by window width", "Address", "Criticality", "Ring"} <= set(names)
    names["Criticality"].setChecked(not names["Criticality"].isChecked())
    shown = COL_CRITICALITY in inv.visible_columns()
    assert inv.chosen_columns is not None and (COL_CRITICALITY in inv.chosen_columns) == shown
    again = InventoryView()  # the next start shows the same columns
    qtbot.addWidget(again)
    assert again.chosen_columns == inv.chosen_columns
    inv.set_chosen_columns(None)  # back to "by width"
    third = InventoryView()
    qtbot.addWidget(third)
    assert third.chosen_columns is None


def test_dashboard_trend_is_whole_at_1280(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    """With the Drifted and Outside Patchdesk tiles in a third row, the trend chart and the KEV list
    were cut at the bottom of the dashboard at 1280x800: everything fits without scrolling."""
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QScrollArea

    populate(db, hosts=30, days=14)
    w = _window(qtbot, db)
    dash = w.dashboard
    qtbot.waitUntil(lambda: dash.data is not None and not dash.busy, timeout=10000)
    qtbot.wait(100)
    scroll = dash.findChild(QScrollArea)
    assert scroll is not None
    port = scroll.viewport()
    assert scroll.verticalScrollBar().maximum() == 0
    for part in (dash.trend_view, dash.kev_list, dash.drift_tile, dash.outside_tile):
        bottom = part.mapTo(port, QPoint(0, part.height()))
        assert bottom.y() <= port.height(), (part.objectName(), bottom.y(), port.height())


def test_drift_tab_fits_the_pane_at_1280(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    """The host's Drift tab scrolled sideways at 1280x800 ("Since" cut at the pane's edge): its
    columns fit, the versions elide in the middle and their tooltips are whole."""
    from tests.ui.test_baselines_view import _drifted

    drifted, _ = _drifted(db)
    w = _window(qtbot, db)
    w.show_inventory()
    w.inventory.select_host(drifted.id)
    w.detail.tabs.setCurrentWidget(w.detail.drift_panel)
    qtbot.waitUntil(lambda: w.detail.drift_panel.model.rowCount() > 0, timeout=5000)
    qtbot.wait(50)
    table = w.detail.drift_panel.table
    assert table.horizontalScrollBar().maximum() == 0
    assert w.detail.drift_panel.fitter.total_width() <= table.viewport().width()
    assert _headers_whole(table) == []


def test_baselines_tab_shows_drift_words_whole_at_1280(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    """The Baselines tab cut "unknown — not every item …" and the drifted items at fixed widths while
    the Checked column stood half empty: the columns share the width by what they hold."""
    from tests.ui.test_baselines_view import _drifted

    _drifted(db)
    w = _window(qtbot, db)
    w.tabs.setCurrentWidget(w.baselines_view)
    qtbot.wait(100)
    for table in (w.baselines_view.items_table, w.baselines_view.hosts_table):
        assert table.horizontalScrollBar().maximum() == 0
        assert _headers_whole(table) == []
    hosts = w.baselines_view.hosts_table
    for row in range(hosts.model().rowCount()):
        text = hosts.model().data(hosts.model().index(row, 1))
        assert hosts.columnWidth(1) >= hosts.fontMetrics().horizontalAdvance(text), text


def test_schedule_tables_fit_at_1280(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    """The Schedule tab's plan beside the window openings scrolled sideways at 1280x800 ("Estimat")."""
    from datetime import datetime, timedelta

    from app.domain.maintenance_windows import MaintenanceWindow
    from db import maintenance_windows as db_windows

    populate(db, hosts=40, days=2)
    groups = ("databases", "dmz", "build", "web", "office")
    nightly = MaintenanceWindow(
        "nightly",
        "FREQ=DAILY;BYHOUR=2;BYMINUTE=0",
        timedelta(hours=2),
        "Europe/Berlin",
        datetime(2026, 1, 1),
        groups,
    )
    db_windows.add_window(db, nightly)
    w = _window(qtbot, db)
    view = w.schedule_view
    w.tabs.setCurrentWidget(view)
    qtbot.waitUntil(lambda: view.snapshot is not None, timeout=20000)
    view.occ_table.selectRow(0)
    qtbot.wait(100)
    for table in (view.occ_table, view.plan_table):
        assert table.model().rowCount() > 0
        assert table.horizontalScrollBar().maximum() == 0, table.objectName()
        assert _headers_whole(table) == [], table.objectName()
