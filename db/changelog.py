"""The change log across hosts: what changed where and when (for the .ics/CSV exports)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.domain.models import ChangeLogEntry, PackageChange
from db.connection import Database
from db.database import parse_ts


def change_log(db: Database, since: datetime | None = None, limit: int = 5000) -> list[ChangeLogEntry]:
    """One entry per (job, host) that changed something, oldest first."""
    sql = (
        "SELECT c.*, j.kind AS job_kind, j.trigger, j.actor, h.name AS host_name, jh.started_at AS step_started, "
        "jh.finished_at AS step_finished, jh.verdict, jh.rolled_back_by AS step_rolled_back "
        "FROM changes c JOIN jobs j ON j.id = c.job_id JOIN hosts h ON h.id = c.host_id "
        "LEFT JOIN job_hosts jh ON jh.job_id = c.job_id AND jh.host_id = c.host_id"
    )
    params: list[Any] = []
    if since is not None:
        sql += " WHERE c.recorded_at >= ?"
        params.append(since.isoformat())
    sql += " ORDER BY c.job_id, h.name, c.id LIMIT ?"
    params.append(limit)
    out: dict[tuple[int, str], dict[str, Any]] = {}
    for r in db.query(sql, params):
        key = (r["job_id"], r["host_name"])
        e = out.setdefault(
            key,
            {
                "job_id": r["job_id"],
                "job_kind": r["job_kind"],
                "trigger": r["trigger"],
                "actor": r["actor"],
                "host": r["host_name"],
                "started": parse_ts(r["step_started"]) or parse_ts(r["recorded_at"]),
                "finished": parse_ts(r["step_finished"]) or parse_ts(r["recorded_at"]),
                "changes": [],
                "verdict": r["verdict"],
                "rolled_back_by": r["step_rolled_back"],
            },
        )
        e["changes"].append(
            PackageChange(r["manager"], r["name"], r["from_version"], r["to_version"], r["arch"], r["kb"])
        )
    return [ChangeLogEntry(**{**e, "changes": tuple(e["changes"])}) for e in out.values()]
