"""Desktop conventions (#23 item 6): every tab by Ctrl+1..7, shortcuts for every job action, Ctrl+P
prints (the report), no key bound twice, and Help → About says the version and where the data is."""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence

from app import __version__
from ui.main_window import MainWindow


def _window(qtbot, db) -> MainWindow:  # type: ignore[no-untyped-def]
    w = MainWindow(db, runner=None, secrets=None)
    qtbot.addWidget(w)
    w.show()
    return w


def test_every_tab_is_reachable_from_the_view_menu_and_the_keyboard(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    w = _window(qtbot, db)
    assert len(w.tab_actions) == w.tabs.count() == 8
    for index, act in enumerate(w.tab_actions):
        assert act.shortcut() == QKeySequence(f"Ctrl+{index + 1}")
        assert act.text() == w.tabs.tabText(index)
        act.trigger()
        assert w.tabs.currentIndex() == index
    assert w.audit_view is w.tabs.widget(6)  # the lazy tab was built when reached
    baselines = [act for act in w.tab_actions if act.text() == "Baselines"]
    assert baselines and baselines[0].shortcut() == QKeySequence("Ctrl+8")  # the tab added since
    baselines[0].trigger()
    assert w.tabs.currentWidget() is w.baselines_view


def test_job_actions_have_shortcuts_and_ctrl_p_is_the_report(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    w = _window(qtbot, db)
    for act in (w.verify_action, w.rollback_action, w.cancel_action, w.patch_action):
        assert not act.shortcut().isEmpty(), act.text()
    assert w.report_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Print)
    assert w.patch_action.shortcut() != QKeySequence("Ctrl+P")


def test_no_key_is_bound_twice(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    w = _window(qtbot, db)
    seen: dict[str, str] = {}
    for act in w.findChildren(QAction):
        for key in act.shortcuts():
            text = key.toString()
            assert text not in seen, f"{text}: {seen.get(text)} and {act.text()}"
            seen[text] = act.text()
    assert len(seen) >= 15


def test_help_about_names_the_version_and_the_data(qtbot, db, db_path) -> None:  # type: ignore[no-untyped-def]
    w = _window(qtbot, db)
    text = w.about_text()
    assert f"Patchdesk {__version__}" in text and str(db_path) in text and "keyring" in text
    w.about_action.trigger()
