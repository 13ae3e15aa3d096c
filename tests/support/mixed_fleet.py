"""A small fleet with one host in each compliance situation (for the compliance-state tests and the
screenshots): loopback addresses and ``.invalid`` names only.

========================  ==============================================================
compliant.invalid          recent successful scan, nothing pending
pending.invalid            recent successful scan, 2 urgent + 1 non-critical pending
never.invalid              never scanned
scanfail.invalid           last scan failed (its scan step failed too)
unreach.invalid            last scan could not reach it, 1 important left from before
stale.invalid              successful scan, 30 days old, nothing pending
patchfail.invalid          compliant by its scan, but its last job (a patch) failed
rolledback.invalid         non-compliant; its last job rolled a patch back
========================  ==============================================================
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlite_utils import Database

from app.domain.models import Host, JobKind, JobState, StepState
from db import hosts as db_hosts
from db import jobs as db_jobs

NAMES = (
    "compliant.invalid",
    "pending.invalid",
    "never.invalid",
    "scanfail.invalid",
    "unreach.invalid",
    "stale.invalid",
    "patchfail.invalid",
    "rolledback.invalid",
)


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds")


def populate_mixed(db: Database, now: datetime | None = None) -> dict[str, Host]:
    """Add the hosts above; returns them by name (as stored)."""
    now = now or datetime.now(UTC)
    recent, old = _iso(now - timedelta(hours=2)), _iso(now - timedelta(days=30))
    ids = {}
    for i, name in enumerate(NAMES, start=1):
        ids[name] = db_hosts.add_host(db, Host(name=name, address=f"127.0.32.{i}")).id
    state = {
        "compliant.invalid": ("ok", recent, 0, 0, 0, None),
        "pending.invalid": ("ok", recent, 2, 0, 1, None),
        "scanfail.invalid": ("failed", recent, 0, 0, 0, "apt-get update failed"),
        "unreach.invalid": ("unreachable", recent, 0, 1, 0, "connection refused"),
        "stale.invalid": ("ok", old, 0, 0, 0, None),
        "patchfail.invalid": ("ok", recent, 0, 0, 0, None),
        "rolledback.invalid": ("ok", recent, 0, 3, 0, None),
    }
    for name, (status, at, u, i, n, err) in state.items():
        db.execute(
            "UPDATE hosts SET last_status = ?, last_scan_at = ?, pending_urgent = ?, pending_important = ?, "
            "pending_noncritical = ?, last_error = ? WHERE id = ?",
            [status, at, u, i, n, err, ids[name]],
        )
    hosts = {h.name: h for h in db_hosts.list_hosts(db)}
    scan_states = {"scanfail.invalid": StepState.FAILED, "unreach.invalid": StepState.UNREACHABLE}
    _job(db, JobKind.SCAN, [hosts[n] for n in NAMES if n != "never.invalid"], scan_states)
    _job(db, JobKind.PATCH, [hosts["patchfail.invalid"]], {"patchfail.invalid": StepState.FAILED})
    _job(db, JobKind.PATCH, [hosts["rolledback.invalid"]], {})
    _job(db, JobKind.ROLLBACK, [hosts["rolledback.invalid"]], {})
    db.conn.commit()
    return hosts


def _job(db: Database, kind: JobKind, hosts: list[Host], states: dict[str, StepState]) -> int:
    """A finished job; each host's step succeeded unless ``states`` says otherwise."""
    job_id = db_jobs.create_job(db, kind, hosts)
    db_jobs.set_job_state(db, job_id, JobState.RUNNING)
    for h in hosts:
        assert h.id is not None
        state = states.get(h.name, StepState.SUCCEEDED)
        db_jobs.set_host_state(db, job_id, h.id, StepState.RUNNING)
        db_jobs.set_host_state(db, job_id, h.id, state, None if state == StepState.SUCCEEDED else "it broke")
    db_jobs.set_job_state(db, job_id, JobState.FINISHED)
    return job_id
