"""Verification verdicts as the GUI shows them: one colour scheme and wording for every badge.

The job panel, the host history and the history detail all show a verdict (green / amber / red, from
``app.domain.verdicts``) the same way: a pale pill with a strong text colour, the reasons as tooltip.
``verify_scope`` says whether Verify means something for a selection and what it compares with.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ui.theme import colour_pair

if TYPE_CHECKING:
    from app.domain.models import Host
    from db.connection import Database

#: verdict -> (text colour, pale background), retinted in place for the dark look (ui.theme)
VERDICT_COLOURS = {
    "green": colour_pair("#17632f", "#dff3e5"),
    "amber": colour_pair("#8a4b00", "#fff0d4"),
    "red": colour_pair("#9b1c14", "#fbe3e1"),
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


def verify_scope(db: Database, hosts: Sequence[Host]) -> tuple[bool, str]:
    """Whether verifying ``hosts`` means something (a host scanned, something to compare with) and
    what it will compare with, for the Verify action's tooltip and status text."""
    if not hosts:
        return False, "Select the hosts to verify"
    if len(hosts) > 1:
        scanned = [h for h in hosts if h.last_scan_at is not None]
        if not scanned:
            return (
                False,
                "None of the selected hosts has been scanned yet: there is nothing to verify against",
            )
        text = (
            f"Rescan the {len(hosts)} selected hosts and check each against its last patch, "
            "or its last scan when nothing was patched since"
        )
        if len(scanned) < len(hosts):
            text += f" ({len(hosts) - len(scanned)} never scanned: nothing to compare with)"
        return True, text
    host = hosts[0]
    if host.id is None:
        return False, f"{host.name} is not in the inventory"
    # Imported here, after the answers that need nothing: the window asks with no host selected while
    # it is built. From app.jobs.baseline, not app.jobs.selection, which brings in the patching
    # modules: ~80 ms of start-up, then ~25 ms of the first click on a host (#25).
    from app.domain.verdicts import Baseline
    from app.jobs.baseline import verify_baseline

    baseline, job_id, at = verify_baseline(db, host)
    when = at.astimezone().strftime("%Y-%m-%d %H:%M") if at is not None else "unknown date"
    if baseline is Baseline.PATCH:
        return (
            True,
            f"Rescan {host.name} and check it: compares with the last patch of {when} (job #{job_id})",
        )
    if baseline is Baseline.SCAN:
        return True, (
            f"Rescan {host.name} and check it: compares with the last scan of {when} (nothing patched since)"
        )
    return False, f"{host.name} has not been scanned yet: there is nothing to verify against"
