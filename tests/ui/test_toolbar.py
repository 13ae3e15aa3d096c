"""#23 item 2: at 1280 px "Cancel job" and "Report…" fell off the toolbar behind an overflow button
squeezed to 12 px, and at the minimum window size Patch, Verify and Roll back went too. Every toolbar
action must be on screen (or, where one cannot be, in a working overflow), at 1280x800 and at the
window's minimum size."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtWidgets import QToolButton

from tests.support.fleet import populate
from ui.main_window import MainWindow


@pytest.fixture
def win(qtbot, db):  # type: ignore[no-untyped-def]
    populate(db, hosts=20, days=3)
    w = MainWindow(db, runner=None, secrets=None)
    qtbot.addWidget(w)
    w.show()
    yield w
    w.close()


def _unreachable(w: MainWindow) -> list[str]:
    """The toolbar's actions a user cannot see and click: a hidden button, one outside the toolbar's
    visible part, one without a name (no text and no tooltip)."""
    tb = w.toolbar
    ext = tb.findChild(QToolButton, "qt_toolbar_ext_button")
    overflow_works = ext is not None and ext.isVisible() and ext.width() >= 16
    missing = []
    for act in tb.actions():
        if act.isSeparator():
            continue
        button = tb.widgetForAction(act)
        assert button is not None
        shown = button.isVisible() and QRect(0, 0, tb.width(), tb.height()).contains(button.geometry())
        if not shown and not overflow_works:
            missing.append(act.text() or act.toolTip() or repr(act))
        if isinstance(button, QToolButton) and not (
            button.toolButtonStyle() != Qt.ToolButtonStyle.ToolButtonIconOnly and act.text()
        ):
            if not act.toolTip():
                missing.append(f"{act.text()} (icon without a tooltip)")
    return missing


@pytest.mark.parametrize("size", [(1280, 800), "minimum"])
def test_every_toolbar_action_is_on_screen(qtbot, win, size) -> None:  # type: ignore[no-untyped-def]
    if size == "minimum":
        win.resize(win.minimumSize())
    else:
        win.resize(*size)
    qtbot.waitUntil(lambda: win.toolbar.width() <= win.width())
    qtbot.wait(50)
    assert _unreachable(win) == []
    ext = win.toolbar.findChild(QToolButton, "qt_toolbar_ext_button")
    # nothing is left to an overflow at these sizes: every action is one click away
    assert ext is None or not ext.isVisible()


def test_toolbar_keeps_its_labels_at_1280(qtbot, win) -> None:  # type: ignore[no-untyped-def]
    """Names, not just icons, where they fit: at 1280 px the buttons still say what they do."""
    win.resize(1280, 800)
    qtbot.wait(50)
    assert win.toolbar.toolButtonStyle() != Qt.ToolButtonStyle.ToolButtonIconOnly
    win.resize(1920, 1080)
    qtbot.wait(50)
    assert win.toolbar.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonTextBesideIcon


def test_overflow_button_is_usable_when_it_appears(qtbot, win) -> None:  # type: ignore[no-untyped-def]
    """Narrower than anything the window allows (a toolbar squeezed by a huge font, say): the overflow
    button is wide enough to see and click, and clicking it shows the rest of the actions."""
    tb = win.toolbar
    tb.setMaximumWidth(300)  # play a toolbar that cannot fit even its icons
    qtbot.wait(50)
    ext = tb.findChild(QToolButton, "qt_toolbar_ext_button")
    assert ext is not None and ext.isVisible()
    assert ext.width() >= 16
    hidden = [a for a in tb.actions() if not a.isSeparator() and not tb.widgetForAction(a).isVisible()]
    assert hidden
    qtbot.mouseClick(ext, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: all(tb.widgetForAction(a).isVisible() for a in hidden), timeout=3000)
    tb.setMaximumWidth(16777215)


def _elided_headers(root) -> list[str]:  # type: ignore[no-untyped-def]
    """Column headers of the visible tables and trees under ``root`` narrower than their (bold) text."""
    from PySide6.QtGui import QFont, QFontMetrics
    from PySide6.QtWidgets import QTableView, QTreeView

    cut = []
    for view in root.findChildren(QTableView) + root.findChildren(QTreeView):
        header = view.horizontalHeader() if isinstance(view, QTableView) else view.header()
        if not view.isVisible() or not header.isVisible() or view.model() is None:
            continue
        font = QFont(header.font())
        font.setBold(True)
        metrics = QFontMetrics(font)
        for col in range(header.count()):
            text = str(view.model().headerData(col, Qt.Orientation.Horizontal) or "")
            if (
                text
                and not header.isSectionHidden(col)
                and header.sectionSize(col) < metrics.horizontalAdvance(text) + 13
            ):
                cut.append(
                    f"{view.objectName() or type(view).__name__}: {text!r} in {header.sectionSize(col)} px"
                )
    return cut


@pytest.mark.parametrize("size", [(1280, 800), "minimum"])
def test_no_header_elided_and_toolbar_whole_in_every_view(qtbot, win, db, size) -> None:  # type: ignore[no-untyped-def]
    """Every main tab (the Baselines tab too) and every tab of the host detail (Drift and Outside
    Patchdesk too), at 1280x800 and at the window's minimum size: no column header is cut and every
    toolbar action can be reached."""
    from tests.ui.test_baselines_view import _drifted

    drifted, _ = _drifted(db)
    win.reload_hosts()
    win.resize(win.minimumSize() if size == "minimum" else QSize(*size))
    qtbot.wait(100)
    problems = []
    for i in range(win.tabs.count()):
        win.tabs.setCurrentIndex(i)
        qtbot.wait(300)  # the lazy tabs build and load on first show
        where = win.tabs.tabText(i)
        problems += [f"{where}: {p}" for p in _elided_headers(win.tabs.currentWidget())]
        problems += [f"{where}: toolbar {p}" for p in _unreachable(win)]
    win.show_inventory()
    win.inventory.select_host(drifted.id)
    for i in range(win.detail.tabs.count()):
        win.detail.tabs.setCurrentIndex(i)
        qtbot.wait(200)
        where = f"host detail {win.detail.tabs.tabText(i)}"
        problems += [f"{where}: {p}" for p in _elided_headers(win.detail.tabs.currentWidget())]
    assert not problems, "\n".join(problems)
