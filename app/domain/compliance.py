"""Compliance values shared by db/compliance.py (which computes them), the reports and the dashboard.

Plain frozen dataclasses; nothing here does I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from app.domain.models import Host

#: Default age after which a host counts as "not scanned recently".
DEFAULT_STALE_DAYS = 7
STALE_DAYS_SETTING = "compliance.stale_days"


class ComplianceState(enum.StrEnum):
    """A host's compliance, in three states (as AWS Systems Manager Patch Manager has them): nothing
    counts as compliant that a recent, successful, complete scan did not see."""

    COMPLIANT = "compliant"
    NON_COMPLIANT = "non_compliant"
    UNKNOWN = "unknown"


COMPLIANCE_LABELS: dict[ComplianceState, str] = {
    ComplianceState.COMPLIANT: "compliant",
    ComplianceState.NON_COMPLIANT: "non-compliant",
    ComplianceState.UNKNOWN: "unknown",
}


def compliance_state(
    last_status: str,
    last_scan_at: datetime | None,
    pending: int,
    *,
    stale_days: int = DEFAULT_STALE_DAYS,
    now: datetime | None = None,
    scan_complete: bool | None = None,
) -> ComplianceState:
    """A host's compliance from its record.

    Unknown when it was never scanned, its last scan failed or could not reach it, the last scan is
    older than ``stale_days``, or the scan says it was incomplete (``scan_complete`` False; None means
    the scan did not say). Otherwise non-compliant when anything is pending -- every class counts, as
    for the "Up to date" tile -- and compliant when nothing is.
    """
    if str(last_status) != "ok" or scan_complete is False or scan_is_stale(last_scan_at, stale_days, now):
        return ComplianceState.UNKNOWN
    return ComplianceState.NON_COMPLIANT if pending > 0 else ComplianceState.COMPLIANT


def scan_is_stale(last_scan_at: datetime | None, stale_days: int, now: datetime | None = None) -> bool:
    """No scan, or one older than ``stale_days``: what it found no longer counts."""
    if last_scan_at is None:
        return True
    at = last_scan_at if last_scan_at.tzinfo else last_scan_at.replace(tzinfo=UTC)
    return at < (now or datetime.now(UTC)) - timedelta(days=stale_days)


def host_compliance(
    host: Host,
    *,
    stale_days: int = DEFAULT_STALE_DAYS,
    now: datetime | None = None,
    scan_complete: bool | None = None,
) -> ComplianceState:
    """:func:`compliance_state` of a :class:`~app.domain.models.Host` record.

    ``scan_complete`` defaults to the record's own (None before any scan reported it)."""
    if scan_complete is None:
        scan_complete = host.scan_complete
    return compliance_state(
        str(host.last_status),
        host.last_scan_at,
        host.pending_total,
        stale_days=stale_days,
        now=now,
        scan_complete=scan_complete,
    )


class Tile(enum.StrEnum):
    """One dashboard tile; each is a predicate over hosts, so its number and its host list agree."""

    HOSTS = "hosts"
    UP_TO_DATE = "up_to_date"  # compliant
    NON_COMPLIANT = "non_compliant"
    UNKNOWN = "unknown"
    URGENT = "urgent"
    IMPORTANT = "important"
    NONCRITICAL = "noncritical"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    STALE = "stale"
    NEVER = "never"
    REBOOT = "reboot"


TILE_LABELS: dict[Tile, str] = {
    Tile.HOSTS: "Hosts",
    Tile.UP_TO_DATE: "Up to date",
    Tile.NON_COMPLIANT: "Non-compliant",
    Tile.UNKNOWN: "Unknown",
    Tile.URGENT: "Missing urgent",
    Tile.IMPORTANT: "Missing important",
    Tile.NONCRITICAL: "Missing non-critical",
    Tile.FAILED: "Failed last job",
    Tile.UNREACHABLE: "Unreachable",
    Tile.STALE: "Not scanned recently",
    Tile.NEVER: "Never scanned",
    Tile.REBOOT: "Reboot pending",
}

