"""Domain values shared by every layer.

Plain dataclasses and enums: db/ turns rows into these, app/ computes with them and ui/ shows them.
Nothing here does I/O.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.domain.hardware import Hardware


class StrEnum(enum.StrEnum):
    """An enum whose values are the strings stored in the database and printed in JSON."""


class TransportKind(StrEnum):
    SSH = "ssh"
    WINRM = "winrm"
    LOCAL = "local"


class Criticality(StrEnum):
    MISSION_CRITICAL = "mission-critical"
    STANDARD = "standard"
    DESKTOP = "desktop"


class Ring(StrEnum):
    TEST = "test"
    PILOT = "pilot"
    PRODUCTION = "production"


class Classification(StrEnum):
    URGENT = "urgent"
    IMPORTANT = "important"
    NONCRITICAL = "noncritical"


class UpdateKind(StrEnum):
    SECURITY = "security"
    BUGFIX = "bugfix"
    ENHANCEMENT = "enhancement"
    FIRMWARE = "firmware"
    DRIVER = "driver"


class RebootPolicy(StrEnum):
    NEVER = "never"
    IF_NEEDED = "if-needed"
    ALWAYS = "always"


class AutoRollback(StrEnum):
    """What happens when a host's verification after a patch is red."""

    OFF = "off"  # say so and offer a rollback
    ON_RED = "on-red"  # roll the host back at once, in the same job


class HostStatus(StrEnum):
    """Outcome of the last scan of a host, as shown in the inventory."""

    NEVER = "never"
    OK = "ok"
    FAILED = "failed"
    UNREACHABLE = "unreachable"


class JobKind(StrEnum):
    SCAN = "scan"
    PATCH = "patch"
    VERIFY = "verify"
    ROLLBACK = "rollback"
    REBOOT = "reboot"
    PLAN = "plan"
    DRIFT = "drift"  # a baseline check or capture on its own (a scan checks drift too)
    REMEDIATE = "remediate"  # a drift fix, or the undoing of one


class JobTrigger(StrEnum):
    MANUAL = "manual"
    SCHEDULE = "schedule"
    URGENT = "urgent"


