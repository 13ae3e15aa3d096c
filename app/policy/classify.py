"""First classification of pending updates into urgent / important / noncritical.

This is the foundation's rule set: security updates are ``important``, everything else is
``noncritical``. Advisories, CISA KEV and vendor severities (which can make an update ``urgent``)
arrive with the policy work; every result carries the reason shown to the user.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from app.models import Classification, PendingUpdate, UpdateKind


def classify(update: PendingUpdate) -> PendingUpdate:
    if update.security or update.kind == UpdateKind.SECURITY:
        origin = f" ({update.source})" if update.source else ""
        return replace(
            update,
            classification=Classification.IMPORTANT,
            reason=f"security update from a security source{origin}",
        )
    return replace(update, classification=Classification.NONCRITICAL, reason="not a security update")


def classify_all(updates: Iterable[PendingUpdate]) -> list[PendingUpdate]:
    return [classify(u) for u in updates]
