"""EventBridge: job events from worker threads -> batched Qt signals on the main thread.

The job engine calls :meth:`EventBridge.listener` on its worker threads for every event (log line,
state change, progress, scan result). The listener only appends to a thread-safe queue; a QTimer on
the main thread drains the queue every ``interval_ms`` and emits everything that arrived as ONE
``events_ready(list)`` signal. So a chatty host printing thousands of lines a second costs the GUI
ten signal deliveries a second, not thousands, and no Qt object is ever touched from a worker thread.

The bridge must be created on the main thread (it owns the timer and the signal). Register it with
``runner.add_listener(bridge.listener)``.
"""

from __future__ import annotations

import logging
import queue

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from app.domain.events import Event

logger = logging.getLogger(__name__)

#: Most events delivered in one batch; the rest wait for the next tick so one tick stays short.
MAX_BATCH = 5000


class EventBridge(QObject):
    events_ready = Signal(list)

    def __init__(self, parent: QObject | None = None, *, interval_ms: int = 100) -> None:
        super().__init__(parent)
        # SimpleQueue: lock-free put from any thread, never blocks the producer.
        self._queue: queue.SimpleQueue[Event] = queue.SimpleQueue()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.drain)
        self._timer.start()

    def listener(self, event: Event) -> None:
        """Called from job worker threads: queue only, never touch Qt here."""
        self._queue.put(event)

    @Slot()
    def drain(self) -> None:
        """Emit what has queued up since the last tick (main thread)."""
        batch: list[Event] = []
        while len(batch) < MAX_BATCH:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if batch:
            self.events_ready.emit(batch)

    def stop(self) -> None:
        self._timer.stop()
