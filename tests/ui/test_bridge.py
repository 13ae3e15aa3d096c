"""EventBridge: events from many threads arrive on the main thread in batches, none lost."""

from __future__ import annotations

import threading

from PySide6.QtCore import QThread

from app.domain.events import HostLog
from app.domain.models import LogLevel
from ui.bridge import EventBridge


def test_events_from_threads_arrive_batched_on_main_thread(qtbot):
    bridge = EventBridge(interval_ms=50)
    batches: list[list] = []
    threads_seen: set = set()

    def got(batch: list) -> None:
        threads_seen.add(QThread.currentThread())
        batches.append(batch)

    bridge.events_ready.connect(got)

    def chatty(host_id: int) -> None:
        for i in range(2000):
            bridge.listener(HostLog(1, host_id=host_id, level=LogLevel.INFO, text=f"line {i}"))

    workers = [threading.Thread(target=chatty, args=(h,)) for h in range(5)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    qtbot.waitUntil(lambda: sum(len(b) for b in batches) == 10000, timeout=5000)
    assert threads_seen == {QThread.currentThread()}
    assert len(batches) < 50  # batched, not one signal per event
    for h in range(5):
        texts = [e.text for b in batches for e in b if e.host_id == h]
        assert texts == [f"line {i}" for i in range(2000)]  # per-thread order kept
    bridge.stop()