TILE_HELP: dict[Tile, str] = {
    Tile.HOSTS: "Every host in the scope.",
    Tile.UP_TO_DATE: "Compliant: the last scan succeeded, is recent, and found nothing pending.",
    Tile.NON_COMPLIANT: "The last scan succeeded, is recent, and found updates pending.",
    Tile.UNKNOWN: (
        "Nothing recent is known: never scanned, the last scan failed or could not reach the host, or "
        "no scan within the stale threshold. Not counted in the compliance percentage."
    ),
    Tile.URGENT: "Hosts with at least one urgent update pending.",
    Tile.IMPORTANT: "Hosts with at least one important update pending.",
    Tile.NONCRITICAL: "Hosts with at least one non-critical update pending.",
    Tile.FAILED: "The host's newest finished job step failed, was interrupted, or verified red.",
    Tile.UNREACHABLE: "The last scan could not reach the host.",
    Tile.STALE: "No scan within the stale threshold (or never scanned).",
    Tile.NEVER: "Never scanned.",
    Tile.REBOOT: "The last scan found a reboot is required.",
}

#: OS families the dashboard filters by, from the os_id a scan found.
OS_FAMILIES: dict[str, tuple[str, ...]] = {
    "debian": ("debian", "ubuntu", "linuxmint", "raspbian", "pop", "kali"),
    "redhat": ("rhel", "centos", "rocky", "almalinux", "fedora", "ol", "amzn"),
    "suse": ("opensuse-leap", "opensuse-tumbleweed", "opensuse", "sles", "sled", "sle-micro"),
    "windows": ("windows",),
}
OS_FAMILY_OTHER = "other"
OS_FAMILY_UNKNOWN = "unknown"


@dataclass(frozen=True)
class ComplianceFilter:
    """The dashboard's scope: every field None means "all"."""

    group: str | None = None  # "" selects hosts without a group
    ring: str | None = None
    os_family: str | None = None
    criticality: str | None = None

    def describe(self) -> str:
        parts = []
        if self.group is not None:
            parts.append(f"group {self.group or '(none)'}")
        if self.ring:
            parts.append(f"ring {self.ring}")
        if self.os_family:
            parts.append(f"OS {self.os_family}")
        if self.criticality:
            parts.append(f"criticality {self.criticality}")
        return ", ".join(parts) or "all hosts"


@dataclass(frozen=True)
class Summary:
    """The tile numbers: hosts per tile plus pending update counts."""

    counts: dict[Tile, int]
    urgent_updates: int = 0
    important_updates: int = 0
    noncritical_updates: int = 0
    stale_days: int = DEFAULT_STALE_DAYS

    def __getitem__(self, tile: Tile) -> int:
        return self.counts.get(tile, 0)

    @property
    def compliance_percent(self) -> float | None:
        """Hosts up to date over every host in the scope; None without hosts (not 100 %)."""
        hosts = self[Tile.HOSTS]
        return 100.0 * self[Tile.UP_TO_DATE] / hosts if hosts else None

    @property
    def unknown(self) -> int | None:
        """Hosts whose state is unknown; None when not recorded (a past day's snapshot)."""
        return self.counts.get(Tile.UNKNOWN)

    @property
    def known(self) -> int:
        """Hosts with a known state (compliant or non-compliant)."""
        return max(0, self[Tile.HOSTS] - (self.unknown or 0))

    @property
    def known_percent(self) -> float | None:
        """The compliance percentage: compliant hosts over hosts with a known state; None when no host
        has a known state (no percentage is shown then)."""
        known = self.known
        return 100.0 * self[Tile.UP_TO_DATE] / known if known else None

    def as_json(self) -> dict[str, object]:
        pct, known_pct = self.compliance_percent, self.known_percent
        unknown = self.unknown
        return {
            "hosts": {str(t): n for t, n in self.counts.items()},
            "updates": {
                "urgent": self.urgent_updates,
                "important": self.important_updates,
                "noncritical": self.noncritical_updates,
            },
            "compliance_percent": None if pct is None else round(pct, 1),
            "compliance": {
                "compliant": self[Tile.UP_TO_DATE],
                "non_compliant": None if unknown is None else self.known - self[Tile.UP_TO_DATE],
                "unknown": unknown,
            },
            "known_hosts": None if unknown is None else self.known,
            "compliance_percent_of_known": None if known_pct is None else round(known_pct, 1),
            "stale_days": self.stale_days,
        }


