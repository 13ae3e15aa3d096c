"""Rings and promotion: the rollout state of one update across test → pilot → production.

An update (``manager:name=version``, or ``manager:KB…`` for Windows) starts ``new``. When the
scheduler installs it on the test ring it becomes ``testing`` at ring ``test``; it is promoted to the
next ring when the soak time of its class has passed since it entered the ring, no soak check there
was red and the last one of each host could see (``soak_gate``; app/jobs/soak.py runs them),
verification is green on at least ``verify_share`` of that ring's hosts that got it, and no host
there rolled it back.
Urgent updates skip pilot: test ring first, then everyone. Firmware and drivers never move past the
test ring without an explicit approval. The administrator can approve (promote to every ring),
decline or defer an update with a note; the decision functions here are pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.domain.criticality import DEFAULT_RULES, CriticalityRule
from app.domain.models import Classification, Criticality, PendingUpdate, Ring, StrEnum, UpdateKind


class RolloutState(StrEnum):
    NEW = "new"
    TESTING = "testing"
    APPROVED = "approved"
    DEPLOYED = "deployed"
    DECLINED = "declined"
    DEFERRED = "deferred"


RING_ORDER = {Ring.TEST: 0, Ring.PILOT: 1, Ring.PRODUCTION: 2}
_KB = re.compile(r"KB\d{4,8}\Z", re.I)
NEEDS_APPROVAL = frozenset({UpdateKind.FIRMWARE, UpdateKind.DRIVER})


def update_key(u: PendingUpdate) -> str:
    """The identity of an update across hosts: ``apt:openssl=3.0.15-1~deb12u1``, ``wua:KB5034441``."""
    if _KB.match(u.name):
        return f"{u.manager}:{u.name.upper()}"
    return f"{u.manager}:{u.name}={u.available}"


@dataclass(frozen=True)
class Rollout:
    key: str
    manager: str
    name: str
    version: str
    kind: UpdateKind = UpdateKind.BUGFIX
    classification: Classification = Classification.NONCRITICAL
    state: RolloutState = RolloutState.NEW
    ring: Ring | None = None  # the furthest ring it may be installed on
    ring_since: datetime | None = None  # when it entered that ring (scheduler time)
    explicit_approval: bool = False
    override_window: bool = False  # hosts whose criticality rule says windows only need not wait
    deferred_until: datetime | None = None
    note: str = ""
    id: int | None = None

    def blocked(self, now: datetime) -> str | None:
        """Why nothing may install it at all right now, or None."""
        if self.state == RolloutState.DECLINED:
            return f"declined{': ' + self.note if self.note else ''}"
        if self.state == RolloutState.DEFERRED and (self.deferred_until is None or self.deferred_until > now):
            until = f" until {self.deferred_until.isoformat()}" if self.deferred_until else ""
            return f"deferred{until}{': ' + self.note if self.note else ''}"
        return None

    def allows(self, ring: Ring) -> bool:
        """Whether a host of ``ring`` may install it (the test ring always may: that is its job).

        Firmware and drivers are the exception: not even the test ring installs one before an
        administrator approved it, and then only up to the ring the approval names (``approve
        --ring test`` first, a second approval after that host verified for the rest)."""
        if self.kind in NEEDS_APPROVAL:
            return (
                self.state == RolloutState.APPROVED
                and self.explicit_approval
                and self.ring is not None
                and RING_ORDER[ring] <= RING_ORDER[self.ring]
            )
        if ring == Ring.TEST:
            return True
        if self.state == RolloutState.APPROVED and self.explicit_approval:
            return True
        return self.ring is not None and RING_ORDER[ring] <= RING_ORDER[self.ring]

    def as_json(self) -> dict[str, object]:
        return {
            "key": self.key,
            "manager": self.manager,
            "name": self.name,
            "version": self.version,
            "kind": str(self.kind),
            "classification": str(self.classification),
            "state": str(self.state),
            "ring": str(self.ring) if self.ring else None,
            "ring_since": self.ring_since.isoformat() if self.ring_since else None,
            "explicit_approval": self.explicit_approval,
            "override_window": self.override_window,
            "deferred_until": self.deferred_until.isoformat() if self.deferred_until else None,
            "note": self.note,
        }


DEFAULT_SOAK = {
    Classification.URGENT: timedelta(hours=2),
    Classification.IMPORTANT: timedelta(hours=24),
    Classification.NONCRITICAL: timedelta(hours=72),
}


@dataclass(frozen=True)
class PolicySettings:
    """Tunables kept in the settings table (``policy.*`` keys); these are the defaults."""

    soak: Mapping[Classification, timedelta] = field(default_factory=lambda: dict(DEFAULT_SOAK))
    verify_share: float = 1.0  # share of a ring's hosts that got it that must verify green
    reserve_factor: float = 1.0  # rollback reserve = estimate * factor
    default_estimate: timedelta = timedelta(minutes=10)
    scan_interval: timedelta = timedelta(hours=24)
    lock_ttl: timedelta = timedelta(hours=4)
    urgent_push: bool = True  # start urgent pushes unattended (else only propose them)
    index_max_age: timedelta = timedelta(hours=24)  # older package indexes are refreshed by a scan
    import_max_hosts: int = 100_000  # hosts read from one inventory file; more are reported, not read
    soak_check_interval: timedelta = timedelta(minutes=15)  # how often soaking hosts are re-checked
    #: the criticality rules (app/domain/criticality.py), kept in their own table, not in KEYS
    criticality: Mapping[Criticality, CriticalityRule] = field(default_factory=lambda: dict(DEFAULT_RULES))

    KEYS = (
        "soak.urgent",
        "soak.important",
        "soak.noncritical",
        "verify_share",
        "reserve_factor",
        "default_estimate",
        "scan_interval",
        "lock_ttl",
        "urgent_push",
        "index_max_age_hours",
        "import_max_hosts",
        "soak_check_interval_minutes",
    )

    def as_json(self) -> dict[str, object]:
        return {
            "soak.urgent": _hours(self.soak[Classification.URGENT]),
            "soak.important": _hours(self.soak[Classification.IMPORTANT]),
            "soak.noncritical": _hours(self.soak[Classification.NONCRITICAL]),
            "verify_share": self.verify_share,
            "reserve_factor": self.reserve_factor,
            "default_estimate": self.default_estimate.total_seconds() / 60,
            "scan_interval": _hours(self.scan_interval),
            "lock_ttl": self.lock_ttl.total_seconds() / 60,
            "urgent_push": self.urgent_push,
            "index_max_age_hours": _hours(self.index_max_age),
            "import_max_hosts": self.import_max_hosts,
            "soak_check_interval_minutes": self.soak_check_interval.total_seconds() / 60,
        }


#: units of the settings, for `policy show` and Settings
SETTING_UNITS = {
    "soak.urgent": "hours",
    "soak.important": "hours",
    "soak.noncritical": "hours",
    "verify_share": "0..1",
    "reserve_factor": "times the estimate",
    "default_estimate": "minutes",
    "scan_interval": "hours",
    "lock_ttl": "minutes",
    "urgent_push": "yes/no",
    "index_max_age_hours": "hours",
    "import_max_hosts": "hosts per imported file",
    "soak_check_interval_minutes": "minutes",
}


def _hours(d: timedelta) -> float:
    return d.total_seconds() / 3600


@dataclass(frozen=True)
class RingEvidence:
    """What happened to one update in one ring."""

    got: tuple[str, ...] = ()  # hosts of the ring whose change record installed it
    green: tuple[str, ...] = ()  # of those, the ones whose verification is green
    rolled_back: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()  # hosts of the ring that still have it pending


@dataclass(frozen=True)
class Promotion:
    to: Ring | None  # None: stays
    reason: str


def next_ring(current: Ring, classification: Classification) -> Ring | None:
    if current == Ring.PRODUCTION:
        return None
    if classification == Classification.URGENT:
        return Ring.PRODUCTION  # urgent: test ring first, then everyone
    return Ring.PILOT if current == Ring.TEST else Ring.PRODUCTION


def _approval_only(r: Rollout) -> Promotion:
    """Firmware and drivers: only an administrator moves them on, ring by ring (Rollout.allows)."""
    if r.state == RolloutState.APPROVED and r.explicit_approval and r.ring is not None:
        if r.ring == Ring.PRODUCTION:
            return Promotion(None, "approved by the administrator for every ring")
        return Promotion(
            None,
            f"approved up to the {r.ring} ring; the rest needs another approval once verified there",
        )
    return Promotion(
        None, f"{r.kind} updates are never promoted without an explicit approval (patchdesk approve)"
    )


def evaluate(
    r: Rollout,
    evidence: Mapping[Ring, RingEvidence],
    now: datetime,
    settings: PolicySettings,
    soak_checks: Sequence[SoakCheck] | None = None,
) -> Promotion:
    """Whether ``r`` moves on to the next ring now, and why (or why not).

    ``soak_checks``: the rollout's soak checks (``soak_gate``); None leaves the soak checks out (a caller that
    cannot have any)."""
    if r.state in (RolloutState.DECLINED, RolloutState.DEFERRED, RolloutState.DEPLOYED):
        return Promotion(None, f"{r.state}")
    if r.kind in NEEDS_APPROVAL:
        return _approval_only(r)
    if r.state == RolloutState.APPROVED and r.explicit_approval:
        return Promotion(None, "approved by the administrator for every ring")
    current = r.ring
    if current is None:
        test = evidence.get(Ring.TEST, RingEvidence())
        if test.got or test.pending:
            return Promotion(None, "waiting for the test ring to install it")
        return Promotion(None, "no test-ring host has it to try it on; approve it to roll it out")
    target = next_ring(current, r.classification)
    if target is None:
        return Promotion(None, "in production")
    ev = evidence.get(current, RingEvidence())
    if not ev.got and not ev.pending:
        return Promotion(target, f"no {current}-ring host needs it")
    if ev.rolled_back:
        return Promotion(None, f"rolled back on {', '.join(ev.rolled_back)} ({current} ring)")
    if not ev.got:
        return Promotion(None, f"not installed on the {current} ring yet")
    soak = settings.soak.get(r.classification, DEFAULT_SOAK[r.classification])
    since = r.ring_since or now
    red = soak_red(soak_checks, current, _kept(ev), since) if soak_checks is not None else None
    if red is not None:
        return Promotion(None, red)  # said at once, not only when the soak time is over
    if now - since < soak:
        left = soak - (now - since)
        return Promotion(None, f"soaking in the {current} ring: {_span(left)} of {_span(soak)} left")
    if soak_checks is not None:
        blocked = soak_gate(soak_checks, current, _kept(ev), since)
        if blocked is not None:
            return Promotion(None, blocked)
    share = len(ev.green) / len(ev.got)
    if share + 1e-9 < settings.verify_share:
        return Promotion(
            None,
            f"verification green on {len(ev.green)} of {len(ev.got)} {current}-ring host(s) "
            f"(needs {settings.verify_share:.0%})",
        )
    return Promotion(
        target,
        f"soaked {_span(now - since)} in the {current} ring, verification green on "
        f"{len(ev.green)} of {len(ev.got)} host(s), no rollback",
    )


class SoakVerdict(StrEnum):
    """A soak check's verdict: a verification's three, and ``unknown`` for a check that could not see
    (unreachable, timed out, failed): never healthy."""

    GREEN = "green"
    AMBER = "amber"
    RED = "red"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class SoakCheck:
    """One re-check of one host that got an update, while the update soaks in the host's ring."""

    rollout_key: str
    host: str
    ring: Ring
    at: datetime  # scheduler time (may be simulated)
    verdict: SoakVerdict
    reasons: tuple[str, ...] = ()
    job_id: int | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "host": self.host,
            "ring": str(self.ring),
            "at": self.at.isoformat(),
            "verdict": str(self.verdict),
            "reasons": list(self.reasons),
            "job": self.job_id,
        }


