"""How the compliance tiles are computed: one SQL predicate per tile over ``hosts h``, the scope
filter, and the stale threshold.

Each tile is one predicate (:data:`TILE_SQL`), shared by the live numbers (db/compliance.py), the daily
snapshots (db/compliance_history.py) and the per-update lists (db/updates.py), so a count and the host
list behind it cannot disagree.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from app.domain.compliance import (
    DEFAULT_STALE_DAYS,
    OS_FAMILIES,
    OS_FAMILY_OTHER,
    OS_FAMILY_UNKNOWN,
    STALE_DAYS_SETTING,
    ComplianceFilter,
    Tile,
)
from db.connection import Database


def _family_sql() -> str:
    whens = []
    for family, ids in OS_FAMILIES.items():
        quoted = ", ".join(f"'{i}'" for i in ids)
        whens.append(f"WHEN lower(h.os_id) IN ({quoted}) THEN '{family}'")
    return (
        f"(CASE WHEN h.os_id IS NULL OR h.os_id = '' THEN '{OS_FAMILY_UNKNOWN}' "
        + " ".join(whens)
        + f" ELSE '{OS_FAMILY_OTHER}' END)"
    )


OS_FAMILY_SQL = _family_sql()

#: The host's newest finished job step failed, was interrupted or verified red.
_FAILED_SQL = (
    "COALESCE((SELECT jh.state IN ('failed', 'interrupted') OR jh.verdict = 'red' FROM job_hosts jh "
    "WHERE jh.host_id = h.id AND jh.state NOT IN ('queued', 'running') ORDER BY jh.job_id DESC LIMIT 1), 0)"
)

#: The host's state is unknown (app.domain.compliance.compliance_state): never scanned, last scan
#: failed or unreachable, older than the stale threshold, or incomplete (the scan could not see it all).
UNKNOWN_SQL = (
    "(h.last_status != 'ok' OR h.last_scan_at IS NULL OR h.last_scan_at < :cutoff OR h.scan_complete IS 0)"
)
_PENDING_SQL = "h.pending_urgent + h.pending_important + h.pending_noncritical"

#: The host's compliance state as text: 'compliant', 'non_compliant' or 'unknown'.
COMPLIANCE_SQL = (
    f"(CASE WHEN {UNKNOWN_SQL} THEN 'unknown' WHEN {_PENDING_SQL} > 0 THEN 'non_compliant' "
    "ELSE 'compliant' END)"
)

#: One predicate per tile, over ``hosts h``; ``:cutoff`` is the stale threshold as an ISO time.
TILE_SQL: dict[Tile, str] = {
    Tile.HOSTS: "1",
    Tile.UP_TO_DATE: f"(NOT {UNKNOWN_SQL} AND {_PENDING_SQL} = 0)",
    Tile.NON_COMPLIANT: f"(NOT {UNKNOWN_SQL} AND {_PENDING_SQL} > 0)",
    Tile.UNKNOWN: UNKNOWN_SQL,
    Tile.URGENT: "h.pending_urgent > 0",
    Tile.IMPORTANT: "h.pending_important > 0",
    Tile.NONCRITICAL: "h.pending_noncritical > 0",
    Tile.FAILED: _FAILED_SQL,
    Tile.UNREACHABLE: "h.last_status = 'unreachable'",
    Tile.STALE: "(h.last_scan_at IS NULL OR h.last_scan_at < :cutoff)",
    Tile.NEVER: "h.last_status = 'never'",
    Tile.REBOOT: "h.reboot_required = 1",
}

HOSTS_FROM = " FROM hosts h LEFT JOIN groups g ON g.id = h.group_id "


def stale_days(db: Database) -> int:
    row = db.execute("SELECT value FROM settings WHERE key = ?", [STALE_DAYS_SETTING]).fetchone()
    try:
        return max(1, int(row[0])) if row else DEFAULT_STALE_DAYS
    except ValueError:
        return DEFAULT_STALE_DAYS


def set_stale_days(db: Database, days: int) -> None:
    if days < 1:
        raise ValueError("the stale threshold is at least one day")
    with db.atomic():
        db.execute(
            "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [STALE_DAYS_SETTING, str(days)],
        )


def stale_cutoff(days: int, now: datetime | None = None) -> str:
    at = (now or datetime.now(UTC)) - timedelta(days=days)
    return at.isoformat(timespec="milliseconds")


def filter_sql(f: ComplianceFilter, params: dict[str, Any]) -> str:
    clauses = ["1"]
    if f.group is not None:
        if f.group == "":
            clauses.append("h.group_id IS NULL")
        else:
            clauses.append("g.name = :group")
            params["group"] = f.group
    if f.ring:
        clauses.append("h.ring = :ring")
        params["ring"] = f.ring
    if f.criticality:
        clauses.append("h.criticality = :criticality")
        params["criticality"] = f.criticality
    if f.os_family:
        clauses.append(f"{OS_FAMILY_SQL} = :os_family")
        params["os_family"] = f.os_family
    return " AND ".join(clauses)
