"""Verification verdicts as the GUI shows them: one colour scheme and wording for every badge.

The job panel, the host history and the history detail all show a verdict (green / amber / red, from
``app.domain.verdicts``) the same way: a pale pill with a strong text colour, the reasons as tooltip.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtGui import QColor

#: verdict -> (text colour, pale background)
VERDICT_COLOURS = {
    "green": (QColor("#17632f"), QColor("#dff3e5")),
    "amber": (QColor("#8a4b00"), QColor("#fff0d4")),
    "red": (QColor("#9b1c14"), QColor("#fbe3e1")),
}
VERDICT_TEXT = {"green": "✔ green", "amber": "▲ amber", "red": "✖ red"}


def verdict_text(verdict: str | None) -> str:
    if not verdict:
        return ""
    return VERDICT_TEXT.get(verdict, _clean(verdict, 20))


def verdict_tooltip(verdict: str | None, reasons: Sequence[str]) -> str:
    if not verdict:
        return ""
    head = f"Verification {_clean(verdict, 20)}"
    return "\n".join([head, *("• " + _clean(r, 300) for r in reasons)])


def badge_style(verdict: str | None) -> str:
    """Stylesheet of a QLabel badge; empty (no badge) without a verdict."""
    if verdict not in VERDICT_COLOURS:
        return ""
    fg, bg = VERDICT_COLOURS[verdict]
    return (
        f"color: {fg.name()}; background: {bg.name()}; border: 1px solid {fg.name()};"
        "border-radius: 9px; padding: 1px 10px; font-weight: 600;"
    )


def _clean(text: str, limit: int) -> str:
    s = "".join(c if c.isprintable() else "?" for c in text)
    return s if len(s) <= limit else s[: limit - 1] + "…"
