"""The administrator's decisions on an update: approve (every ring), decline (never) or defer.

The CLI's ``approve`` / ``decline`` / ``defer`` and the Schedule view's buttons both call these, so a
decision means the same whichever face made it and leaves the same audit entry. Firmware and driver
updates are never promoted past the test ring without an explicit approval
(:data:`app.domain.rollout.NEEDS_APPROVAL`); such an update stays in :func:`needs_decision` until
someone approves or declines it.
"""

from __future__ import annotations

from datetime import datetime

from app.domain.errors import ConfigError
from app.domain.models import Ring
from app.domain.rollout import NEEDS_APPROVAL, Rollout, RolloutState
from app.services import audit
from db import hosts as db_hosts
from db import rollouts as db_rollouts
from db import scans as db_scans
from db.connection import Database

#: states in which nothing is left to decide
_SETTLED = frozenset({RolloutState.DECLINED, RolloutState.DEPLOYED})


def needs_approval(r: Rollout) -> bool:
    """A firmware/driver update nobody has approved or declined yet (deferred ones still need it)."""
    return r.kind in NEEDS_APPROVAL and not r.explicit_approval and r.state not in _SETTLED


def needs_decision(rollouts: list[Rollout]) -> list[Rollout]:
    return [r for r in rollouts if needs_approval(r)]


def ensure_pending_rollouts(db: Database) -> None:
    """Give every update pending on some host a rollout row, so it can be listed and decided on."""
    pending = [
        u for h in db_hosts.list_hosts(db) if h.id is not None for u in db_scans.pending_for_host(db, h.id)
    ]
    db_rollouts.ensure_rollouts(db, pending)


def resolve_update(db: Database, spec: str) -> list[Rollout]:
    """The rollouts a user's UPDATE text names (name, name=version, manager:name=version or KB number)."""
    ensure_pending_rollouts(db)
    found = db_rollouts.find_rollouts(db, spec)
    if not found:
        raise ConfigError(f"No pending or known update matches {spec!r}. See `patchdesk rollouts`.")
    return found


def _decide(
    db: Database, key: str, *, note: str, actor: str | None, until: datetime | None = None, **changes: object
) -> Rollout:
    """Store the decision and its audit entry (the same entry whichever face decided)."""
    before = db_rollouts.get_rollout(db, key)
    after = db_rollouts.set_rollout(db, key, note=note, actor=actor, **changes)  # type: ignore[arg-type]
    details: dict[str, object] = {
        "decision": str(after.state),
        "kind": str(after.kind),
        "classification": str(after.classification),
        "from": str(before.state) if before is not None else "",
        "note": note,
    }
    if until is not None:
        details["until"] = until.isoformat()
    if after.state == RolloutState.APPROVED and after.ring is not None:
        details["ring"] = str(after.ring)
    audit.record(db, audit.APPROVAL, key, details)
    return after


def approve(
    db: Database,
    key: str,
    *,
    note: str = "",
    override_window: bool = False,
    actor: str | None = None,
    ring: Ring = Ring.PRODUCTION,
) -> Rollout:
    """Approve up to ``ring`` (default: every ring). The explicit approval is what lets firmware and
    drivers be installed at all (app.domain.rollout: Rollout.allows), each ring only once approved
    for it: first ``ring=test`` (one host of the model), then a second approval for the rest; the
    patch selection applies it (app/jobs/selection.py: approved_keys)."""
    return _decide(
        db,
        key,
        note=note,
        actor=actor,
        state=RolloutState.APPROVED,
        ring=ring,
        explicit_approval=True,
        override_window=override_window or None,
    )


def decline(db: Database, key: str, *, note: str = "", actor: str | None = None) -> Rollout:
    """Never install it (until someone approves it after all)."""
    return _decide(db, key, note=note, actor=actor, state=RolloutState.DECLINED)


def defer(
    db: Database, key: str, *, until: datetime | None = None, note: str = "", actor: str | None = None
) -> Rollout:
    """Hold it back until ``until`` (None: until approved)."""
    return _decide(
        db, key, note=note, actor=actor, until=until, state=RolloutState.DEFERRED, deferred_until=until
    )
