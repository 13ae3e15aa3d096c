"""Known errors are sentences in a message box; bugs get the crash dialog with a copyable report."""

from __future__ import annotations

import sqlite3
import sys

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from app.cli import main as cli
from app.domain.errors import ConfigError
from tests.ui.helpers import when_modal
from ui.app import run_gui
from ui.dialogs.crash_dialog import CrashDialog, CrashHook, build_report


def test_database_from_newer_version_shows_a_sentence(qtbot, tmp_path):
    path = tmp_path / "newer.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 999")
    conn.commit()
    conn.close()
    texts: list[str] = []
    seen = when_modal(QMessageBox, lambda box: (texts.append(box.text()), box.accept()))
    rc = run_gui(cli.parse(["--db", str(path)]))
    assert rc == 1
    assert seen, "no message box was shown"
    assert "newer Patchdesk" in texts[0]
    assert "Traceback" not in texts[0]
    assert sys.excepthook is not None and not isinstance(sys.excepthook, CrashHook)


def _raise_bug() -> None:
    {}["missing"]


def test_crash_dialog_report_is_readonly_and_copyable(qtbot):
    try:
        _raise_bug()
    except KeyError as exc:
        report = build_report(type(exc), exc, exc.__traceback__)
    dlg = CrashDialog(report, log_file="/tmp/x/patchdesk.log")
    qtbot.addWidget(dlg)
    dlg.show()
    assert dlg.text.isReadOnly()
    text = dlg.text.toPlainText()
    assert "Traceback (most recent call last)" in text and "_raise_bug" in text and "KeyError" in text
    assert text.startswith("Patchdesk ")
    QApplication.clipboard().clear()
    qtbot.mouseClick(dlg.copy_button, Qt.MouseButton.LeftButton)
    assert QApplication.clipboard().text() == report
    assert "Copied" in dlg.copied.text()


def test_crash_hook_splits_known_errors_from_bugs(qtbot):
    hook = CrashHook()
    texts: list[str] = []
    seen = when_modal(QMessageBox, lambda box: (texts.append(box.text()), box.accept()))
    err = ConfigError("The port 0 of web01 is not between 1 and 65535.")
    hook(type(err), err, None)
    assert seen and texts == ["The port 0 of web01 is not between 1 and 65535."]

    reports: list[str] = []
    seen = when_modal(CrashDialog, lambda d: (reports.append(d.text.toPlainText()), d.reject()))
    try:
        _raise_bug()
    except KeyError as exc:
        hook(type(exc), exc, exc.__traceback__)
    assert seen and "KeyError" in reports[0] and "Traceback" in reports[0]


def test_gui_starts_and_quits_in_a_fresh_process(tmp_path):
    """The whole composition root, in its own process: app.exec() runs once per process in real
    life, and running it inside the pytest-qt session leaves queued cross-thread signals undelivered
    in later tests (PySide6 6.12), so it is not done in-process."""
    import os
    import subprocess
    from pathlib import Path

    env = dict(os.environ, PATCHDESK_GUI_SELFTEST="1", QT_QPA_PLATFORM="offscreen")
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, "-m", "ui.main", "--db", str(tmp_path / "fresh.sqlite3")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert (tmp_path / "fresh.sqlite3").exists()


# -- issue #19: one error boundary for the GUI -----------------------------------------------------------


class _KeyringLocked(Exception):
    pass


_KeyringLocked.__module__ = "keyring.errors"  # as keyring's own errors are recognised


def test_gui_error_boundary_turns_known_families_into_sentences(qtbot, tmp_path, caplog):
    """sqlite3, OSError and keyring errors reaching the hook: a sentence in a message box, never the
    crash dialog, and no traceback in the log (that is for bugs)."""
    hook = CrashHook()
    crashes = when_modal(CrashDialog, lambda d: d.reject(), tries=80)
    cases = [
        (sqlite3.OperationalError("database is locked"), "locked by another program"),
        (sqlite3.DatabaseError("database disk image is malformed"), "patchdesk db check"),
        (PermissionError(13, "Permission denied", str(tmp_path / "r.pdf")), "Permission denied"),
        (_KeyringLocked("collection is locked"), "keyring"),
    ]
    for exc, words in cases:
        texts: list[str] = []
        seen = when_modal(QMessageBox, lambda box, texts=texts: (texts.append(box.text()), box.accept()))
        with caplog.at_level("WARNING"):
            try:
                raise exc
            except Exception as raised:
                hook(type(raised), raised, raised.__traceback__)
        assert seen and words in texts[0], (exc, texts)
        assert "Traceback" not in texts[0]
    assert not crashes, "a known condition reached the crash dialog"
    assert not [r for r in caplog.records if r.exc_info], "a known condition logged a traceback"
