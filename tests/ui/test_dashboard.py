"""The dashboard as home view: numbers, charts, tiles that filter the inventory, chart segments that
open update lists, the per-update view, logs, audit and the Report… action (pytest-qt, offscreen)."""

from __future__ import annotations

import csv
import shutil
import subprocess

import pytest
from PySide6.QtCore import Qt

from app.domain.compliance import Tile
from db import compliance as db_compliance
from tests.support.fleet import populate
from ui.main_window import MainWindow
from ui.models.hosts_model import COL_NAME


@pytest.fixture
def w(qtbot, db):  # type: ignore[no-untyped-def]
    populate(db, hosts=200, days=14)
    win = MainWindow(db, runner=None, secrets=None)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitUntil(lambda: win.dashboard.data is not None and not win.dashboard.busy, timeout=10000)
    yield win
    win.close()


def _shown(win: MainWindow) -> list[str]:
    model = win.inventory.model
    return [model.data(model.index(r, COL_NAME)) for r in range(model.rowCount())]


def test_home_view_numbers_and_charts(w, db) -> None:  # type: ignore[no-untyped-def]
    assert w.tabs.currentWidget() is w.dashboard
    s = db_compliance.summary(db)
    for t, tile in w.dashboard.tiles.items():
        assert tile.number.text() == str(s[t])
    assert w.dashboard.tiles[Tile.URGENT].sub.text() == f"{s.urgent_updates} updates"
    for view in (w.dashboard.class_view, w.dashboard.group_view, w.dashboard.trend_view):
        chart = view.chart()
        assert chart is not None and chart.series()
        image = view.grab().toImage()
        assert not image.isNull() and image.width() > 100
        colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
        assert len(colours) > 5  # something was drawn, not a blank widget
    assert len(w.dashboard.trend_view.chart().series()[0].points()) == 15
    assert "pending since" in w.dashboard.oldest_label.text()
    assert w.dashboard.kev_list.count() == 2


def test_clicking_a_tile_filters_the_inventory(qtbot, w, db) -> None:  # type: ignore[no-untyped-def]
    qtbot.mouseClick(w.dashboard.tiles[Tile.URGENT], Qt.MouseButton.LeftButton)
    assert w.tabs.currentWidget() is w.inventory_tab
    expected = {h for (h,) in db.execute("SELECT name FROM hosts WHERE pending_urgent > 0")}
    assert set(_shown(w)) == expected and len(expected) == db_compliance.summary(db)[Tile.URGENT]
    assert w.inventory.scope_bar.isVisible() and "Missing urgent" in w.inventory.scope_label.text()
    qtbot.mouseClick(w.inventory.scope_clear, Qt.MouseButton.LeftButton)
    assert len(_shown(w)) == 200 and not w.inventory.scope_bar.isVisible()

    # a filter on the dashboard narrows both the numbers and the list behind a tile
    w.tabs.setCurrentWidget(w.dashboard)
    w.dashboard.group_combo.setCurrentIndex(w.dashboard.group_combo.findData("web"))
    qtbot.waitUntil(
        lambda: w.dashboard.data is not None and w.dashboard.data.filter.group == "web", timeout=10000
    )
    web_unreachable = {
        h
        for (h,) in db.execute(
            "SELECT h.name FROM hosts h JOIN groups g ON g.id = h.group_id WHERE g.name = 'web' "
            "AND h.last_status = 'unreachable'"
        )
    }
    assert w.dashboard.tiles[Tile.UNREACHABLE].number.text() == str(len(web_unreachable))
    qtbot.mouseClick(w.dashboard.tiles[Tile.UNREACHABLE], Qt.MouseButton.LeftButton)
    assert set(_shown(w)) == web_unreachable


def test_chart_segments_open_update_lists(qtbot, w, db) -> None:  # type: ignore[no-untyped-def]
    pie = w.dashboard.class_view.chart().series()[0]
    urgent_slice = next(sl for sl in pie.slices() if sl.property("classification") == "urgent")
    urgent_slice.clicked.emit()
    assert w.tabs.currentWidget() is w.updates_view
    qtbot.waitUntil(
        lambda: w.updates_view.busy == 0 and w.updates_view.list_model.rowCount() > 0, timeout=10000
    )
    names = {r[0] for r in w.updates_view.list_model.rows}
    expected = {
        n for (n,) in db.execute("SELECT DISTINCT name FROM pending_updates WHERE classification = 'urgent'")
    }
    assert names == expected
    # a group bar segment: that class in that group
    bars = w.dashboard.group_view.chart().series()[0]
    important = next(s for s in bars.barSets() if s.property("classification") == "important")
    group = w.dashboard._group_names[-1]
    bars.clicked.emit(len(w.dashboard._group_names) - 1, important)
    qtbot.waitUntil(lambda: group in w.updates_view.title.text(), timeout=10000)
    qtbot.waitUntil(lambda: w.updates_view.busy == 0, timeout=10000)
    hosts_in_group = sum(r[3] for r in w.updates_view.list_model.rows)
    assert (
        hosts_in_group
        == db.execute(
            "SELECT count(*) FROM pending_updates p JOIN hosts h ON h.id = p.host_id "
            "JOIN groups g ON g.id = h.group_id "
            "WHERE g.name = ? AND p.classification = 'important'",
            [group],
        ).fetchone()[0]
    )


