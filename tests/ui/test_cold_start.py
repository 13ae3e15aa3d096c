"""The cold start at 5,000 hosts (#25), checked by what the window does rather than by a clock: the
dashboard's first queries wait for the first frame, which says "Loading…" (never zeros or green)
until the real figures are in; the charts (QtCharts) are built with those figures."""

from __future__ import annotations

import pytest

from app.domain.compliance import Tile
from db import compliance as db_compliance
from tests.support.fleet import populate
from ui.main_window import MainWindow
from ui.views import dashboard as dashboard_mod


def _chart_place_texts(dash) -> list[str]:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QLabel

    return [box.findChild(QLabel).text() for box in dash._chart_boxes.values() if box.findChild(QLabel)]


def test_the_first_frame_says_loading_and_the_queries_wait_for_it(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    populate(db, hosts=40, days=3)
    w = MainWindow(db, runner=None, secrets=None)
    qtbot.addWidget(w)
    dash = w.dashboard
    # before the first paint: nothing computed, nothing made up
    qtbot.wait(400)  # past the refresh's 150 ms debounce, which used to start the queries here
    assert dash._generation == 0 and not dash.busy and dash.data is None
    assert dash.status_label.text() == dashboard_mod.LOADING_TEXT
    assert {t.number.text() for t in dash.tiles.values()} == {"-"}
    assert dash.drift_tile.number.text() == "-"  # was a "0" nobody had counted
    assert dash._chart_views == {}  # QtCharts not needed for the first frame
    assert _chart_place_texts(dash) == [dashboard_mod.LOADING_TEXT] * 3

    w.resize(1280, 800)
    w.show()
    qtbot.waitUntil(lambda: dash.data is not None and not dash.busy, timeout=10000)
    s = db_compliance.summary(db)
    for t, tile in dash.tiles.items():
        assert tile.number.text() == str(s[t])
    assert dash.status_label.text() == ""
    assert set(dash._chart_views) == {"chartClasses", "chartGroups", "chartTrend"}
    for view in (dash.class_view, dash.group_view, dash.trend_view):
        assert view.chart() is not None and view.chart().series()
        assert view.isVisible()
    assert _chart_place_texts(dash) == []  # the "Loading…" labels are gone
    qtbot.waitUntil(lambda: dash.drift_tile.number.text() == "0", timeout=5000)  # counted now


def test_a_dashboard_never_painted_still_gets_its_figures(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    populate(db, hosts=10, days=1)
    w = MainWindow(db, runner=None, secrets=None)  # never shown (tools, tests)
    qtbot.addWidget(w)
    qtbot.waitUntil(lambda: w.dashboard.data is not None, timeout=dashboard_mod.FIRST_REFRESH_FALLBACK_MS * 5)
    assert w.dashboard.tiles[Tile.HOSTS].number.text() == "10"


def test_a_first_refresh_that_fails_says_so_and_shows_no_figures(qtbot, db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    populate(db, hosts=10, days=1)

    def broken(*_args: object) -> None:
        raise RuntimeError("database is locked")

    monkeypatch.setattr(dashboard_mod, "_compute", broken)
    w = MainWindow(db, runner=None, secrets=None)
    qtbot.addWidget(w)
    w.show()
    dash = w.dashboard
    qtbot.waitUntil(lambda: dash.status_label.text().startswith("Not refreshed"), timeout=10000)
    assert "database is locked" in dash.status_label.text()
    assert _chart_place_texts(dash) == [dashboard_mod.NOT_LOADED_TEXT] * 3  # not "Loading…" forever
    assert {t.number.text() for t in dash.tiles.values()} == {"-"}
    assert dash.data is None


@pytest.mark.parametrize("tab", ["Updates", "Advisories", "Schedule", "Logs", "Audit", "Baselines"])
def test_a_tab_built_on_first_use_works_when_first_opened(qtbot, db, tab) -> None:  # type: ignore[no-untyped-def]
    populate(db, hosts=10, days=1)
    w = MainWindow(db, runner=None, secrets=None)
    qtbot.addWidget(w)
    w.show()
    titles = [w.tabs.tabText(i) for i in range(w.tabs.count())]
    assert all(w.lazy_tabs.built(key) is None for key, _title in dashboard_lazy_tabs())
    w.tabs.setCurrentIndex(titles.index(tab))
    key = next(k for k, title in dashboard_lazy_tabs() if title == tab)
    view = w.lazy_tabs.built(key)
    assert view is not None and w.tabs.currentWidget() is view and view.isVisible()
    assert [w.tabs.tabText(i) for i in range(w.tabs.count())] == titles
    view.grab()  # paints without error


def dashboard_lazy_tabs() -> tuple[tuple[str, str], ...]:
    from ui.lazy_tabs import LAZY_TABS

    return LAZY_TABS


def _style_changes_while_building(db) -> tuple[MainWindow, int]:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication, QWidget

    seen: dict[int, tuple[QObject, int]] = {}

    class Count(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.StyleChange:
                seen[id(watched)] = (watched, seen.get(id(watched), (watched, 0))[1] + 1)
            return False

    app = QApplication.instance()
    counter = Count()
    app.installEventFilter(counter)
    try:
        w = MainWindow(db, runner=None, secrets=None)
    finally:
        app.removeEventFilter(counter)
    # the window's own widgets (other tests' windows in this process are restyled too)
    own = {id(x) for x in w.findChildren(QWidget)} | {id(w)}
    return w, sum(n for key, (_obj, n) in seen.items() if key in own)


def test_building_the_window_restyles_each_widget_about_once(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    """Built under the application style sheet, every widget was restyled each time it or a part
    holding it changed parents: ~1,960 restyles of ~420 widgets (70 ms at 5,000 hosts, #25)."""
    from PySide6.QtWidgets import QApplication

    from ui import theme

    populate(db, hosts=20, days=1)
    theme.apply_theme("light")
    w, restyles = _style_changes_while_building(db)
    qtbot.addWidget(w)
    from PySide6.QtWidgets import QWidget

    widgets = len(w.findChildren(QWidget)) + 1
    assert restyles <= 1.5 * widgets, (restyles, widgets)
    # ...and the window has the look all the same, built in the style sheet's fonts
    assert QApplication.instance().styleSheet() == theme.build_stylesheet("light")
    w.resize(1280, 800)
    w.show()
    w.show_inventory()
    qtbot.waitExposed(w)
    table = w.inventory.table
    assert table.font().pointSizeF() == 10.0  # the style sheet's, not the desktop's 9 pt
    fitter = w.inventory.fitter
    name_col = 0
    measured = fitter._content_width(name_col)
    fitter._want.clear()
    assert fitter._content_width(name_col) == measured  # measured in the font it is shown in


def test_columns_measured_in_an_old_font_are_measured_again(qtbot) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QFont, QStandardItem, QStandardItemModel
    from PySide6.QtWidgets import QTableView

    from ui.widgets.columns import ColumnFitter

    model = QStandardItemModel(0, 2)
    model.setHorizontalHeaderLabels(["Name", "State"])
    for i in range(20):
        model.appendRow([QStandardItem(f"host-{i:03d}.example.invalid"), QStandardItem("ok")])
    view = QTableView()
    view.setModel(model)
    qtbot.addWidget(view)
    fitter = ColumnFitter(view, [0])
    small = QFont(view.font())
    small.setPointSizeF(8.0)
    view.setFont(small)
    view.resize(600, 300)
    view.show()
    qtbot.waitExposed(view)
    fitter.fit()
    before = fitter._content_width(0)
    big = QFont(view.font())
    big.setPointSizeF(16.0)
    view.setFont(big)  # a style sheet's font arriving after the first measure
    assert fitter._content_width(0) > before * 1.5


def test_the_folded_job_panel_takes_its_height_from_the_look_in_use(qtbot) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QApplication

    from ui import theme
    from ui.views.job_panel import JobPanel

    app = QApplication.instance()
    with theme.styled_once_built("light"):
        panel = JobPanel()  # folded while the style sheet is off
        qtbot.addWidget(panel)
        assert app.styleSheet() == ""
    assert app.styleSheet() == theme.build_stylesheet("light")
    assert not panel.expanded
    panel.layout().activate()
    assert panel.maximumHeight() == panel.sizeHint().height()  # the head's height in the style sheet's look


def test_the_idle_job_panel_builds_its_hosts_and_log_when_first_needed(qtbot) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QPlainTextEdit, QTableView

    from app.domain.models import Host
    from app.jobs.engine import JobHandle
    from ui.views.job_panel import JobPanel

    panel = JobPanel()
    qtbot.addWidget(panel)
    panel.resize(1000, 300)
    panel.show()
    # idle and folded: one line, and no table or log built for it (start-up, #25)
    assert not panel.expanded
    assert panel.findChildren(QTableView) == [] and panel.findChildren(QPlainTextEdit) == []
    host = Host(id=1, name="web-01", address="web-01.example.invalid")
    panel.start_job(JobHandle(7, [host]), [host])
    assert panel.expanded and panel.body.isVisible()
    assert panel.steps_view.model() is panel.steps_model and panel.steps_model.rowCount() == 1
    assert panel.host_filter.count() == 2  # All hosts, web-01
    panel.set_expanded(False)
    assert not panel.body.isVisible()
    panel.set_expanded(True)
    assert panel.body.isVisible() and panel.log.isVisible()
