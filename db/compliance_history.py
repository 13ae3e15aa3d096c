"""The compliance trend: a daily snapshot of the tile numbers per host segment, and when each urgent
update was first seen on each host (for "oldest urgent" and the new-urgent alert)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from app.domain.compliance import (
    ComplianceFilter,
    DailyPoint,
    GroupPending,
    OldestUrgent,
    Tile,
)
from db.connection import Database
from db.database import now_iso
from db.tiles import HOSTS_FROM, OS_FAMILY_SQL, TILE_SQL, stale_cutoff, stale_days

# A day's sum of a column the older snapshots lack: NULL unless every segment recorded it, so a day
# half from before the migration is "not recorded" rather than an undercount.
_RECORDED_SUM = "(CASE WHEN count({col}) = count(*) THEN sum({col}) END)"


def record_daily(db: Database, *, day: str | None = None, now: datetime | None = None) -> int:
    """Replace today's (or ``day``'s) compliance snapshot; one row per host segment. Returns the rows.

    Called after every scan, patch or rollback job (by the recorder) and at start-up, so the trend
    has a point for every day the console or a scheduled run was used.
    """
    at = now or datetime.now(UTC)
    day = day or at.date().isoformat()
    params: dict[str, Any] = {"cutoff": stale_cutoff(stale_days(db), at), "day": day, "at": now_iso()}
    t = TILE_SQL
    with db.atomic():
        db.execute("DELETE FROM compliance_daily WHERE day = :day", params)
        cur = db.execute(
            "INSERT INTO compliance_daily (day, group_name, ring, criticality, os_family, hosts, up_to_date, "
            "with_urgent, with_important, with_noncritical, urgent, important, noncritical, failed, "
            "unreachable, stale, never, reboot, non_compliant, unknown, recorded_at) "
            f"SELECT :day, COALESCE(g.name, ''), h.ring, h.criticality, {OS_FAMILY_SQL} AS fam, count(*), "
            f"sum({t[Tile.UP_TO_DATE]}), sum({t[Tile.URGENT]}), sum({t[Tile.IMPORTANT]}), "
            f"sum({t[Tile.NONCRITICAL]}), sum(h.pending_urgent), sum(h.pending_important), "
            f"sum(h.pending_noncritical), sum({t[Tile.FAILED]}), sum({t[Tile.UNREACHABLE]}), "
            f"sum({t[Tile.STALE]}), sum({t[Tile.NEVER]}), sum({t[Tile.REBOOT]}), sum({t[Tile.NON_COMPLIANT]}), "
            f"sum({t[Tile.UNKNOWN]}), :at {HOSTS_FROM} "
            "GROUP BY COALESCE(g.name, ''), h.ring, h.criticality, fam",
            params,
        )
    return int(cur.rowcount or 0)


def history(db: Database, f: ComplianceFilter | None = None, *, days: int = 90) -> list[DailyPoint]:
    """The daily snapshots of the last ``days`` days, summed over the segments the filter selects."""
    f = f or ComplianceFilter()
    params: dict[str, Any] = {"since": (datetime.now(UTC).date() - timedelta(days=days)).isoformat()}
    sql = (
        "SELECT day, sum(hosts) AS hosts, sum(up_to_date) AS up, sum(with_urgent) AS wu, "
        "sum(with_important) AS wi, sum(urgent) AS u, sum(important) AS i, sum(noncritical) AS n, "
        f"{_RECORDED_SUM.format(col='non_compliant')} AS nc, {_RECORDED_SUM.format(col='unknown')} AS unk "
        f"FROM compliance_daily WHERE {_segment_where(f, 'day >= :since', params)} GROUP BY day ORDER BY day"
    )
    return [
        DailyPoint(
            r["day"],
            r["hosts"],
            r["up"],
            r["wu"],
            r["wi"],
            r["u"],
            r["i"],
            r["n"],
            non_compliant=r["nc"],
            unknown=r["unk"],
        )
        for r in db.query(sql, params)
    ]


def record_urgent_seen(
    db: Database, *, host_ids: Iterable[int] | None = None, job_id: int | None = None
) -> int:
    """Remember when each urgent pending update was first seen on each host; forget fixed ones.

    Limited to ``host_ids`` after a job (the hosts it touched). Returns how many were new.
    """
    ids = list(host_ids) if host_ids is not None else None
    where, params = "", []
    if ids is not None:
        if not ids:
            return 0
        where = f" AND p.host_id IN ({', '.join('?' * len(ids))})"
        params = list(ids)
    with db.atomic():
        cur = db.execute(
            "INSERT OR IGNORE INTO urgent_seen (host_id, manager, name, first_seen, first_job_id) "
            "SELECT p.host_id, p.manager, p.name, COALESCE(min(s.finished_at), ?), ? "
            "FROM pending_updates p LEFT JOIN scans s ON s.id = p.scan_id "
            f"WHERE p.classification = 'urgent'{where} GROUP BY p.host_id, p.manager, p.name",
            [now_iso(), job_id, *params],
        )
        added = int(cur.rowcount or 0)
        db.execute(
            "DELETE FROM urgent_seen WHERE "
            + (f"host_id IN ({', '.join('?' * len(ids))}) AND " if ids is not None else "")
            + "NOT EXISTS (SELECT 1 FROM pending_updates p WHERE p.host_id = urgent_seen.host_id "
            "AND p.name = urgent_seen.name AND p.manager = urgent_seen.manager AND p.classification = 'urgent')",
            params,
        )
    return added


def after_job(db: Database, job_id: int) -> None:
    """The recorder's hook when a scan, patch or rollback job ends: first sightings, then today's point."""
    ids = [
        int(r[0])
        for r in db.execute(
            "SELECT host_id FROM job_hosts WHERE job_id = ? AND host_id IS NOT NULL", [job_id]
        )
    ]
    record_urgent_seen(db, host_ids=ids, job_id=job_id)
    record_daily(db)


def new_urgent(db: Database, job_id: int) -> list[OldestUrgent]:
    """Urgent updates first seen by job ``job_id`` (for the "an urgent update appeared" alert)."""
    return [
        OldestUrgent(r["host_id"], r["host"], r["manager"], r["name"], r["first_seen"])
        for r in db.query(
            "SELECT u.host_id, h.name AS host, u.manager, u.name, u.first_seen FROM urgent_seen u "
            "JOIN hosts h ON h.id = u.host_id WHERE u.first_job_id = ? ORDER BY h.name, u.name",
            [job_id],
        )
    ]


def _daily_where(f: ComplianceFilter, day: str, params: dict[str, Any]) -> str:
    params["day"] = day
    return _segment_where(f, "day = :day", params)


def _segment_where(f: ComplianceFilter, day_clause: str, params: dict[str, Any]) -> str:
    """``day_clause`` and the filter's segment (group, ring, criticality, OS family), values bound."""
    clauses = [day_clause]
    if f.group is not None:
        clauses.append("group_name = :group")
        params["group"] = f.group
    for col in ("ring", "criticality", "os_family"):
        value = getattr(f, col)
        if value:
            clauses.append(f"{col} = :{col}")
            params[col] = value
    return " AND ".join(clauses)


