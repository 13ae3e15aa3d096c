"""What the window pays at 5,000 hosts (#25), checked by what it does rather than by a clock: a filter
keystroke does not re-measure every inventory column, and the columns still fit once typing settles."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.support.fleet import populate
from ui.main_window import MainWindow
from ui.widgets import columns


def _window(qtbot, db) -> MainWindow:  # type: ignore[no-untyped-def]
    w = MainWindow(db, runner=None, secrets=None)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_a_filter_keystroke_no_longer_measures_every_inventory_column(qtbot, db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    populate(db, hosts=60, days=1)
    w = _window(qtbot, db)
    w.show_inventory()
    qtbot.wait(50)
    fitter, table = w.inventory.fitter, w.inventory.table
    measured: list[int] = []
    real = fitter._measure
    monkeypatch.setattr(fitter, "_measure", lambda col: measured.append(col) or real(col))
    edit = w.inventory.filter_edit
    for ch in "web":
        edit.setText(edit.text() + ch)
        w.inventory.table.viewport().repaint()
    # each keystroke re-measured all eleven columns' texts (3 x 11 here), a third of its time at 5,000
    # hosts; now the rows that settled are measured once
    assert measured == []
    qtbot.waitUntil(lambda: bool(measured), timeout=columns.REFIT_DELAY_MS * 10)
    assert len(measured) == len(set(measured))  # one refit, each column once
    assert w.inventory.model.rowCount() < w.inventory.model.total_count()
    assert fitter.total_width() <= table.viewport().width()
    header = table.horizontalHeader()
    name = w.inventory.model.index(0, 0).data(Qt.ItemDataRole.DisplayRole)
    assert header.sectionSize(0) >= table.fontMetrics().horizontalAdvance(name)  # the names still fit


def test_the_baselines_tab_is_built_when_first_shown_not_at_start_up(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    w = _window(qtbot, db)
    # start-up built (and read the baselines of) a tab nobody had opened
    assert w.lazy_tabs.built("baselines") is None
    titles = [w.tabs.tabText(i) for i in range(w.tabs.count())]
    assert titles[-1] == "Baselines" and len(titles) == 8
    w.tabs.setCurrentIndex(titles.index("Baselines"))
    view = w.lazy_tabs.built("baselines")
    assert view is not None and view is w.baselines_view is w.tabs.currentWidget()
    assert [w.tabs.tabText(i) for i in range(w.tabs.count())] == titles
    with qtbot.waitSignal(w.dashboard.refreshed, timeout=5000):
        w.baselines_view.changed.emit()  # a baseline changed: the dashboard's tile re-reads


def _big_host(db, name: str, n: int):  # type: ignore[no-untyped-def]
    from app.domain.models import Host, OsFacts, PendingUpdate, ScanResult
    from db import hosts as db_hosts
    from db import scans as db_scans

    host = db_hosts.add_host(db, Host(name=name, address=f"{name}.example.invalid"))
    assert host.id is not None
    updates = tuple(PendingUpdate("apt", f"{name}{i:04d}", "2", "1") for i in range(n))
    db_scans.record_scan(db, host.id, None, ScanResult(OsFacts(id="debian"), ("apt",), updates))
    return host


def test_selecting_a_host_with_thousands_of_updates_builds_only_the_rows_it_uses(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    """A click on the host read all its rows on the main thread (14-30 ms for 4,000, #25): now the
    first page at once, the tab saying the rest is being read, then the rest between events."""
    from ui.views.host_detail import FIRST_PAGE_ROWS, REST_SLICE_ROWS

    host = _big_host(db, "big", 1500)
    w = _window(qtbot, db)
    w.show_inventory()
    w.inventory.select_host(host.id)
    model, tabs = w.detail.updates_model, w.detail.tabs
    inserted: list[tuple[int, int]] = []
    model.rowsInserted.connect(lambda _parent, first, last: inserted.append((first, last)))
    assert model.rowCount() == FIRST_PAGE_ROWS
    assert tabs.tabText(0) == "Pending updates (1500, loading…)"
    assert "being read" in tabs.tabToolTip(0)
    qtbot.waitUntil(lambda: model.rowCount() == 1500, timeout=5000)
    # read in slices, listed at once: each insertion lays out and repaints the table
    assert REST_SLICE_ROWS < 1300 and inserted == [(FIRST_PAGE_ROWS, 1499)]
    assert tabs.tabText(0) == "Pending updates (1500)" and tabs.tabToolTip(0) == ""
    # every one of the 1,500 was built on each click, then the columns' 200 and what is painted; now
    # what is shown is read from the rows as stored, and a PendingUpdate is made only when asked for
    w.detail.updates_view.viewport().repaint()
    assert model._rows.built() == 0  # type: ignore[attr-defined]
    names = [model.index(r, 0).data() for r in range(1500)]
    assert names == [f"big{i:04d}" for i in range(1500)]  # all of them, in the list's order
    assert model.update_at(1499).name == "big1499"  # type: ignore[union-attr]


def test_the_rest_of_a_hosts_list_is_read_after_its_first_page_is_painted(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    """The rest's first slice sorts the host's whole list (5-9 ms for 4,000 rows) and ran in the same
    pass of the event loop as the click's paint, so the host showed that much later (#25). Now it
    begins once the first page is on screen; the tab says "loading…" until the whole list is there."""
    from PySide6.QtWidgets import QApplication

    from ui.views.host_detail import FIRST_PAGE_ROWS

    host = _big_host(db, "big", 1500)
    w = _window(qtbot, db)
    w.show_inventory()
    qtbot.wait(50)
    detail = w.detail
    w.inventory.select_host(host.id)
    reader = detail._reader
    assert reader is not None and reader._fetched == FIRST_PAGE_ROWS
    painted: list[int] = []
    detail._first_page_painted.connect(lambda: painted.append(reader._fetched))
    QApplication.processEvents()  # the click's pass of the loop: the window painted
    assert painted == [FIRST_PAGE_ROWS]  # painted before any more was read
    assert reader._fetched == FIRST_PAGE_ROWS  # and not read in that pass: after it
    assert detail.updates_model.rowCount() == FIRST_PAGE_ROWS
    assert detail.tabs.tabText(0) == "Pending updates (1500, loading…)"
    model = detail.updates_model
    qtbot.waitUntil(lambda: model.rowCount() == 1500, timeout=5000)
    assert detail.tabs.tabText(0) == "Pending updates (1500)" and detail._reader is None
    assert [model.index(r, 0).data() for r in (0, 1499)] == ["big0000", "big1499"]


def test_a_click_on_a_host_paints_its_list_once(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    """The list's reset left its layout, and the columns' refit left the columns' repaint, to 0-ms
    timers that fired after the click's paint and painted the whole list again (7 ms of the first
    click on the 4,000-update host, #25): now both are done before the paint."""
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication

    class Paints(QObject):
        n = 0

        def eventFilter(self, _obj, event) -> bool:  # type: ignore[no-untyped-def]
            if event.type() == QEvent.Type.Paint:
                self.n += 1
            return False

    host = _big_host(db, "big", 900)
    w = _window(qtbot, db)
    w.show_inventory()
    qtbot.wait(50)
    paints = Paints()
    w.detail.updates_view.viewport().installEventFilter(paints)
    w.inventory.select_host(host.id)  # the first click: the host detail is shown, laid out, fitted
    QApplication.processEvents()
    assert paints.n == 1
    QApplication.processEvents()
    w.repaint()
    assert paints.n == 1  # nothing of the list was left to paint again
    qtbot.waitUntil(lambda: w.detail.updates_model.rowCount() == 900, timeout=5000)
    header = w.detail.updates_view.horizontalHeader()
    widths = [header.sectionSize(c) for c in range(header.count())]
    w.detail.updates_fit.fit()
    assert [header.sectionSize(c) for c in range(header.count())] == widths  # fitted to the pane as shown


def test_the_rest_of_a_hosts_list_is_read_though_the_list_is_not_shown(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    """No paint of the list comes while another of the host's tabs is shown, nor while the window is
    covered: the rest is read all the same."""
    host = _big_host(db, "big", 900)
    w = _window(qtbot, db)
    w.show_inventory()
    detail = w.detail
    detail.tabs.setCurrentWidget(detail.history_page)
    w.inventory.select_host(host.id)
    assert not detail._awaiting_paint
    qtbot.waitUntil(lambda: detail.updates_model.rowCount() == 900, timeout=5000)
    assert detail.tabs.tabText(0) == "Pending updates (900)"
    # shown, but its paint never seen (a covered window): read after a short wait all the same
    detail.tabs.setCurrentIndex(0)
    detail.show_host(None)
    detail.show_host(w.inventory.model.host_by_id(host.id))
    assert detail._awaiting_paint
    detail.updates_view.viewport().removeEventFilter(detail)
    qtbot.waitUntil(lambda: detail.updates_model.rowCount() == 900, timeout=5000)
    assert detail.tabs.tabText(0) == "Pending updates (900)" and not detail._awaiting_paint


def test_a_host_clicked_while_another_is_still_read_shows_only_its_own_updates(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    first, second = _big_host(db, "one", 900), _big_host(db, "two", 700)
    w = _window(qtbot, db)
    w.show_inventory()
    w.inventory.select_host(first.id)
    w.inventory.select_host(second.id)  # before the first host's rest was read
    model = w.detail.updates_model
    qtbot.waitUntil(lambda: model.rowCount() == 700, timeout=5000)
    qtbot.wait(50)
    assert model.rowCount() == 700 and w.detail.tabs.tabText(0) == "Pending updates (700)"
    assert all(str(model.index(r, 0).data()).startswith("two") for r in range(700))


def test_a_rest_that_cannot_be_read_is_said_to_be_missing(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    """Truth: the list never passes for whole when the rest of it could not be read."""
    host = _big_host(db, "big", 600)
    w = _window(qtbot, db)
    w.show_inventory()
    w.inventory.select_host(host.id)
    w.detail._read_db.conn.close()  # type: ignore[union-attr]  # the database went away meanwhile
    tabs = w.detail.tabs
    qtbot.waitUntil(lambda: "loading" not in tabs.tabText(0), timeout=5000)
    assert tabs.tabText(0) == "Pending updates (200 of 600)"
    assert "could be read" in tabs.tabToolTip(0)
    assert w.detail.updates_model.rowCount() == 200


def test_the_first_click_on_a_host_no_longer_imports_the_patching_modules(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The Verify action's tooltip is worked out on every click on a host; it imported
    app.jobs.selection and with it the patching, rollback and verification modules, ~25 ms of the first
    click at 5,000 hosts (#25). In a process of its own: other tests import those modules."""
    import subprocess
    import sys
    from pathlib import Path

    script = f"""
import sys
from app.domain.models import Host
from db import hosts as db_hosts
from db.database import open_database
from ui.verdicts import verify_scope

db = open_database({str(tmp_path / "t.sqlite3")!r})
host = db_hosts.add_host(db, Host(name="one", address="one.example.invalid"))
ok, text = verify_scope(db, [host])
assert not ok and "not been scanned" in text, text
print(sorted(m for m in sys.modules if m.startswith("app.jobs")))
"""
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    loaded = done.stdout.strip()
    assert "app.jobs.patching" not in loaded and "app.jobs.selection" not in loaded, loaded


def test_the_first_click_finds_its_reading_ready_after_start_up(qtbot, db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The first click on a host opened the detail's reading connection, read SQLite's schema and
    prepared the list's statements (~2 ms, #25): the window's start-up chores now do it in idle time,
    and the click reads at once on that connection, with the same list."""
    from db import database as db_database
    from ui.main_window import STARTUP_CHORES_DELAY_MS
    from ui.views import host_detail

    host = _big_host(db, "big", 300)
    w = _window(qtbot, db)
    qtbot.waitUntil(lambda: w.detail._read_db is not None, timeout=STARTUP_CHORES_DELAY_MS + 5000)
    warm = w.detail._read_db
    assert w.detail._reader is None  # nothing left open by the warm-up
    opened: list[object] = []
    real_open = db_database.open_database
    monkeypatch.setattr(
        host_detail.db_database, "open_database", lambda *a, **k: opened.append(a) or real_open(*a, **k)
    )
    w.show_inventory()
    w.inventory.select_host(host.id)
    assert opened == [] and w.detail._read_db is warm
    model = w.detail.updates_model
    qtbot.waitUntil(lambda: model.rowCount() == 300, timeout=5000)
    assert [model.index(r, 0).data() for r in (0, 299)] == ["big0000", "big0299"]
    w.detail.prewarm()  # again, after a click: nothing to do, nothing broken
    assert w.detail._read_db is warm and model.rowCount() == 300


def test_the_detail_is_shown_once_unseen_before_the_first_click(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    """The first click on a host showed and laid out the detail's hidden body for the first time
    (~2.5 ms of a 47 ms click, #25): the warm-up shows and hides it once where nothing paints in
    between, at the start-up chores or, with the inventory out of sight then, at its first show."""
    from PySide6.QtCore import QEvent, QObject

    host = _big_host(db, "big", 30)
    w = _window(qtbot, db)  # the dashboard is current: the detail is out of sight
    body, kinds = w.detail.body, (QEvent.Type.Show, QEvent.Type.Hide, QEvent.Type.Paint)
    seen: list[QEvent.Type] = []

    class Spy(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() in kinds:
                seen.append(event.type())
            return False

    spy = Spy(body)
    body.installEventFilter(spy)
    w.detail.prewarm()
    assert seen == []
    w.show_inventory()
    qtbot.waitUntil(lambda: QEvent.Type.Hide in seen, timeout=5000)
    qtbot.wait(50)  # the view's repaint after the warm-up, if any, has run
    assert seen == [QEvent.Type.Show, QEvent.Type.Hide]  # never painted
    assert w.detail.placeholder.isVisible() and not body.isVisible()
    laid_out = w.detail.updates_view.width()  # while shown: as wide as the click shows it
    w.inventory.select_host(host.id)
    qtbot.waitUntil(lambda: QEvent.Type.Paint in seen, timeout=5000)
    assert body.isVisible() and not w.detail.placeholder.isVisible()
    assert w.detail.updates_view.width() == laid_out > 300
    assert w.detail.updates_model.rowCount() == 30


def test_a_hosts_facts_are_copied_from_their_menu_not_laid_out_as_documents(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    """The ten facts were mouse-selectable labels, each with a text document that every click on a
    host laid out again (~1.5 ms, #25): they are plain labels now, each with a Copy action."""
    from PySide6.QtGui import QGuiApplication

    from app.domain.models import Host
    from db import hosts as db_hosts

    host = db_hosts.add_host(db, Host(name="k1", address="127.0.0.9", user="patch-admin"))
    w = _window(qtbot, db)
    w.show_inventory()
    w.inventory.select_host(host.id)
    user_fact = w.detail.facts["User"]
    assert user_fact.text() == "patch-admin"
    assert not user_fact.textInteractionFlags() & Qt.TextInteractionFlag.TextSelectableByMouse
    assert user_fact.textFormat() == Qt.TextFormat.PlainText  # so no text document either
    assert user_fact.contextMenuPolicy() == Qt.ContextMenuPolicy.ActionsContextMenu
    (copy,) = user_fact.actions()
    assert copy.text() == "Copy"
    copy.trigger()
    assert QGuiApplication.clipboard().text() == "patch-admin"


def test_what_a_host_reports_is_shown_as_text_never_as_markup(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    """The host detail's labels took Qt's automatic format, so an OS name, error or note a host sent
    with markup in it was rendered as rich text (an <img> tag would even load a local file)."""
    from PySide6.QtWidgets import QLabel

    from app.domain.models import Host
    from db import hosts as db_hosts

    host = db_hosts.add_host(db, Host(name="m1", address="127.0.0.9", user="<b>root</b>"))
    w = _window(qtbot, db)
    w.show_inventory()
    w.inventory.select_host(host.id)
    assert w.detail.facts["User"].text() == "<b>root</b>"
    shown = [lab for lab in w.detail.findChildren(QLabel) if lab.text()]
    assert shown and all(lab.textFormat() == Qt.TextFormat.PlainText for lab in w.detail.findChildren(QLabel))


def test_the_tables_paint_each_cell_from_one_call_as_qt_would_from_seven(qtbot, db, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Qt's delegate asked the inventory and the host detail's list for seven roles per painted cell,
    each a call into Python (a sixth of a click on the 4,000-update host, #25): their delegate asks
    for a cell's look in one call. Painted with Qt's own delegate, over every kind of cell (each
    status, bold counts and none, a running job's rows, each classification, light and dark),
    the tables are the same to the pixel; and painting asks data() for no role any more."""
    from PySide6.QtWidgets import QStyledItemDelegate

    from app.domain.models import Classification, PendingUpdate
    from ui import theme
    from ui.models.hosts_model import COL_STATUS, HostsTableModel
    from ui.models.updates_model import UpdatesTableModel

    asked: list[int] = []  # (PySide finds a model's data() once per object: patched before they are made)
    for model in (HostsTableModel, UpdatesTableModel):

        def counted(self, index, role=0, real=model.data):  # type: ignore[no-untyped-def]
            asked.append(role)
            return real(self, index, role)

        monkeypatch.setattr(model, "data", counted)
    populate(db, hosts=40, days=2)
    host = _big_host(db, "big", 0)
    classes = list(Classification)
    updates = [
        PendingUpdate("apt", f"p{i:02d}", "2", "1", classification=classes[i % 3], reason="r")
        for i in range(30)
    ]
    w = _window(qtbot, db)
    w.show_inventory()
    inv, detail = w.inventory, w.detail
    inv.table.sortByColumn(COL_STATUS, Qt.SortOrder.AscendingOrder)
    inv.select_host(host.id)
    qtbot.waitUntil(lambda: detail.host is not None and detail.host.id == host.id, timeout=5000)
    detail.updates_model.set_updates(updates)
    shown = [inv.model.hosts()[r].id for r in range(8)]
    inv.model.set_busy(shown[2:4], True, "patching…")
    statuses = {inv.model.index(r, COL_STATUS).data() for r in range(inv.model.rowCount())}
    assert "patching…" in statuses and len(statuses) > 4, statuses

    try:
        for scheme in ("light", "dark"):
            theme.apply_theme(scheme)
            qtbot.wait(20)
            for table in (inv.table, detail.updates_view):
                asked.clear()
                ours = table.grab().toImage()
                assert asked == [], (table.objectName(), sorted(set(asked)))
                own = table.itemDelegate()
                qts = QStyledItemDelegate(table)
                table.setItemDelegate(qts)
                try:
                    assert table.grab().toImage() == ours, (scheme, table.objectName())
                    assert asked  # Qt's own delegate did ask, role by role
                finally:
                    table.setItemDelegate(own)
    finally:
        theme.apply_theme("light")
