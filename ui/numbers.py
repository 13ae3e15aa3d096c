"""Counts as people read them: 12,345 hosts, not 12345 (#23 item 9), in the desktop's locale.

The "C" locale (a bare shell, the test runs, a minimal container) omits group separators; there the
English grouping is used, so a large count is never one run of digits.
"""

from __future__ import annotations

from PySide6.QtCore import QLocale


def _locale() -> QLocale:
    locale = QLocale()
    if locale.language() == QLocale.Language.C:
        return QLocale(QLocale.Language.English, QLocale.Country.UnitedStates)
    locale.setNumberOptions(locale.numberOptions() & ~QLocale.NumberOption.OmitGroupSeparator)
    return locale


def count_text(n: int) -> str:
    """``12345`` -> "12,345" (or "12.345", "12 345", as the locale groups digits)."""
    return _locale().toString(int(n))