def test_per_update_view(qtbot, w, db) -> None:  # type: ignore[no-untyped-def]
    w.show_update("openssl")
    qtbot.waitUntil(lambda: w.updates_view.status is not None and w.updates_view.busy == 0, timeout=10000)
    st = w.updates_view.status
    assert w.updates_view.need_model.rowCount() == len(st.need) > 0
    assert w.updates_view.have_model.rowCount() == 17 - 0 and w.updates_view.failed_model.rowCount() == 4
    qtbot.mouseClick(w.updates_view.inventory_button, Qt.MouseButton.LeftButton)
    assert set(_shown(w)) == {u.host for u in st.need}


def test_logs_search_export_and_prune(qtbot, w, db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    w.tabs.setCurrentWidget(w.logs_view)
    qtbot.waitUntil(lambda: w.logs_view.busy == 0 and w.logs_view.model.rowCount() > 0, timeout=10000)
    w.logs_view.level_combo.setCurrentIndex(1)  # errors
    w.logs_view.search()
    qtbot.waitUntil(lambda: w.logs_view.busy == 0, timeout=10000)
    assert w.logs_view.model.rowCount() == 3 and all(r.level == "error" for r in w.logs_view.rows)
    out = tmp_path / "logs.csv"
    assert w.logs_view.export_csv(out) == 3
    with out.open() as fh:
        assert len(list(csv.DictReader(fh))) == 3
    db.execute("UPDATE job_logs SET ts = '2001-01-01T00:00:00.000+00:00' WHERE level = 'error'")
    w.logs_view.retention_spin.setValue(30)
    assert w.logs_view.prune_now() == 3
    assert "Pruned 3 log line(s)" in w.logs_view.prune_label.text()
    w.tabs.setCurrentWidget(w.audit_view)
    actions = [r[3] for r in w.audit_view.model.rows]
    assert "logs.pruned" in actions and "settings.changed" in actions
    assert w.audit_view.verify()
    db.execute("UPDATE audit_log SET details = '{}' WHERE id = 1")
    assert not w.audit_view.verify() and "entry 1" in w.audit_view.result_label.text()


def test_report_action_writes_a_pdf(w, tmp_path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "report.pdf"
    w.export_report(str(out), "pdf")
    assert out.read_bytes()[:5] == b"%PDF-"
    if shutil.which("pdftoppm"):
        subprocess.run(
            ["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1", str(out), str(tmp_path / "p")], check=True
        )
        assert list(tmp_path.glob("p*.png"))
    w.export_report(str(tmp_path / "r.html"), "html")
    assert "<svg" in (tmp_path / "r.html").read_text()


def test_alerts_show_in_the_tray_or_status_bar(w, db) -> None:  # type: ignore[no-untyped-def]
    from app.services import alerts

    found = alerts.job_alerts(db, 1)
    for a in found:
        w.notify(a)
    assert [a.kind for a in w.alerts_shown] == [
        alerts.AlertKind.JOB_FAILED,
        alerts.AlertKind.VERIFICATION_RED,
    ]


def test_trend_shows_unknown_hosts_and_no_green_empty_days(qapp) -> None:  # type: ignore[no-untyped-def]
    from app.domain.compliance import DailyPoint
    from ui.charts import trend_chart

    old = DailyPoint("2026-01-01", 10, 4, 1, 1, 1, 1, 1)  # recorded before the split: no unknown
    empty = DailyPoint("2026-01-02", 0, 0, 0, 0, 0, 0, 0, non_compliant=0, unknown=0)
    new = DailyPoint("2026-01-03", 10, 4, 1, 1, 1, 1, 1, non_compliant=2, unknown=4)
    chart, line = trend_chart([old, empty, new])
    assert [p.y() for p in line.points()] == [40.0, 40.0]  # the empty day is a gap, not 100 %
    [unknown] = [s for s in chart.series() if s.name() == "Unknown"]
    assert [p.y() for p in unknown.points()] == [40.0]
    chart, _ = trend_chart([old])
    assert not [s for s in chart.series() if s.name() == "Unknown"]
