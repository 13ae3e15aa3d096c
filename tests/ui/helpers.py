"""Helpers for UI tests: answer modal boxes, detect main-thread stalls, add the real test hosts."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtWidgets import QApplication, QWidget

from app.domain.models import Host
from db import hosts as db_hosts


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


class LatenessProbe(QObject):
    """A 20 ms timer on the main thread; records how late its worst tick was (a freeze detector)."""

    def __init__(self, interval_ms: int = 20) -> None:
        super().__init__()
        self.interval = interval_ms / 1000
        self.worst = 0.0
        self._last = time.monotonic()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.tick)

    def start(self) -> None:
        self._last = time.monotonic()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    @Slot()
    def tick(self) -> None:
        now = time.monotonic()
        self.worst = max(self.worst, now - self._last - self.interval)
        self._last = now


def add_hosts(db, hosts, key: Path) -> list[Host]:  # type: ignore[no-untyped-def]
    """Add the real test hosts to the inventory (user admin, the pool's client key)."""
    return [
        db_hosts.add_host(
            db,
            Host(name=h.name, address=h.address, port=h.port, user="admin", key_file=str(key), group="lab"),
        )
        for h in hosts
    ]