@dataclass(frozen=True)
class DailyPoint:
    day: str  # YYYY-MM-DD (UTC)
    hosts: int
    up_to_date: int
    with_urgent: int
    with_important: int
    urgent: int
    important: int
    noncritical: int
    # None on days recorded before the snapshots kept the three states (not 0: not recorded)
    non_compliant: int | None = None
    unknown: int | None = None

    @property
    def compliance_percent(self) -> float | None:
        """Hosts up to date over every host that day; None without hosts (not 100 %)."""
        return 100.0 * self.up_to_date / self.hosts if self.hosts else None

    @property
    def known_percent(self) -> float | None:
        """Up to date over the hosts whose state was known that day; None when not recorded or none known."""
        if self.unknown is None:
            return None
        known = self.hosts - self.unknown
        return 100.0 * self.up_to_date / known if known > 0 else None


@dataclass(frozen=True)
class GroupPending:
    group: str  # "" for hosts without a group
    hosts: int
    urgent: int
    important: int
    noncritical: int


@dataclass(frozen=True)
class OldestUrgent:
    host_id: int
    host: str
    manager: str
    name: str
    first_seen: str


@dataclass(frozen=True)
class KevDue:
    cve: str
    due_date: str
    name: str
    hosts: int
    packages: tuple[str, ...]


@dataclass(frozen=True)
class LastJob:
    """A host's newest finished job step: what the "Failed last job" tile and the Status column read."""

    job_id: int
    kind: str  # scan, patch, verify, rollback, ...
    state: str  # the host's step: succeeded, failed, unreachable, skipped, cancelled, interrupted
    verdict: str | None = None  # green / amber / red when the step verified

    @property
    def failed(self) -> bool:
        """The tile's rule: the step failed, was interrupted, or verified red."""
        return self.state in ("failed", "interrupted") or self.verdict == "red"

    def as_json(self) -> dict[str, object]:
        return {"job_id": self.job_id, "kind": self.kind, "state": self.state, "verdict": self.verdict}


@dataclass(frozen=True)
class HostRow:
    """One line of the per-host table of a report."""

    name: str
    address: str
    group: str
    ring: str
    criticality: str
    os: str
    status: str
    last_scan: str | None
    urgent: int
    important: int
    noncritical: int
    reboot_required: bool
    failed_last_job: bool
    up_to_date: bool
    compliance: str = ComplianceState.UNKNOWN
    last_job: LastJob | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "address": self.address,
            "group": self.group,
            "ring": self.ring,
            "criticality": self.criticality,
            "os": self.os,
            "status": self.status,
            "last_scan": self.last_scan,
            "pending": {"urgent": self.urgent, "important": self.important, "noncritical": self.noncritical},
            "reboot_required": self.reboot_required,
            "failed_last_job": self.failed_last_job,
            "up_to_date": self.up_to_date,
            "compliance": str(self.compliance),
            "last_job": self.last_job.as_json() if self.last_job else None,
        }


@dataclass(frozen=True)
class Dashboard:
    """Everything the dashboard shows, computed in one go (on a worker thread)."""

    filter: ComplianceFilter
    summary: Summary
    history: tuple[DailyPoint, ...] = ()
    by_group: tuple[GroupPending, ...] = ()
    oldest_urgent: OldestUrgent | None = None
    kev_available: bool = False
    kev_due: tuple[KevDue, ...] = ()
    groups: tuple[str, ...] = ()
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class UpdateHost:
    """A host's relation to one update in the per-update view."""

    host_id: int | None
    host: str
    version_from: str | None
    version_to: str | None
    classification: str = ""
    job_id: int | None = None
    at: str | None = None
    detail: str = ""
    reason: str = ""  # why the classification (need it)


@dataclass(frozen=True)
class UpdateStatus:
    """For one update (package name, KB, advisory or CVE): who needs it, who has it, who failed it."""

    spec: str
    need: tuple[UpdateHost, ...]
    have: tuple[UpdateHost, ...]
    failed: tuple[UpdateHost, ...]


@dataclass(frozen=True)
class UpdateSummary:
    """One row of an update list (a chart segment's drill-down)."""

    manager: str
    name: str
    classification: str
    hosts: int
