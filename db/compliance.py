"""Compliance numbers for the dashboard and the reports, and the daily snapshots behind the trend.

Everything is a query over ``hosts`` (which carries denormalised pending counts per class), so the
tiles cost a scan of a few thousand host rows, never of the million pending-update rows. Each tile is
one SQL predicate (:data:`TILE_SQL`): the count and the host list behind it cannot disagree.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlite_utils import Database

from app.domain.compliance import (
    DEFAULT_STALE_DAYS,
    OS_FAMILIES,
    OS_FAMILY_OTHER,
    OS_FAMILY_UNKNOWN,
    STALE_DAYS_SETTING,
    ComplianceFilter,
    DailyPoint,
    Dashboard,
    GroupPending,
    HostRow,
    KevDue,
    OldestUrgent,
    Summary,
    Tile,
    UpdateHost,
    UpdateStatus,
    UpdateSummary,
)
from db.database import now_iso


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

#: One predicate per tile, over ``hosts h``; ``:cutoff`` is the stale threshold as an ISO time.
TILE_SQL: dict[Tile, str] = {
    Tile.HOSTS: "1",
    Tile.UP_TO_DATE: (
        "(h.last_status = 'ok' AND h.pending_urgent + h.pending_important + h.pending_noncritical = 0 "
        "AND h.last_scan_at >= :cutoff)"
    ),
    Tile.URGENT: "h.pending_urgent > 0",
    Tile.IMPORTANT: "h.pending_important > 0",
    Tile.NONCRITICAL: "h.pending_noncritical > 0",
    Tile.FAILED: _FAILED_SQL,
    Tile.UNREACHABLE: "h.last_status = 'unreachable'",
    Tile.STALE: "(h.last_scan_at IS NULL OR h.last_scan_at < :cutoff)",
    Tile.NEVER: "h.last_status = 'never'",
    Tile.REBOOT: "h.reboot_required = 1",
}

_FROM = " FROM hosts h LEFT JOIN groups g ON g.id = h.group_id "


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


def _cutoff(days: int, now: datetime | None = None) -> str:
    at = (now or datetime.now(UTC)) - timedelta(days=days)
    return at.isoformat(timespec="milliseconds")


def _where(f: ComplianceFilter, params: dict[str, Any]) -> str:
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


def summary(
    db: Database, f: ComplianceFilter | None = None, *, days: int | None = None, now: datetime | None = None
) -> Summary:
    """The tile numbers for the scope ``f``."""
    f = f or ComplianceFilter()
    days = days if days is not None else stale_days(db)
    params: dict[str, Any] = {"cutoff": _cutoff(days, now)}
    cols = ", ".join(f"COALESCE(sum({sql}), 0) AS {tile}" for tile, sql in TILE_SQL.items())
    sql = (
        f"SELECT {cols}, COALESCE(sum(h.pending_urgent), 0) AS u, COALESCE(sum(h.pending_important), 0) AS i, "
        f"COALESCE(sum(h.pending_noncritical), 0) AS n {_FROM} WHERE {_where(f, params)}"
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
    params: dict[str, Any] = {"cutoff": _cutoff(days, now)}
    sql = f"SELECT h.id {_FROM} WHERE {_where(f, params)} AND {TILE_SQL[tile]} ORDER BY h.name COLLATE NOCASE"
    return [int(r[0]) for r in db.execute(sql, params)]


def group_host_ids(db: Database, group: str, f: ComplianceFilter | None = None) -> list[int]:
    """Hosts of one group ("" for no group) with anything pending, within the other filters."""
    f = f or ComplianceFilter()
    params: dict[str, Any] = {}
    sql = (
        f"SELECT h.id {_FROM} WHERE {_where(f, params)} AND COALESCE(g.name, '') = :g "
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
    params: dict[str, Any] = {"cutoff": _cutoff(days, now)}
    sql = (
        f"SELECT h.name, h.address, COALESCE(g.name, '') AS grp, h.ring, h.criticality, "
        f"COALESCE(h.os_name, '') AS os, h.last_status, h.last_scan_at, h.pending_urgent, "
        f"h.pending_important, h.pending_noncritical, h.reboot_required, {_FAILED_SQL} AS failed, "
        f"{TILE_SQL[Tile.UP_TO_DATE]} AS up_to_date {_FROM} WHERE {_where(f, params)} "
        "ORDER BY h.pending_urgent DESC, h.pending_important DESC, h.name COLLATE NOCASE"
    )
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
        )
        for r in db.query(sql, params)
    ]


def pending_by_group(db: Database, f: ComplianceFilter | None = None) -> list[GroupPending]:
    f = f or ComplianceFilter()
    params: dict[str, Any] = {}
    sql = (
        f"SELECT COALESCE(g.name, '') AS grp, count(*) AS hosts, sum(h.pending_urgent) AS u, "
        f"sum(h.pending_important) AS i, sum(h.pending_noncritical) AS n {_FROM} "
        f"WHERE {_where(f, params)} GROUP BY COALESCE(g.name, '') ORDER BY grp COLLATE NOCASE"
    )
    return [
        GroupPending(r["grp"], int(r["hosts"]), int(r["u"] or 0), int(r["i"] or 0), int(r["n"] or 0))
        for r in db.query(sql, params)
    ]


def group_names(db: Database) -> list[str]:
    return [r[0] for r in db.execute("SELECT name FROM groups ORDER BY name COLLATE NOCASE")]


# -- daily snapshots and first sightings of urgent updates -------------------------------------------


def record_daily(db: Database, *, day: str | None = None, now: datetime | None = None) -> int:
    """Replace today's (or ``day``'s) compliance snapshot; one row per host segment. Returns the rows.

    Called after every scan, patch or rollback job (by the recorder) and at start-up, so the trend
    has a point for every day the console or a scheduled run was used.
    """
    at = now or datetime.now(UTC)
    day = day or at.date().isoformat()
    params: dict[str, Any] = {"cutoff": _cutoff(stale_days(db), at), "day": day, "at": now_iso()}
    t = TILE_SQL
    with db.atomic():
        db.execute("DELETE FROM compliance_daily WHERE day = :day", params)
        cur = db.execute(
            "INSERT INTO compliance_daily (day, group_name, ring, criticality, os_family, hosts, up_to_date, "
            "with_urgent, with_important, with_noncritical, urgent, important, noncritical, failed, "
            "unreachable, stale, never, reboot, recorded_at) "
            f"SELECT :day, COALESCE(g.name, ''), h.ring, h.criticality, {OS_FAMILY_SQL} AS fam, count(*), "
            f"sum({t[Tile.UP_TO_DATE]}), sum({t[Tile.URGENT]}), sum({t[Tile.IMPORTANT]}), "
            f"sum({t[Tile.NONCRITICAL]}), sum(h.pending_urgent), sum(h.pending_important), "
            f"sum(h.pending_noncritical), sum({t[Tile.FAILED]}), sum({t[Tile.UNREACHABLE]}), "
            f"sum({t[Tile.STALE]}), sum({t[Tile.NEVER]}), sum({t[Tile.REBOOT]}), :at {_FROM} "
            "GROUP BY COALESCE(g.name, ''), h.ring, h.criticality, fam",
            params,
        )
    return int(cur.rowcount or 0)


def history(db: Database, f: ComplianceFilter | None = None, *, days: int = 90) -> list[DailyPoint]:
    """The daily snapshots of the last ``days`` days, summed over the segments the filter selects."""
    f = f or ComplianceFilter()
    params: dict[str, Any] = {"since": (datetime.now(UTC).date() - timedelta(days=days)).isoformat()}
    clauses = ["day >= :since"]
    if f.group is not None:
        clauses.append("group_name = :group")
        params["group"] = f.group
    for col in ("ring", "criticality", "os_family"):
        value = getattr(f, col)
        if value:
            clauses.append(f"{col} = :{col}")
            params[col] = value
    sql = (
        "SELECT day, sum(hosts) AS hosts, sum(up_to_date) AS up, sum(with_urgent) AS wu, "
        "sum(with_important) AS wi, sum(urgent) AS u, sum(important) AS i, sum(noncritical) AS n "
        f"FROM compliance_daily WHERE {' AND '.join(clauses)} GROUP BY day ORDER BY day"
    )
    return [
        DailyPoint(r["day"], r["hosts"], r["up"], r["wu"], r["wi"], r["u"], r["i"], r["n"])
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


def oldest_urgent(db: Database, f: ComplianceFilter | None = None) -> OldestUrgent | None:
    """The urgent update pending longest anywhere in the scope."""
    f = f or ComplianceFilter()
    params: dict[str, Any] = {}
    sql = (
        "SELECT u.host_id, h.name AS host, u.manager, u.name, u.first_seen FROM urgent_seen u "
        "JOIN hosts h ON h.id = u.host_id LEFT JOIN groups g ON g.id = h.group_id "
        f"WHERE {_where(f, params)} AND h.pending_urgent > 0 AND EXISTS (SELECT 1 FROM pending_updates p "
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
        f"WHERE p.cves != '[]' AND k.due_date != '' AND k.due_date <= :horizon AND {_where(f, params)} "
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


# -- update lists and the per-update view ---------------------------------------------------------


def updates_list(
    db: Database,
    *,
    classification: str | None = None,
    group: str | None = None,
    f: ComplianceFilter | None = None,
    limit: int = 5000,
) -> list[UpdateSummary]:
    """Distinct pending updates with how many hosts need each (a chart segment's drill-down)."""
    f = f or ComplianceFilter()
    params: dict[str, Any] = {"limit": limit}
    where = [_where(f, params)]
    if classification:
        where.append("p.classification = :cls")
        params["cls"] = classification
    if group is not None:
        where.append("COALESCE(g.name, '') = :g")
        params["g"] = group
    sql = (
        "SELECT p.manager, p.name, p.classification, count(DISTINCT p.host_id) AS hosts "
        "FROM pending_updates p JOIN hosts h ON h.id = p.host_id LEFT JOIN groups g ON g.id = h.group_id "
        f"WHERE {' AND '.join(where)} GROUP BY p.classification, p.manager, p.name "
        "ORDER BY CASE p.classification WHEN 'urgent' THEN 0 WHEN 'important' THEN 1 ELSE 2 END, "
        "hosts DESC, p.name LIMIT :limit"
    )
    return [
        UpdateSummary(r["manager"], r["name"], r["classification"], int(r["hosts"]))
        for r in db.query(sql, params)
    ]


def _json_has(column: str) -> str:
    return f"EXISTS (SELECT 1 FROM json_each({column}) WHERE upper(json_each.value) = upper(:spec))"


def update_status(db: Database, spec: str) -> UpdateStatus:
    """Who needs, has and failed one update: a package name, or a KB / advisory / CVE id."""
    spec = spec.strip()
    params: dict[str, Any] = {"spec": spec}
    need = [
        UpdateHost(
            r["host_id"],
            r["host"],
            r["installed"],
            r["available"],
            r["classification"],
            None,
            r["finished_at"],
            r["name"],
            r["reason"],
        )
        for r in db.query(
            "SELECT p.host_id, h.name AS host, p.name, p.installed, p.available, p.classification, p.reason, "
            "s.finished_at "
            "FROM pending_updates p JOIN hosts h ON h.id = p.host_id LEFT JOIN scans s ON s.id = p.scan_id "
            f"WHERE p.name = :spec OR ((p.advisories != '[]' AND {_json_has('p.advisories')}) "
            f"OR (p.cves != '[]' AND {_json_has('p.cves')})) ORDER BY h.name COLLATE NOCASE, p.name",
            params,
        )
    ]
    names = {u.detail for u in need} | {spec}
    name_params: dict[str, Any] = {f"n{i}": n for i, n in enumerate(sorted(names))}
    name_in = ", ".join(f":n{i}" for i in range(len(names)))
    have = [
        UpdateHost(
            r["host_id"],
            r["host"],
            r["from_version"],
            r["to_version"],
            "",
            r["job_id"],
            r["recorded_at"],
            r["name"],
        )
        for r in db.query(
            "SELECT c.host_id, h.name AS host, c.name, c.from_version, c.to_version, c.job_id, c.recorded_at "
            "FROM changes c JOIN hosts h ON h.id = c.host_id "
            f"WHERE (c.name IN ({name_in}) OR upper(COALESCE(c.kb, '')) = upper(:spec)) "
            "AND c.rolled_back_by IS NULL AND c.to_version IS NOT NULL "
            "AND c.id = (SELECT max(c2.id) FROM changes c2 WHERE c2.host_id = c.host_id AND c2.name = c.name) "
            "ORDER BY h.name COLLATE NOCASE",
            {**name_params, "spec": spec},
        )
    ]
    failed: list[UpdateHost] = []
    for r in db.query(
        "SELECT j.id AS job_id, j.params, jh.host_id, jh.host_name, jh.state, jh.verdict, jh.error, jh.finished_at "
        "FROM jobs j JOIN job_hosts jh ON jh.job_id = j.id WHERE j.kind = 'patch' "
        "AND (jh.state IN ('failed', 'interrupted') OR jh.verdict = 'red') ORDER BY j.id DESC LIMIT 2000"
    ):
        try:
            selections = json.loads(r["params"]).get("selections", {})
            chosen = set(selections.get(str(r["host_id"]), {}).get("names", []))
        except (ValueError, AttributeError):
            continue
        if chosen & names or spec.upper() in {c.upper() for c in chosen}:
            why = r["error"] or (f"verification {r['verdict']}" if r["verdict"] else r["state"])
            failed.append(
                UpdateHost(r["host_id"], r["host_name"], None, None, "", r["job_id"], r["finished_at"], why)
            )
    return UpdateStatus(spec, tuple(need), tuple(have), tuple(failed))


def update_names(db: Database, prefix: str = "", limit: int = 200) -> list[str]:
    """Package names pending anywhere (completion in the per-update view)."""
    return [
        r[0]
        for r in db.execute(
            "SELECT DISTINCT name FROM pending_updates WHERE name >= ? AND name < ? ORDER BY name LIMIT ?",
            [prefix, prefix + "\uffff", limit],
        )
    ]


def database_file(db: Database) -> str | None:
    """The main file of ``db`` (for a worker thread that opens its own connection)."""
    for r in db.execute("PRAGMA database_list"):
        if r[1] == "main":
            return str(r[2]) or None
    return None


def hosts_named(db: Database, ids: Sequence[int]) -> list[str]:
    if not ids:
        return []
    return [
        r[0]
        for r in db.execute(f"SELECT name FROM hosts WHERE id IN ({', '.join('?' * len(ids))})", list(ids))
    ]


def _daily_where(f: ComplianceFilter, day: str, params: dict[str, Any]) -> str:
    clauses = ["day = :day"]
    params["day"] = day
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
                "sum(unreachable) AS un, sum(stale) AS st, sum(never) AS nv, sum(reboot) AS rb "
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
    return {t: int(row[k] or 0) for t, k in keys.items()}


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


def red_verifications(db: Database, job_id: int) -> list[str]:
    """Hosts whose verification in (or of) job ``job_id`` is red."""
    return [
        r[0]
        for r in db.execute(
            "SELECT DISTINCT h.name FROM verifications v JOIN hosts h ON h.id = v.host_id "
            "WHERE (v.job_id = ? OR v.subject_job_id = ?) AND v.verdict = 'red' ORDER BY h.name",
            [job_id, job_id],
        )
    ]