def _kept(ev: RingEvidence) -> tuple[str, ...]:
    return tuple(h for h in ev.got if h not in ev.rolled_back)


def soak_red(checks: Sequence[SoakCheck], ring: Ring, hosts: Sequence[str], since: datetime) -> str | None:
    """The latest red soak check of a host in ``ring`` since ``since``, said as a reason; else None."""
    red = [
        c
        for c in checks
        if c.ring == ring and c.at >= since and c.host in hosts and c.verdict == SoakVerdict.RED
    ]
    if not red:
        return None
    c = max(red, key=lambda c: c.at)
    why = f": {c.reasons[0]}" if c.reasons else ""
    return f"soak check red on {c.host} ({ring} ring) at {c.at.isoformat(timespec='minutes')}{why}"


def soak_gate(checks: Sequence[SoakCheck], ring: Ring, hosts: Sequence[str], since: datetime) -> str | None:
    """Why the soak checks hold an update in ``ring`` (entered at ``since``), or None when they let it go.

    A red check of any host there during this soak holds it (it broke something once; the administrator
    decides: roll back, or approve it explicitly). Of each host's latest check: none yet, or one that
    could not see (unknown), holds it too, until a later check sees. Amber does not hold."""
    red = soak_red(checks, ring, hosts, since)
    if red is not None:
        return red
    these = [c for c in checks if c.ring == ring and c.at >= since and c.host in hosts]
    latest = {c.host: c for c in sorted(these, key=lambda c: c.at)}
    missing = [h for h in hosts if h not in latest]
    if missing:
        return f"no soak check of {', '.join(missing)} in the {ring} ring yet"
    blind = [c for c in latest.values() if c.verdict == SoakVerdict.UNKNOWN]
    if blind:
        c = blind[0]
        why = f": {c.reasons[0]}" if c.reasons else ""
        return f"the last soak check could not see {', '.join(b.host for b in blind)}{why}"
    return None


def current_checks(r: Rollout, checks: Sequence[SoakCheck]) -> list[SoakCheck]:
    """The checks of ``r``'s present soak: in its current ring, since it entered it."""
    if r.ring is None:
        return []
    return [c for c in checks if c.ring == r.ring and (r.ring_since is None or c.at >= r.ring_since)]


def soak_state(r: Rollout, checks: Sequence[SoakCheck]) -> str:
    """One word for the soak health of ``r`` in its current ring, for lists and the Schedule tab:
    ``red`` when any check there was red, else the worst of each host's latest (``unknown`` worse than
    ``amber`` worse than ``green``), or ``none`` before the first check."""
    these = current_checks(r, checks)
    if not these:
        return "none"
    if any(c.verdict == SoakVerdict.RED for c in these):
        return "red"
    latest = {c.host: c.verdict for c in sorted(these, key=lambda c: c.at)}
    for worst in (SoakVerdict.UNKNOWN, SoakVerdict.AMBER):
        if worst in latest.values():
            return str(worst)
    return "green"


def _span(d: timedelta) -> str:
    s = max(0, int(d.total_seconds()))
    if s >= 3600:
        return f"{s / 3600:.1f} h"
    return f"{s // 60} min"
