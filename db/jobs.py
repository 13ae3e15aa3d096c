"""Jobs, each host's step in a job, and the per-host log lines."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from typing import Any

from app.domain.compliance import LastJob
from app.domain.models import Host, Job, JobHost, JobKind, JobState, JobTrigger, LogLevel, LogLine, StepState
from db.connection import Database
from db.database import now_iso, parse_ts


def create_job(
    db: Database,
    kind: JobKind,
    hosts: Sequence[Host],
    *,
    trigger: JobTrigger = JobTrigger.MANUAL,
    params: dict[str, Any] | None = None,
    concurrency: int | None = None,
    actor: str | None = None,
) -> int:
    """Create a job and a queued step for each host, in one transaction."""
    with db.atomic():
        job_id = int(
            db.execute(
                "INSERT INTO jobs (kind, trigger, state, params, concurrency, actor, pid, created_at) "
                "VALUES (?, ?, 'queued', ?, ?, ?, ?, ?)",
                [
                    str(kind),
                    str(trigger),
                    json.dumps(params or {}),
                    concurrency,
                    actor,
                    os.getpid(),
                    now_iso(),
                ],
            ).lastrowid
            or 0
        )
        db.conn.executemany(
            "INSERT INTO job_hosts (job_id, host_id, host_name, state) VALUES (?, ?, ?, 'queued')",
            [(job_id, h.id, h.name) for h in hosts],
        )
    return job_id


def set_job_state(db: Database, job_id: int, state: JobState) -> None:
    col = "started_at" if state == JobState.RUNNING else "finished_at"
    db.execute(f"UPDATE jobs SET state = ?, {col} = ? WHERE id = ?", [str(state), now_iso(), job_id])


def set_host_state(
    db: Database, job_id: int, host_id: int, state: StepState, error: str | None = None, at: str | None = None
) -> None:
    at = at or now_iso()
    if state == StepState.RUNNING:
        db.execute(
            "UPDATE job_hosts SET state = ?, started_at = ?, error = NULL WHERE job_id = ? AND host_id = ?",
            [str(state), at, job_id, host_id],
        )
    else:
        db.execute(
            "UPDATE job_hosts SET state = ?, finished_at = ?, error = ?, "
            "progress = CASE WHEN ? THEN 1.0 ELSE progress END WHERE job_id = ? AND host_id = ?",
            [str(state), at, error, int(state.finished), job_id, host_id],
        )


def set_host_progress(db: Database, job_id: int, host_id: int, fraction: float) -> None:
    db.execute(
        "UPDATE job_hosts SET progress = ? WHERE job_id = ? AND host_id = ?",
        [max(0.0, min(1.0, fraction)), job_id, host_id],
    )


def add_log_lines(db: Database, lines: Iterable[tuple[int, int | None, str, str, str]]) -> None:
    """Append (job_id, host_id, ts, level, text) rows."""
    db.conn.executemany(
        "INSERT INTO job_logs (job_id, host_id, ts, level, text) VALUES (?, ?, ?, ?, ?)", lines
    )


def _row_to_job(r: dict[str, Any]) -> Job:
    return Job(
        id=r["id"],
        kind=JobKind(r["kind"]),
        state=JobState(r["state"]),
        trigger=JobTrigger(r["trigger"]),
        created_at=parse_ts(r["created_at"]),
        started_at=parse_ts(r["started_at"]),
        finished_at=parse_ts(r["finished_at"]),
        params=json.loads(r["params"]),
        host_count=r.get("host_count") or 0,
    )


def get_job(db: Database, job_id: int) -> Job | None:
    rows = list(
        db.query(
            "SELECT j.*, (SELECT count(*) FROM job_hosts WHERE job_id = j.id) AS host_count "
            "FROM jobs j WHERE j.id = ?",
            [job_id],
        )
    )
    return _row_to_job(rows[0]) if rows else None


def list_jobs(db: Database, limit: int = 200) -> list[Job]:
    return [
        _row_to_job(r)
        for r in db.query(
            "SELECT j.*, (SELECT count(*) FROM job_hosts WHERE job_id = j.id) AS host_count "
            "FROM jobs j ORDER BY j.id DESC LIMIT ?",
            [limit],
        )
    ]


def job_hosts(db: Database, job_id: int) -> list[JobHost]:
    return [
        JobHost(
            job_id=r["job_id"],
            host_id=r["host_id"],
            host_name=r["host_name"],
            state=StepState(r["state"]),
            started_at=parse_ts(r["started_at"]),
            finished_at=parse_ts(r["finished_at"]),
            error=r["error"],
            progress=r["progress"],
        )
        for r in db.query("SELECT * FROM job_hosts WHERE job_id = ? ORDER BY host_name", [job_id])
    ]


def host_history(db: Database, host_id: int, limit: int = 100) -> list[tuple[Job, JobHost]]:
    """The jobs that touched a host, newest first, with the host's step in each."""
    out = []
    for r in db.query(
        "SELECT j.*, jh.state AS step_state, jh.started_at AS step_started, jh.finished_at AS step_finished, "
        "jh.error AS step_error, jh.progress AS step_progress, jh.host_name AS step_host "
        "FROM job_hosts jh JOIN jobs j ON j.id = jh.job_id WHERE jh.host_id = ? ORDER BY j.id DESC LIMIT ?",
        [host_id, limit],
    ):
        job = _row_to_job(r)
        step = JobHost(
            job_id=job.id,
            host_id=host_id,
            host_name=r["step_host"],
            state=StepState(r["step_state"]),
            started_at=parse_ts(r["step_started"]),
            finished_at=parse_ts(r["step_finished"]),
            error=r["step_error"],
            progress=r["step_progress"],
        )
        out.append((job, step))
    return out