def daily_counts(db: Database, f: ComplianceFilter, day: str) -> dict[Tile, int]:
    """A past day's tile numbers from its snapshot."""
    params: dict[str, Any] = {}
    row = next(
        iter(
            db.query(
                "SELECT sum(hosts) AS hosts, sum(up_to_date) AS up, sum(with_urgent) AS wu, "
                "sum(with_important) AS wi, sum(with_noncritical) AS wn, sum(failed) AS f, "
                "sum(unreachable) AS un, sum(stale) AS st, sum(never) AS nv, sum(reboot) AS rb, "
                f"{_RECORDED_SUM.format(col='non_compliant')} AS nc, {_RECORDED_SUM.format(col='unknown')} AS unk "
                f"FROM compliance_daily WHERE {_daily_where(f, day, params)}",
                params,
            )
        )
    )
    keys = {
        Tile.HOSTS: "hosts",
        Tile.UP_TO_DATE: "up",
        Tile.URGENT: "wu",
        Tile.IMPORTANT: "wi",
        Tile.NONCRITICAL: "wn",
        Tile.FAILED: "f",
        Tile.UNREACHABLE: "un",
        Tile.STALE: "st",
        Tile.NEVER: "nv",
        Tile.REBOOT: "rb",
    }
    counts = {t: int(row[k] or 0) for t, k in keys.items()}
    # absent, not 0, on days recorded before the snapshots kept them
    if row["unk"] is not None and row["nc"] is not None:
        counts[Tile.UNKNOWN] = int(row["unk"])
        counts[Tile.NON_COMPLIANT] = int(row["nc"])
    return counts


def daily_by_group(db: Database, f: ComplianceFilter, day: str) -> list[GroupPending]:
    params: dict[str, Any] = {}
    return [
        GroupPending(r["group_name"], int(r["h"]), int(r["u"]), int(r["i"]), int(r["n"]))
        for r in db.query(
            "SELECT group_name, sum(hosts) AS h, sum(urgent) AS u, sum(important) AS i, sum(noncritical) AS n "
            f"FROM compliance_daily WHERE {_daily_where(f, day, params)} GROUP BY group_name ORDER BY group_name",
            params,
        )
    ]
