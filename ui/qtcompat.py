"""Work-arounds for defects of specific Qt for Python releases, applied once at start-up.

PySide6 6.12.0: ``SignalInstance.emit()`` returns ``True`` without taking a reference to it, so
every signal emitted from Python code takes one reference from ``True`` for good. CPython < 3.12
counts references to ``True`` like any other object's, and when the count reaches zero it aborts the
process ("Fatal Python error: bool_dealloc") -- mid-session after some thousands of emits, or at
exit, while a busy console emits a few per second (every process that had run a scan crashed at
exit). ``pyproject.toml`` excludes 6.12.0; this guard covers an environment that has it anyway (a
system package, an older lock): it measures the leak and, if there is one, makes ``True`` and
``False`` effectively immortal, as CPython 3.12 does for every build.
"""

from __future__ import annotations

import logging
import sys

from PySide6.QtCore import QObject, Signal

logger = logging.getLogger(__name__)

#: Added to the reference counts of True and False when emits leak them (never reached in practice).
_IMMORTAL = 1 << 40


class _Probe(QObject):
    ping = Signal()


def emit_leaks_references(samples: int = 16) -> bool:
    """Whether emitting a signal from Python takes references from ``True`` (or ``False``)."""
    probe = _Probe()
    before = sys.getrefcount(True), sys.getrefcount(False)
    for _ in range(samples):
        probe.ping.emit()  # the result is dropped at once: that is where the missing reference goes
    after = sys.getrefcount(True), sys.getrefcount(False)
    probe.deleteLater()
    return after[0] < before[0] or after[1] < before[1]


def guard_emit_refcount() -> bool:
    """Apply the work-around when this PySide6 needs it; True when it was applied."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False  # True and False are immortal there: nothing can count them down
    if not emit_leaks_references():
        return False
    import ctypes

    for obj in (True, False):
        ctypes.c_ssize_t.from_address(id(obj)).value += _IMMORTAL  # ob_refcnt is the first field
    import PySide6

    logger.warning(
        "PySide6 %s loses a reference to True at every signal emit; compensated "
        "(install another PySide6 release to drop this work-around)",
        PySide6.__version__,
    )
    return True
