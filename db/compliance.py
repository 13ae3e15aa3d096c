"""Compliance numbers for the dashboard and the reports: the tiles, the hosts behind each, pending
updates per group, the oldest urgent update and KEV due dates.

Everything is a query over ``hosts`` (which carries denormalised pending counts per class), so the
tiles cost a scan of the host rows, never of the pending-update rows. The tiles' SQL is db/tiles.py;
the trend's daily snapshots are db/compliance_history.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from app.domain.compliance import (
    ComplianceFilter,
    Dashboard,
    GroupPending,
    HostRow,
    KevDue,
    OldestUrgent,
    Summary,
    Tile,
)
from db.compliance_history import history
from db.connection import Database
from db.jobs import last_jobs
from db.tiles import COMPLIANCE_SQL, HOSTS_FROM, TILE_SQL, filter_sql, stale_cutoff, stale_days


def summary(
    db: Database, f: ComplianceFilter | None = None, *, days: int | None = None, now: datetime | None = None
) -> Summary:
    """The tile numbers for the scope ``f``."""
    f = f or ComplianceFilter()
    days = days if days is not None else stale_days(db)
    params: dict[str, Any] = {"cutoff": stale_cutoff(days, now)}
    cols = ", ".join(f"COALESCE(sum({sql}), 0) AS {tile}" for tile, sql in TILE_SQL.items())
    sql = (
        f"SELECT {cols}, COALESCE(sum(h.pending_urgent), 0) AS u, COALESCE(sum(h.pending_important), 0) AS i, "
        f"COALESCE(sum(h.pending_noncritical), 0) AS n {HOSTS_FROM} WHERE {filter_sql(f, params)}"
    )
    row = next(iter(db.query(sql, params)))
    return Summary(
        counts={t: int(row[str(t)]) for t in Tile},
        urgent_updates=int(row["u"]),
        important_updates=int(row["i"]),
        noncritical_updates=int(row["n"]),
        stale_days=days,
    )


def host_ids(
    db: Database,
    tile: Tile,
    f: ComplianceFilter | None = None,
    *,
    days: int | None = None,
    now: datetime | None = None,
) -> list[int]:
    """The hosts behind a tile (what a click on it shows in the inventory)."""
    f = f or ComplianceFilter()
    days = days if days is not None else stale_days(db)
    params: dict[str, Any] = {"cutoff": stale_cutoff(days, now)}
    sql = f"SELECT h.id {HOSTS_FROM} WHERE {filter_sql(f, params)} AND {TILE_SQL[tile]} ORDER BY h.name COLLATE NOCASE"
    return [int(r[0]) for r in db.execute(sql, params)]


def group_host_ids(db: Database, group: str, f: ComplianceFilter | None = None) -> list[int]:
    """Hosts of one group ("" for no group) with anything pending, within the other filters."""
    f = f or ComplianceFilter()
    params: dict[str, Any] = {}
    sql = (
        f"SELECT h.id {HOSTS_FROM} WHERE {filter_sql(f, params)} AND COALESCE(g.name, '') = :g "
        "AND h.pending_urgent + h.pending_important + h.pending_noncritical > 0"
    )
    params["g"] = group
    return [int(r[0]) for r in db.execute(sql, params)]


def host_rows(
    db: Database, f: ComplianceFilter | None = None, *, days: int | None = None, now: datetime | None = None
) -> list[HostRow]:
    """The per-host table of a report, worst first (urgent, important, then name)."""
    f = f or ComplianceFilter()
    days = days if days is not None else stale_days(db)
    params: dict[str, Any] = {"cutoff": stale_cutoff(days, now)}
    sql = (
        f"SELECT h.id, h.name, h.address, COALESCE(g.name, '') AS grp, h.ring, h.criticality, "
        f"COALESCE(h.os_name, '') AS os, h.last_status, h.last_scan_at, h.pending_urgent, "
        f"h.pending_important, h.pending_noncritical, h.reboot_required, {TILE_SQL[Tile.FAILED]} AS failed, "
        f"{TILE_SQL[Tile.UP_TO_DATE]} AS up_to_date, {COMPLIANCE_SQL} AS compliance {HOSTS_FROM} "
        f"WHERE {filter_sql(f, params)} "
        "ORDER BY h.pending_urgent DESC, h.pending_important DESC, h.name COLLATE NOCASE"
    )
    jobs = last_jobs(db)
    return [
        HostRow(
            name=r["name"],
            address=r["address"],
            group=r["grp"],
            ring=r["ring"],
            criticality=r["criticality"],
            os=r["os"],
            status=r["last_status"],
            last_scan=r["last_scan_at"],
            urgent=r["pending_urgent"],
            important=r["pending_important"],
            noncritical=r["pending_noncritical"],
            reboot_required=bool(r["reboot_required"]),
            failed_last_job=bool(r["failed"]),
            up_to_date=bool(r["up_to_date"]),
            compliance=r["compliance"],
            last_job=jobs.get(r["id"]),
        )
        for r in db.query(sql, params)
    ]


def pending_by_group(db: Database, f: ComplianceFilter | None = None) -> list[GroupPending]:
    f = f or ComplianceFilter()
    params: dict[str, Any] = {}
    sql = (
        f"SELECT COALESCE(g.name, '') AS grp, count(*) AS hosts, sum(h.pending_urgent) AS u, "
        f"sum(h.pending_important) AS i, sum(h.pending_noncritical) AS n {HOSTS_FROM} "
        f"WHERE {filter_sql(f, params)} GROUP BY COALESCE(g.name, '') ORDER BY grp COLLATE NOCASE"
    )
    return [
        GroupPending(r["grp"], int(r["hosts"]), int(r["u"] or 0), int(r["i"] or 0), int(r["n"] or 0))
        for r in db.query(sql, params)
    ]


def group_names(db: Database) -> list[str]:
    return [r[0] for r in db.execute("SELECT name FROM groups ORDER BY name COLLATE NOCASE")]


def oldest_urgent(db: Database, f: ComplianceFilter | None = None) -> OldestUrgent | None:
    """The urgent update pending longest anywhere in the scope."""
    f = f or ComplianceFilter()
    params: dict[str, Any] = {}
    sql = (
        "SELECT u.host_id, h.name AS host, u.manager, u.name, u.first_seen FROM urgent_seen u "
        "JOIN hosts h ON h.id = u.host_id LEFT JOIN groups g ON g.id = h.group_id "
        f"WHERE {filter_sql(f, params)} AND h.pending_urgent > 0 AND EXISTS (SELECT 1 FROM pending_updates p "
        "WHERE p.host_id = u.host_id AND p.name = u.name AND p.manager = u.manager "
        "AND p.classification = 'urgent') ORDER BY u.first_seen, h.name LIMIT 1"
    )
    rows = list(db.query(sql, params))
    if not rows:
        return None
    r = rows[0]
    return OldestUrgent(r["host_id"], r["host"], r["manager"], r["name"], r["first_seen"])


# -- KEV due dates (the policy tables may be missing in an older or trimmed database) ------------------


def kev_available(db: Database) -> bool:
    """True when the advisory tables (the CISA KEV catalog) exist and hold something."""
    row = db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'kev'").fetchone()
    if not row or not row[0]:
        return False
    return db.execute("SELECT 1 FROM kev LIMIT 1").fetchone() is not None


def kev_due(
    db: Database,
    f: ComplianceFilter | None = None,
    *,
    within_days: int = 14,
    limit: int = 10,
    today: str | None = None,
) -> list[KevDue]:
    """KEV entries with a due date past or within ``within_days`` whose CVE a pending update fixes."""
    if not kev_available(db):
        return []
    f = f or ComplianceFilter()
    base = datetime.fromisoformat(today).date() if today else datetime.now(UTC).date()
    params: dict[str, Any] = {"horizon": (base + timedelta(days=within_days)).isoformat(), "limit": limit}
    sql = (
        "SELECT k.cve, k.due_date, k.name, count(DISTINCT p.host_id) AS hosts, "
        "group_concat(DISTINCT p.name) AS packages "
        "FROM pending_updates p JOIN json_each(p.cves) j JOIN kev k ON k.cve = j.value "
        "JOIN hosts h ON h.id = p.host_id LEFT JOIN groups g ON g.id = h.group_id "
        f"WHERE p.cves != '[]' AND k.due_date != '' AND k.due_date <= :horizon AND {filter_sql(f, params)} "
        "GROUP BY k.cve ORDER BY k.due_date, k.cve LIMIT :limit"
    )
    return [
        KevDue(
            r["cve"],
            r["due_date"],
            r["name"],
            int(r["hosts"]),
            tuple(sorted((r["packages"] or "").split(","))),
        )
        for r in db.query(sql, params)
    ]


def dashboard(
    db: Database,
    f: ComplianceFilter | None = None,
    *,
    history_days: int = 90,
    now: datetime | None = None,
) -> Dashboard:
    """Everything the dashboard shows (run on a worker thread with its own connection)."""
    f = f or ComplianceFilter()
    kev = kev_available(db)
    return Dashboard(
        filter=f,
        summary=summary(db, f, now=now),
        history=tuple(history(db, f, days=history_days)),
        by_group=tuple(pending_by_group(db, f)),
        oldest_urgent=oldest_urgent(db, f),
        kev_available=kev,
        kev_due=tuple(kev_due(db, f)) if kev else (),
        groups=tuple(group_names(db)),
    )
