"""Each view says why it is empty and offers the next step (#23 item 5): Inventory (Add host /
Import, or Clear the filter), host detail ("No hosts yet — Add host"), Updates (Scan), Logs, Audit;
the trend axis shows real dates once each, the group axis whole numbers, and the KEV hint is whole."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from PySide6.QtCharts import QDateTimeAxis, QValueAxis
from PySide6.QtCore import QDateTime, Qt

from app.domain.compliance import DailyPoint, GroupPending
from app.domain.models import Host
from db import hosts as db_hosts
from ui.charts import group_chart, nice_step, trend_chart, trend_dates, trend_ticks
from ui.dialogs.host_dialog import HostDialog
from ui.main_window import MainWindow
from ui.views.dashboard import KEV_HINT


def _window(qtbot, db) -> MainWindow:  # type: ignore[no-untyped-def]
    w = MainWindow(db, runner=None, secrets=None)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    return w


def test_empty_inventory_offers_add_host_and_import(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    w = _window(qtbot, db)
    w.show_inventory()
    inv = w.inventory
    assert inv.stack.showing_empty  # not a blank table
    assert inv.empty_state.title.text() == "No hosts yet"
    assert inv.empty_state.visible_actions() == ["Add host…", "Import hosts…"]
    with qtbot.waitSignal(inv.import_requested):
        inv.empty_state.buttons["Import hosts…"].click()
    inv.empty_state.buttons["Add host…"].click()
    assert isinstance(w.active_dialog, HostDialog)
    w.active_dialog.reject()


def test_inventory_with_no_match_says_so_and_clears(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    db_hosts.add_host(db, Host(name="web1", address="web1.example.invalid"))
    w = _window(qtbot, db)
    inv = w.inventory
    assert not inv.stack.showing_empty
    inv.filter_edit.setText("no-such-host")
    assert inv.stack.showing_empty
    assert inv.empty_state.title.text() == "No host matches"
    assert inv.empty_state.visible_actions() == ["Clear the filter"]
    inv.empty_state.buttons["Clear the filter"].click()
    assert inv.filter_edit.text() == "" and not inv.stack.showing_empty


def test_host_detail_without_hosts_says_add_host(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    w = _window(qtbot, db)
    assert w.detail.placeholder.title.text() == "No hosts yet — Add host"
    assert w.detail.placeholder.visible_actions() == ["Add host…"]
    db_hosts.add_host(db, Host(name="web1", address="web1.example.invalid"))
    w.reload_hosts()
    assert w.detail.placeholder.title.text() == "Select a host"  # there is one to select now
    assert w.detail.placeholder.visible_actions() == []


def test_updates_tab_lists_on_first_show_and_offers_a_scan(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    w = _window(qtbot, db)
    w.tabs.setCurrentWidget(w.updates_view)
    view = w.updates_view
    qtbot.waitUntil(lambda: view.list_loaded_once)  # shown directly, it lists (it stayed blank)
    assert view.list_stack.showing_empty
    assert view.list_empty.visible_actions() == ["Add host…"]  # nothing to scan yet
    db_hosts.add_host(db, Host(name="web1", address="web1.example.invalid"))
    view.list_loaded_once = False
    view.ensure_loaded()
    qtbot.waitUntil(lambda: view.list_loaded_once)
    assert view.list_empty.visible_actions() == ["Scan all hosts"]
    with qtbot.waitSignal(view.scan_requested):
        view.list_empty.buttons["Scan all hosts"].click()
    assert view.status_stack.showing_empty  # "Pick an update", not three empty tables
    assert view.status_empty.title.text() == "Pick an update"


def test_logs_and_audit_say_why_they_are_empty(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    w = _window(qtbot, db)
    w.tabs.setCurrentWidget(w.logs_view)
    logs = w.logs_view
    qtbot.waitUntil(lambda: not logs.busy)
    assert logs.stack.showing_empty
    assert logs.empty_state.title.text() == "No log lines yet"
    assert logs.empty_state.visible_actions() == ["Add host…"]  # no host: nothing to scan
    db_hosts.add_host(db, Host(name="web1", address="web1.example.invalid"))
    logs.search()
    qtbot.waitUntil(lambda: not logs.busy)
    assert logs.empty_state.visible_actions() == ["Scan all hosts"]
    logs.text_edit.setText("kernel")
    logs.search()
    qtbot.waitUntil(lambda: not logs.busy)
    assert logs.empty_state.title.text() == "No log line matches"
    assert logs.empty_state.visible_actions() == ["Clear the filters"]
    w.tabs.setCurrentWidget(w.audit_view)
    assert w.audit_view.stack.showing_empty
    assert w.audit_view.empty_state.visible_actions() == ["Add host…"]


def _axis(chart, kind):  # type: ignore[no-untyped-def]
    return next(a for a in chart.axes() if isinstance(a, kind))


def _labels(axis: QDateTimeAxis) -> list[str]:
    first, last = axis.min(), axis.max()
    n = axis.tickCount()
    step = (last.toMSecsSinceEpoch() - first.toMSecsSinceEpoch()) / (n - 1)
    return [
        QDateTime.fromMSecsSinceEpoch(int(first.toMSecsSinceEpoch() + i * step), first.timeZone()).toString(
            axis.format()
        )
        for i in range(n)
    ]


def test_trend_axis_without_history_shows_real_dates_once_each(qapp) -> None:  # type: ignore[no-untyped-def]
    chart, _line = trend_chart([])
    axis = _axis(chart, QDateTimeAxis)
    labels = _labels(axis)
    assert len(set(labels)) == len(labels) > 1, labels  # was "Jan 1" five times
    assert axis.max().date().year() == datetime.now(UTC).year
    assert "no history yet" in chart.title()


def test_trend_axis_labels_are_distinct_for_any_span(qapp) -> None:  # type: ignore[no-untyped-def]
    today = date(2026, 12, 6)
    for days in (1, 2, 3, 6, 7, 10, 13, 29, 30, 90):
        points = [
            DailyPoint((today - timedelta(days=d)).isoformat(), 10, 5, 2, 3, 2, 3, 4)
            for d in range(days, -1, -1)
        ]
        chart, _line = trend_chart(points)
        labels = _labels(_axis(chart, QDateTimeAxis))
        assert len(set(labels)) == len(labels), (days, labels)
    assert trend_ticks(0, 30 * 86_400_000) == 7  # every 5 days
    assert trend_dates(date(2026, 11, 6), date(2026, 12, 6), 7)[1] == "2026-11-11"


def test_group_axis_ticks_are_whole_numbers(qapp) -> None:  # type: ignore[no-untyped-def]
    chart, _bars, _names = group_chart([GroupPending("web", 1, 0, 0, 1), GroupPending("db", 1, 0, 0, 0)])
    axis = _axis(chart, QValueAxis)
    assert axis.tickType() == QValueAxis.TickType.TicksDynamic
    assert axis.tickInterval() == 1 and axis.max() == 1  # not "0 0 0 0 1"
    assert [nice_step(p) for p in (1, 4, 5, 7, 12, 175, 4321)] == [1, 1, 1, 2, 5, 50, 1000]


def test_kev_hint_is_not_cut(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    db_hosts.add_host(db, Host(name="web1", address="web1.example.invalid"))
    w = _window(qtbot, db)
    qtbot.waitUntil(lambda: w.dashboard.data is not None and not w.dashboard.busy)
    kev = w.dashboard.kev_list
    item = kev.item(0)
    assert item.text() == KEV_HINT
    assert kev.wordWrap() and kev.horizontalScrollBarPolicy() == Qt.ScrollBarPolicy.ScrollBarAlwaysOff
    rect = kev.visualItemRect(item)
    needed = kev.fontMetrics().boundingRect(
        0, 0, kev.viewport().width(), 10_000, int(Qt.TextFlag.TextWordWrap), KEV_HINT
    )
    assert rect.width() <= kev.viewport().width()
    assert rect.height() >= needed.height()  # the whole sentence, wrapped ("Import advis" before)


def test_advisories_without_data_offer_import_and_refresh(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    from ui.views.advisories_view import AdvisoriesView

    view = AdvisoriesView(db)
    qtbot.addWidget(view)
    view.show()
    view.ensure_loaded()
    qtbot.waitUntil(lambda: view.snapshot is not None)
    assert view.table_stack.showing_empty
    assert view.empty_state.visible_actions() == ["Import a file…", "Refresh online"]
    assert "Import advisories" in view.empty_label.text()