class StepState(StrEnum):
    """State of one host within one job."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    UNREACHABLE = "unreachable"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"

    @property
    def finished(self) -> bool:
        return self not in (StepState.QUEUED, StepState.RUNNING)


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class WinRMOptions:
    """How to reach a Windows host. Secure by default: HTTPS, certificates validated, no proxy."""

    auth: str = "ntlm"  # ntlm | kerberos | basic | credssp
    scheme: str = "https"  # https | http (http only with NTLM/Kerberos message encryption)
    ca_trust_path: str | None = None  # CA bundle or certificate for this host; None: the bundled roots
    cert_validation: bool = True  # False only as an explicit, visibly marked choice
    proxy: str | None = None  # None: no proxy (never the environment's by accident)

    def as_json(self) -> dict[str, object]:
        return {
            "auth": self.auth,
            "scheme": self.scheme,
            "ca_trust_path": self.ca_trust_path,
            "cert_validation": self.cert_validation,
            "proxy": self.proxy,
        }


@dataclass(frozen=True, slots=True)
class Host:
    """One machine in the inventory. Holds a credential *reference*, never a secret.

    Slotted: with more than 30 fields an instance dict is not key-shared, and 100,000 imported hosts
    took 1.5 KB each instead of 0.3 KB."""

    name: str
    address: str
    id: int | None = None
    port: int | None = None  # None: the transport's default (22, 5986) or ~/.ssh/config
    transport: TransportKind = TransportKind.SSH
    user: str | None = None
    key_file: str | None = None
    credential_ref: str | None = None  # keyring reference of the login password, never the secret
    sudo_ref: str | None = None  # keyring reference of the sudo password
    group: str | None = None
    ring: Ring = Ring.PRODUCTION
    criticality: Criticality = Criticality.STANDARD
    tags: tuple[str, ...] = ()
    use_sudo: bool = True
    #: None: not set on the host (its group's default, then its criticality's rule decide)
    reboot_policy: RebootPolicy | None = None
    pre_command: str | None = None  # run (as root) before patching, e.g. stop a service
    post_command: str | None = None  # run (as root) after patching
    services: tuple[str, ...] = ()  # services that must be active after a change
    #: a custom health check run on the host (as its user, with sudo when it uses sudo): exit 0 is
    #: healthy; stored as the administrator typed it, never built from host output
    check_command: str | None = None
    auto_rollback: AutoRollback | None = None  # None: not set (group default, then criticality rule)
    winrm: WinRMOptions = WinRMOptions()
    # discovered at scan time
    os_id: str | None = None
    os_name: str | None = None
    os_version: str | None = None
    kernel: str | None = None
    managers: tuple[str, ...] = ()
    last_scan_at: datetime | None = None
    last_status: HostStatus = HostStatus.NEVER
    last_error: str | None = None
    reboot_required: bool = False
    pending_urgent: int = 0
    pending_important: int = 0
    pending_noncritical: int = 0
    # the last successful scan's evidence (None before any scan)
    scan_complete: bool | None = None
    index_updated: datetime | None = None
    scan_notes: tuple[str, ...] | None = None

    @property
    def pending_total(self) -> int:
        return self.pending_urgent + self.pending_important + self.pending_noncritical


@dataclass(frozen=True)
class OsFacts:
    """What a scan learns about the operating system of a host."""

    id: str = ""
    id_like: tuple[str, ...] = ()
    name: str = ""
    version: str = ""
    version_codename: str = ""
    pretty_name: str = ""
    kernel: str = ""
    uptime_seconds: float | None = None
    hostname: str = ""
    #: the hardware inventory read in the same round trip (None: this scan did not read it)
    hardware: Hardware | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "id_like": list(self.id_like),
            "name": self.name,
            "version": self.version,
            "version_codename": self.version_codename,
            "pretty_name": self.pretty_name,
            "kernel": self.kernel,
            "uptime_seconds": self.uptime_seconds,
            "hostname": self.hostname,
        }


@dataclass(frozen=True)
class PendingUpdate:
    """One thing a host could install. Names and versions are untrusted text from the host."""

    manager: str
    name: str
    available: str
    installed: str | None = None  # None: a new package pulled in by an upgrade
    arch: str = ""
    source: str = ""  # origin/suite of the candidate, e.g. "Debian-Security:12/stable-security"
    security: bool = False
    kind: UpdateKind = UpdateKind.BUGFIX
    severity: str | None = None
    cves: tuple[str, ...] = ()
    advisories: tuple[str, ...] = ()
    reboot_expected: bool = False
    classification: Classification = Classification.NONCRITICAL
    reason: str = ""  # why it got its classification, shown to the user
    held: bool = False  # the host keeps it back (apt-mark hold, a pin): patching leaves it unless asked
    held_reason: str = ""  # why it is held, in a sentence

    def as_json(self) -> dict[str, object]:
        return {
            "manager": self.manager,
            "name": self.name,
            "arch": self.arch,
            "installed": self.installed,
            "available": self.available,
            "source": self.source,
            "security": self.security,
            "kind": str(self.kind),
            "classification": str(self.classification),
            "reason": self.reason,
            "held": self.held,
            "held_reason": self.held_reason,
        }


class ChangeAction(StrEnum):
    INSTALL = "install"
    UPGRADE = "upgrade"
    DOWNGRADE = "downgrade"
    REMOVE = "remove"
    REINSTALL = "reinstall"


@dataclass(frozen=True)
class PackageChange:
    """One package a transaction changed (or will change): the unit of change records and rollback."""

    manager: str
    name: str
    from_version: str | None  # None: newly installed
    to_version: str | None  # None: removed
    arch: str = ""
    kb: str | None = None  # Windows: the KB article the change came from

    @property
    def action(self) -> ChangeAction:
        if self.from_version is None:
            return ChangeAction.INSTALL
        if self.to_version is None:
            return ChangeAction.REMOVE
        if self.from_version == self.to_version:
            return ChangeAction.REINSTALL
        return ChangeAction.UPGRADE  # adapters that can tell a downgrade apart say so in their plan

    def reverse(self) -> PackageChange:
        return PackageChange(self.manager, self.name, self.to_version, self.from_version, self.arch, self.kb)

    def as_json(self) -> dict[str, object]:
        return {
            "manager": self.manager,
            "name": self.name,
            "arch": self.arch,
            "from": self.from_version,
            "to": self.to_version,
            "action": str(self.action),
            "kb": self.kb,
        }


@dataclass(frozen=True)
class InstallPlan:
    """What installing a set of updates would do on one host, dependencies included."""

    changes: tuple[PackageChange, ...]
    reboot_expected: bool = False
    warnings: tuple[str, ...] = ()
    #: selected packages the host holds back, left out of the transaction (patch without --include-held)
    held: tuple[str, ...] = ()


@dataclass(frozen=True)
class ScanBasis:
    """A package manager's raw scan output, and the fingerprint of the host state it was computed from.

    The fingerprint covers every file the package manager's answer depends on (for apt: dpkg's status
    and journal, the index files, /etc/apt); a later scan sends it, the host recomputes it, and when
    nothing changed the host skips the simulation and the stored output is parsed again instead --
    what apt does with its own pkgcache.bin. ``simulated_at`` is when the output was really computed
    (ISO 8601); a basis older than a day is not offered (see db/scan_basis.py).
    """

    manager: str
    fingerprint: str
    out: bytes
    err: bytes = b""
    simulated_at: str = ""


@dataclass(frozen=True)
class ScanResult:
    """Everything one scan of one host found.

    ``basis`` is what the next scan may reuse (None: nothing to reuse, and any stored basis is dropped);
    ``reused`` says this scan's pending list came from a stored basis because the host had not changed.
    """

    facts: OsFacts
    managers: tuple[str, ...]
    pending: tuple[PendingUpdate, ...]
    reboot_required: bool = False
    reboot_packages: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    basis: ScanBasis | None = None
    reused: bool = False
    #: when the host's package metadata was last refreshed (UTC); None: not known
    index_updated: datetime | None = None
    #: True only when the scan can vouch it saw everything pending; ``notes`` say what limited it
    complete: bool = False
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class IndexState:
    """What a scan learnt of the package metadata it read.

    ``measured``: the adapter looked (then ``updated`` None means there is no index at all);
    unmeasured, ``updated`` is None and nothing is known. ``notes``: sentences for anything that
    limited the scan (an empty index, a failed refresh, an age nobody can tell).
    """

    updated: datetime | None = None
    measured: bool = False
    notes: tuple[str, ...] = ()

    @classmethod
    def unknown(cls, manager: str) -> IndexState:
        return cls(
            notes=(
                f"Index age not known for {manager}: Patchdesk cannot tell how current the package "
                "metadata this scan read is, so it cannot vouch that every update was seen.",
            )
        )

    def stale(self, now: datetime, max_age: timedelta) -> bool:
        """Measured and either empty or older than ``max_age``."""
        return self.measured and (self.updated is None or now - self.updated > max_age)

    def with_note(self, note: str) -> IndexState:
        return IndexState(self.updated, self.measured, (*self.notes, note))


@dataclass(frozen=True)
class HostKey:
    """An SSH host key as trusted (or first seen) for one host."""

    host_id: int
    keytype: str
    key_b64: str
    fingerprint: str  # "SHA256:..." as OpenSSH prints it


@dataclass(frozen=True)
class Job:
    id: int
    kind: JobKind
    state: JobState
    trigger: JobTrigger = JobTrigger.MANUAL
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    params: dict[str, object] = field(default_factory=dict)
    host_count: int = 0


@dataclass(frozen=True)
class JobHost:
    """One host's step in one job."""

    job_id: int
    host_id: int
    host_name: str
    state: StepState
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    progress: float = 0.0


@dataclass(frozen=True)
class LogLine:
    job_id: int
    host_id: int | None
    ts: datetime
    level: LogLevel
    text: str


@dataclass(frozen=True)
class ChangeLogEntry:
    """What one job changed on one host."""

    job_id: int
    job_kind: str
    trigger: str
    actor: str | None
    host: str
    started: datetime | None
    finished: datetime | None
    changes: tuple[PackageChange, ...]
    verdict: str | None = None
    rolled_back_by: int | None = None
