"""The crash dialog for bugs, and the sys.excepthook that routes errors to it: the GUI's error boundary.

A known condition reaching the hook -- a PatchdeskError, or an exception of a known family (sqlite3,
OSError, the keyring, a transport, an unreadable input; app/cli/boundary.py decides, for the CLI as
well) -- is a sentence in a message box and a line in the log; anything else is a bug: it is logged
with its traceback and shown here with a copyable report.
"""

from __future__ import annotations

import logging
import platform
import sys
import traceback
from types import TracebackType

from PySide6 import __version__ as pyside_version
from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app import __version__
from app.cli.boundary import known_error
from ui.resources import icon

logger = logging.getLogger(__name__)


def build_report(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> str:
    lines = [
        f"Patchdesk {__version__} on Python {platform.python_version()}, PySide6 {pyside_version}, "
        f"{platform.system()} {platform.release()} ({platform.machine()})",
        "",
        *traceback.format_exception(exc_type, exc, tb),
    ]
    return "\n".join(line.rstrip("\n") for line in lines)


class CrashDialog(QDialog):
    def __init__(self, report: str, parent: QWidget | None = None, *, log_file: str | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Patchdesk — internal error")
        self.setMinimumSize(640, 420)
        self.report = report

        heading = QLabel("Patchdesk hit an internal error.")
        heading.setObjectName("paneTitle")
        where = f" It was also written to the log file {log_file}." if log_file else ""
        explain = QLabel(
            "This is a bug, not something you did wrong. Your data is safe: jobs are recorded as they "
            "run. Please copy the report below and send it to whoever maintains Patchdesk." + where
        )
        explain.setWordWrap(True)
        explain.setObjectName("hintText")

        self.text = QPlainTextEdit(report)
        self.text.setObjectName("crashReport")
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.TypeWriter)
        self.text.setFont(mono)

        self.copy_button = QPushButton("Copy report")
        self.copy_button.setObjectName("copyReport")
        self.copy_button.clicked.connect(self.copy_report)
        self.copied = QLabel("")
        self.copied.setObjectName("hintText")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        row = QHBoxLayout()
        row.addWidget(self.copy_button)
        row.addWidget(self.copied, 1)
        row.addWidget(buttons)

        top = QHBoxLayout()
        badge = QLabel()
        badge.setPixmap(icon("warning").pixmap(32, 32))
        badge.setAlignment(Qt.AlignmentFlag.AlignTop)
        top.addWidget(badge)
        texts = QVBoxLayout()
        texts.addWidget(heading)
        texts.addWidget(explain)
        top.addLayout(texts, 1)

        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addLayout(top)
        layout.addWidget(self.text, 1)
        layout.addLayout(row)

    @Slot()
    def copy_report(self) -> None:
        QGuiApplication.clipboard().setText(self.report)
        self.copied.setText("Copied to the clipboard.")


def _active_window() -> QWidget | None:
    """The window to put a message over; None when the active one is closing or half-deleted (an
    error raised while a window goes away must still be shown, not raise again)."""
    window = QApplication.activeWindow()
    try:
        return window if window is not None and window.isVisible() else None
    except RuntimeError:  # its C++ side is already gone
        return None


class CrashHook:
    """Installed as ``sys.excepthook`` by the composition root."""

    def __init__(self, log_file: str | None = None) -> None:
        self.log_file = log_file
        self._showing = False
        self._showing_known = False
        self._previous = sys.excepthook

    def install(self) -> None:
        self._previous = sys.excepthook
        sys.excepthook = self

    def uninstall(self) -> None:
        if sys.excepthook is self:
            sys.excepthook = self._previous

    def __call__(self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            QApplication.quit()
            return
        parent = _active_window()
        known = known_error(exc)
        if known is not None:
            logger.warning("unhandled known error (%s): %s", exc_type.__name__, known)
            if self._showing_known:  # one box at a time: a timer failing every second must not stack them
                return
            from ui.messages import show_known_error

            self._showing_known = True
            try:
                show_known_error(parent, known)
            finally:
                self._showing_known = False
            return
        logger.error("internal error", exc_info=(exc_type, exc, tb))
        if self._showing:  # an error while the dialog is up: logged, not stacked
            return
        self._showing = True
        try:
            CrashDialog(build_report(exc_type, exc, tb), parent, log_file=self.log_file).exec()
        finally:
            self._showing = False
