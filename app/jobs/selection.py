"""Deciding, on the caller's side, what a job does on each host (read from the database).

Tasks run on worker threads and never read the database; everything they need is computed here first:
which pending updates to install, which change record to roll back, what a verification expects.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime

from app.domain.errors import ConfigError
from app.domain.models import Classification, Host, PendingUpdate, Ring
from app.domain.verdicts import Baseline
from app.jobs.baseline import verify_baseline
from app.jobs.patching import HostSelection
from app.jobs.rollback import RollbackRequest
from app.jobs.verification import VerifyRequest
from db import changes as db_changes
from db import jobs as db_jobs
from db import scans as db_scans
from db.connection import Database

#: package managers whose new packages are pulled in as dependencies rather than chosen
_DEPENDENCY_MANAGERS = frozenset({"apt", "dnf", "yum", "zypper"})


def is_nameable(u: PendingUpdate) -> bool:
    """Whether an update can be chosen by name: not a new Linux package (those come in as dependencies
    of what is named); Windows updates and Chocolatey/winget packages always can."""
    return u.installed is not None or u.manager not in _DEPENDENCY_MANAGERS


def install_name(u: PendingUpdate) -> str:
    """The name an adapter is asked to install: firmware (fwupd) as ``GUID=VERSION``, so exactly the
    approved release is installed and never a newer one the metadata offered since."""
    return f"{u.name}={u.available}" if u.manager == "fwupd" else u.name


def select_updates(
    pending: Sequence[PendingUpdate],
    *,
    classifications: Collection[Classification] | None = None,
    packages: Collection[str] | None = None,
    approved: Collection[str] = (),
) -> HostSelection:
    """The updates to install from a host's pending list: by classification and/or by name.

    New Linux packages (no installed version) are never named: they come in as dependencies of what
    is named. Windows updates have no installed version at all and are named as themselves.
    Firmware and drivers (app.domain.rollout.NEEDS_APPROVAL) are only selected when their update key
    is in ``approved`` (approved for this host's ring: :func:`approved_keys`); neither naming them
    nor ``--all`` nor the scheduler gets past that.
    """
    # imported here: the window imports this module at start-up, the rollout modules later
    # (ui/app.py WARM_UP_MODULES)
    from app.domain.rollout import NEEDS_APPROVAL, update_key

    chosen = [
        u
        for u in pending
        if is_nameable(u)
        and (u.kind not in NEEDS_APPROVAL or update_key(u) in approved)
        and (classifications is None or u.classification in classifications)
        and (packages is None or u.name in packages)
    ]
    names = tuple(sorted({install_name(u) for u in chosen}))
    return HostSelection(
        names,
        tuple(sorted({u.name for u in chosen if u.security})),
        tuple(sorted({u.name for u in pending if u.security})),
        # which package manager each name belongs to (a Windows host has Windows Update, choco, winget)
        {install_name(u): u.manager for u in chosen},
    )


def approved_keys(db: Database, pending: Sequence[PendingUpdate], ring: Ring) -> frozenset[str]:
    """The keys of the firmware/driver updates in ``pending`` approved for ``ring`` and not declined
    or deferred: the only ones :func:`select_updates` lets through."""
    from app.domain.rollout import NEEDS_APPROVAL, update_key
    from db import rollouts as db_rollouts

    now = datetime.now(UTC)
    out = set()
    for key in {update_key(u) for u in pending if u.kind in NEEDS_APPROVAL}:
        r = db_rollouts.get_rollout(db, key)
        if r is not None and r.blocked(now) is None and r.allows(ring):
            out.add(key)
    return frozenset(out)


def withheld(pending: Sequence[PendingUpdate], approved: Collection[str]) -> list[PendingUpdate]:
    """The firmware/driver updates ``select_updates`` leaves out for want of an approval."""
    from app.domain.rollout import NEEDS_APPROVAL, update_key

    return [u for u in pending if u.kind in NEEDS_APPROVAL and update_key(u) not in approved]


def selections_for(
    db: Database,
    hosts: Sequence[Host],
    *,
    classifications: Collection[Classification] | None = None,
    packages: Collection[str] | None = None,
) -> dict[int, HostSelection]:
    out: dict[int, HostSelection] = {}
    for h in hosts:
        assert h.id is not None
        pending = db_scans.pending_for_host(db, h.id)
        out[h.id] = select_updates(
            pending,
            classifications=classifications,
            packages=packages,
            approved=approved_keys(db, pending, h.ring),
        )
    return out


def rollback_request(db: Database, host: Host, job_id: int | None) -> RollbackRequest:
    """What rolling ``host`` back to before ``job_id`` means; a clear error when there is nothing."""
    assert host.id is not None
    subject = job_id if job_id is not None else db_changes.last_patch_job(db, host.id)
    if subject is None:
        raise ConfigError(f"{host.name} has no patch job to roll back (its history lists what ran there).")
    job = db_jobs.get_job(db, subject)
    if job is None or str(job.kind) != "patch":
        raise ConfigError(f"Job {subject} is not a patch job.")
    by = db_changes.rolled_back_by(db, subject, host.id)
    if by is not None:
        raise ConfigError(f"Job {subject} on {host.name} was already rolled back by job {by}.")
    changes = tuple(db_changes.changes(db, subject, host.id))
    snap = db_changes.snapshot(db, subject, host.id)
    if not changes and not snap:
        raise ConfigError(f"Job {subject} changed nothing on {host.name}; there is nothing to roll back.")
    pending = db_scans.pending_for_host(db, host.id)
    return RollbackRequest(
        subject,
        changes,
        snap,
        tuple(sorted({u.name for u in pending if u.security})),
        db_changes.transaction_id(db, subject, host.id),
    )


def verify_request(db: Database, host: Host) -> VerifyRequest:
    """Verify against the last patch (its change record and the security updates it targeted), or,
    when nothing was patched since, against the last scan (the security updates pending then)."""
    assert host.id is not None
    baseline, subject, _ = verify_baseline(db, host)
    if baseline is not Baseline.PATCH or subject is None:
        known = tuple(sorted({u.name for u in db_scans.pending_for_host(db, host.id) if u.security}))
        return VerifyRequest(None, {}, security_pending=known, baseline=baseline)
    return patch_verify_request(db, host, subject)


def patch_verify_request(db: Database, host: Host, subject: int) -> VerifyRequest:
    """Verify ``host`` against patch job ``subject``: its change record and the security updates it
    targeted (the soak checks ask for this whatever scans ran since)."""
    assert host.id is not None
    job = db_jobs.get_job(db, subject)
    recorded = db_changes.changes(db, subject, host.id)
    expected = {c.name: c.to_version for c in recorded}
    security: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()
    if job is not None:
        sel = job.params.get("selections", {})
        if isinstance(sel, Mapping):
            entry = sel.get(str(host.id), {})
            if isinstance(entry, Mapping):
                security = tuple(str(x) for x in entry.get("security", []))
                pending = tuple(str(x) for x in entry.get("security_pending", []))
    since = job.started_at.timestamp() if job is not None and job.started_at else None
    return VerifyRequest(
        subject, expected, security, since, pending, {c.name: c.manager for c in recorded}, Baseline.PATCH
    )
