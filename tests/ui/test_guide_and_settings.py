"""Desktop conventions, the rest of #23 item 6: F1 opens the user guide shipped with the app (in the
wheel and the bundle too), and Tools → Settings… (Ctrl+,) gathers the console's settings in one
validated dialog that writes through app.services.settings."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

from app.services import alerts, audit
from db import joblogs
from db import tiles as db_tiles
from ui.dialogs.settings_dialog import SettingsDialog
from ui.dialogs.user_guide import UserGuideDialog
from ui.main_window import MainWindow
from ui.resources import user_guide_path

ROOT = Path(__file__).resolve().parents[2]


def _window(qtbot, db) -> MainWindow:  # type: ignore[no-untyped-def]
    w = MainWindow(db, runner=None, secrets=None)
    qtbot.addWidget(w)
    w.show()
    return w


def test_f1_opens_the_user_guide_covering_the_first_hour(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    w = _window(qtbot, db)
    assert w.guide_action.shortcut() == QKeySequence("F1")
    w.guide_action.trigger()
    guide = w._guide
    assert isinstance(guide, UserGuideDialog) and guide.isVisible() and not guide.isModal()
    headings = " | ".join(guide.headings()).lower()
    for topic in ("add your hosts", "scan", "dashboard", "patch", "verify", "roll back", "windows and rings"):
        assert topic in headings, topic
    assert w.show_user_guide() is guide  # one at a time
    guide.browser.scrollToAnchor("rollback")
    guide.close()


def test_the_guide_ships_in_the_wheel_and_the_bundle() -> None:
    path = user_guide_path()
    assert path.is_file() and path.parent == ROOT / "resources"
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "resources"
    ]
    for f in (ROOT / "resources").rglob("*"):
        if f.is_file() and f.suffix not in (".py", ".pyc"):
            rel = f.relative_to(ROOT / "resources").as_posix()
            assert any(fnmatch.fnmatch(rel, p) for p in patterns), f"{rel} is missing from the wheel"
    spec = (ROOT / "build.spec").read_text()
    assert '(ROOT / "resources").rglob("*")' in spec  # the bundle takes all of resources/


def test_settings_dialog_checks_then_writes_through_the_services(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    w = _window(qtbot, db)
    assert w.settings_action.shortcut() == QKeySequence("Ctrl+,")
    w.settings_action.trigger()
    dlg = w.active_dialog
    assert isinstance(dlg, SettingsDialog)
    assert dlg.stale_spin.value() == db_tiles.stale_days(db) and dlg.ok_button.isEnabled()
    dlg.syslog_edit.setText("127.0.0.1:99999")
    assert not dlg.ok_button.isEnabled() and "out of range" in dlg.problems_label.text()
    dlg.syslog_edit.setText("127.0.0.1:5514")
    dlg.email_box.setChecked(True)  # on, without a server or a recipient
    assert not dlg.ok_button.isEnabled()
    assert "mail server" in dlg.problems_label.text() and "recipient" in dlg.problems_label.text()
    dlg.smtp_host.setText("smtp.example.invalid")
    dlg.smtp_to.setText("ops@example.invalid; desk@example.invalid")
    dlg.retention_spin.setValue(45)
    dlg.stale_spin.setValue(10)
    dlg.index_spin.setValue(12)
    dlg.desktop_check.setChecked(False)
    dlg.theme_combo.setCurrentIndex(dlg.theme_combo.findData("dark"))
    assert dlg.ok_button.isEnabled(), dlg.problems_label.text()
    dlg.ok_button.click()
    assert w.active_dialog is None
    assert joblogs.retention_days(db) == 45 and db_tiles.stale_days(db) == 10
    assert audit.syslog_target(db) == "127.0.0.1:5514"
    assert alerts.email_settings(db).recipients == ("ops@example.invalid", "desk@example.invalid")
    assert not alerts.desktop_enabled(db)
    assert w.theme_choice == "dark" and w.theme_actions["dark"].isChecked()
    assert w.dashboard.stale_spin.value() == 10  # the views that edit a setting follow
    assert "Settings saved" in w.statusBar().currentMessage()
    w.set_theme("light")


def test_settings_cancel_stores_nothing(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    w = _window(qtbot, db)
    dlg = w.show_settings()
    assert isinstance(dlg, SettingsDialog)
    before = db_tiles.stale_days(db)
    dlg.stale_spin.setValue(before + 3)
    qtbot.keyClick(dlg, Qt.Key.Key_Escape)
    assert db_tiles.stale_days(db) == before
