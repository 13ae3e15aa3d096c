"""Helpers for UI tests: answer modal boxes that a code path opens with exec()."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QWidget


def when_modal(kind: type[QWidget], act: Callable[[QWidget], None], *, tries: int = 200) -> list[QWidget]:
    """Poll (every 25 ms) for a modal widget of ``kind``; call ``act`` on it once. Returns a list that
    receives the widget, so the test can assert it appeared."""
    seen: list[QWidget] = []

    def poll(left: int = tries) -> None:
        w = QApplication.activeModalWidget()
        if isinstance(w, kind):
            seen.append(w)
            act(w)
        elif left > 0:
            QTimer.singleShot(25, lambda: poll(left - 1))

    QTimer.singleShot(0, poll)
    return seen