#: Per host, the id of its newest finished step (the rule of the "Failed last job" tile, db/tiles.py).
_LAST_STEP_SQL = (
    "SELECT (SELECT x.id FROM job_hosts x WHERE x.host_id = h.id AND x.state NOT IN ('queued', 'running') "
    "ORDER BY x.job_id DESC LIMIT 1) FROM hosts h"
)


def last_jobs(db: Database, host_ids: Iterable[int] | None = None) -> dict[int, LastJob]:
    """Each host's newest finished job step (kind, state, verdict), in one query; hosts without a
    finished step are absent. ``host_ids`` limits it to those hosts."""
    params: list[Any] = []
    inner = _LAST_STEP_SQL
    if host_ids is not None:
        ids = list(host_ids)
        if not ids:
            return {}
        inner += f" WHERE h.id IN ({', '.join('?' * len(ids))})"
        params = ids
    return {
        int(host_id): LastJob(int(job_id), kind, state, verdict)
        for host_id, job_id, kind, state, verdict in db.execute(
            "SELECT jh.host_id, jh.job_id, j.kind, jh.state, jh.verdict FROM job_hosts jh "
            f"JOIN jobs j ON j.id = jh.job_id WHERE jh.id IN ({inner})",
            params,
        )
    }


def log_lines(
    db: Database, job_id: int, host_id: int | None = None, after_id: int = 0, limit: int | None = None
) -> list[tuple[int, LogLine]]:
    """Log lines of a job (optionally one host), with their row ids for incremental reading.

    ``limit`` keeps only the newest lines (still returned oldest first), for views of huge logs.
    """
    sql = "SELECT * FROM job_logs WHERE job_id = ? AND id > ?"
    params: list[Any] = [job_id, after_id]
    if host_id is not None:
        sql += " AND host_id = ?"
        params.append(host_id)
    if limit is not None:
        sql = f"SELECT * FROM ({sql} ORDER BY id DESC LIMIT ?)"
        params.append(limit)
    sql += " ORDER BY id"
    return [
        (
            r["id"],
            LogLine(
                job_id=r["job_id"],
                host_id=r["host_id"],
                ts=parse_ts(r["ts"]) or parse_ts(now_iso()),  # type: ignore[arg-type]
                level=LogLevel(r["level"]),
                text=r["text"],
            ),
        )
        for r in db.query(sql, params)
    ]


def mark_interrupted(db: Database) -> int:
    """After a crash: steps still queued/running and their jobs become ``interrupted``.

    Only jobs whose recorded process is gone are touched, so a second console or a headless
    ``run-due`` that is still working is left alone. Returns the number of host steps marked.
    """
    stale = [
        r["id"]
        for r in db.query("SELECT id, pid FROM jobs WHERE state IN ('queued', 'running')")
        if not pid_alive(r["pid"])
    ]
    if not stale:
        return 0
    marks = ",".join("?" * len(stale))
    at = now_iso()
    with db.atomic():
        cur = db.execute(
            f"UPDATE job_hosts SET state = 'interrupted', finished_at = ?, "
            f"error = COALESCE(error, 'Patchdesk stopped before this host finished.') "
            f"WHERE job_id IN ({marks}) AND state IN ('queued', 'running')",
            [at, *stale],
        )
        db.execute(
            f"UPDATE jobs SET state = 'interrupted', finished_at = ? WHERE id IN ({marks})", [at, *stale]
        )
    return cur.rowcount


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
