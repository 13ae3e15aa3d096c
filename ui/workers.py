"""Run a blocking call (keyring, waiting for the recorder) on a QThreadPool thread.

The call's result comes back as a queued signal on the main thread. The signal object is created
on the main thread and parented to the caller, so it never belongs to the pool thread (a QRunnable
must not own the QObject whose signals the GUI receives).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

logger = logging.getLogger(__name__)


class _Relay(QObject):
    done = Signal(object)
    failed = Signal(object)

    def __init__(
        self,
        parent: QObject,
        on_result: Callable[[Any], None] | None,
        on_error: Callable[[BaseException], None] | None,
    ) -> None:
        super().__init__(parent)
        self._on_result = on_result
        self._on_error = on_error
        self.done.connect(self._deliver)
        self.failed.connect(self._deliver_error)

    @Slot(object)
    def _deliver(self, result: Any) -> None:
        try:
            if self._on_result is not None:
                self._on_result(result)
        finally:
            self.deleteLater()

    @Slot(object)
    def _deliver_error(self, exc: BaseException) -> None:
        try:
            if self._on_error is not None:
                self._on_error(exc)
            else:
                sys.excepthook(type(exc), exc, exc.__traceback__)
        finally:
            self.deleteLater()


class _Call(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self._fn = fn
        self._relay = relay

    def run(self) -> None:
        try:
            result = self._fn()
        except BaseException as exc:  # delivered to the main thread, which decides known vs bug
            self._emit(self._relay.failed, exc)
        else:
            self._emit(self._relay.done, result)

    @staticmethod
    def _emit(signal: Any, value: Any) -> None:
        try:
            signal.emit(value)
        except RuntimeError:  # the receiver (a closed dialog) is gone: nobody is waiting any more
            logger.debug("result of a background call dropped: its receiver was deleted")


def submit(
    parent: QObject,
    fn: Callable[[], Any],
    on_result: Callable[[Any], None] | None = None,
    on_error: Callable[[BaseException], None] | None = None,
    *,
    pool: QThreadPool | None = None,
) -> None:
    """Run ``fn()`` on the global thread pool (or ``pool``: a call that may block for long, such as
    the scheduler's pass, gets its own so it never starves the views' queries); ``on_result`` /
    ``on_error`` run on the main thread.

    An error without ``on_error`` goes to ``sys.excepthook`` (the crash hook shows known errors as
    a sentence and bugs in the crash dialog).
    """
    relay = _Relay(parent, on_result, on_error)
    (pool or QThreadPool.globalInstance()).start(_Call(fn, relay))


def with_own_db(path: str | None, db: Any, fn: Callable[[Any], Any]) -> Any:
    """Run ``fn`` on a connection of its own (for a pool thread: SQLite connections stay on the
    thread that opened them), or on ``db`` when it has no file (an in-memory database)."""
    if path is None:
        return fn(db)
    from pathlib import Path

    from db.database import open_database

    own = open_database(Path(path), migrate=False)
    try:
        return fn(own)
    finally:
        own.conn.close()
