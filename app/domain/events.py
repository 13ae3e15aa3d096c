"""Events that job tasks report. The recorder persists them; the GUI bridge turns them into signals.

Events are small immutable values so they can cross threads freely.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from app.domain.models import HostKey, JobState, LogLevel, PackageChange, ScanResult, StepState
from app.domain.verdicts import Health


@dataclass(frozen=True)
class Event:
    job_id: int
    ts: float = field(default_factory=time.time, kw_only=True)


@dataclass(frozen=True)
class JobStateChanged(Event):
    state: JobState


@dataclass(frozen=True)
class HostStateChanged(Event):
    host_id: int
    state: StepState
    error: str | None = None
    #: for known errors that the UI can act on, e.g. {"kind": "host-key-changed", "fingerprint": ...}
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HostLog(Event):
    host_id: int | None
    level: LogLevel
    text: str


@dataclass(frozen=True)
class HostProgress(Event):
    host_id: int
    fraction: float
    message: str = ""


@dataclass(frozen=True)
class ScanRecorded(Event):
    host_id: int
    result: ScanResult


@dataclass(frozen=True)
class HostKeyLearned(Event):
    key: HostKey


@dataclass(frozen=True)
class SnapshotTaken(Event):
    """Installed versions before a change; persisted before anything is touched (crash safety)."""

    host_id: int
    manager: str
    versions: dict[str, str | None]


@dataclass(frozen=True)
class ChangesRecorded(Event):
    """What a transaction really changed (the difference of two snapshots)."""

    host_id: int
    changes: tuple[PackageChange, ...]
    transaction_id: str | None = None


@dataclass(frozen=True)
class RolledBack(Event):
    host_id: int
    subject_job_id: int


@dataclass(frozen=True)
class VerificationRecorded(Event):
    host_id: int
    subject_job_id: int | None
    verdict: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class HealthBaselineTaken(Event):
    """The health a patch saw before changing anything: the soak checks compare with it later."""

    host_id: int
    health: Health
