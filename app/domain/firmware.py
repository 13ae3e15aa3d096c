"""Evaluating a firmware or driver update: which hosts and models it applies to, how it went on the
test ring, and whether the second approval (for every ring) may be given.

A firmware update goes to one host of a model first (an approval for the test ring); it is promoted
to the rest only by a second approval, and only once a test-ring host installed it, was verified
(not red) and was not rolled back. Pure: the shell reads the rows from db/firmware.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.domain.models import Classification, Ring, UpdateKind


@dataclass(frozen=True)
class FirmwareHost:
    """A host an update is pending on, with its ring and model (None: hardware not read)."""

    name: str
    ring: Ring
    model: str | None = None


@dataclass(frozen=True)
class FirmwareInstall:
    """One host's install of the update (from its change record) and how it was verified."""

    host: str
    ring: Ring
    verdict: str | None  # green | amber | red; None: not verified
    rolled_back: bool = False


@dataclass(frozen=True)
class FirmwareUpdate:
    """One firmware or driver update as the evaluation view lists it."""

    key: str  # the rollout key: fwupd:GUID=VERSION, wua:KB…
    manager: str
    name: str
    version: str
    kind: UpdateKind
    classification: Classification
    device: str  # the pending update's source: the device it applies to
    reason: str = ""
    cves: tuple[str, ...] = ()
    hosts: tuple[FirmwareHost, ...] = ()

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(sorted({h.model for h in self.hosts if h.model}))


def verified_on_test_ring(installs: Sequence[FirmwareInstall]) -> tuple[str, ...]:
    """The test-ring hosts where it is installed, verified (green or amber) and not rolled back."""
    return tuple(
        i.host
        for i in installs
        if i.ring == Ring.TEST and i.verdict in ("green", "amber") and not i.rolled_back
    )


def promotion_blocker(installs: Sequence[FirmwareInstall]) -> str | None:
    """Why the second approval (every ring) may not be given yet, or None when it may."""
    if any(i.ring == Ring.TEST and i.verdict == "red" and not i.rolled_back for i in installs):
        return "its verification on the test ring is red"
    if verified_on_test_ring(installs):
        return None
    if any(i.ring == Ring.TEST and i.rolled_back for i in installs):
        return "it was rolled back on the test ring"
    if any(i.ring == Ring.TEST for i in installs):
        return "its test-ring install is not verified yet"
    return "no test-ring host has installed it yet: approve it for the test ring first"
