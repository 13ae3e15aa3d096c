"""Changes made outside Patchdesk, for the faces: per host (``patchdesk changes``, the host detail,
``drift --json``) and for the change log export, where each row says which job authorized it or that
it was made outside Patchdesk.

The scan gathers and stores the history (app/jobs/tasks.py, db/outside_changes.py); this module only
reads. Whether a host's history could be read is part of every answer: an unknown history is never
presented as "no outside changes".
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.domain.models import ChangeLogEntry, Host
from app.domain.outside_changes import HistoryStatus
from app.reports.calendar import CSV_COLUMNS
from db import outside_changes as db_outside
from db.connection import Database


@dataclass(frozen=True)
class HostChanges:
    """A host's package history as read by its scans: whether it could be read, and the entries."""

    host: str
    status: str  # ok | partial | unknown | never (no scan has read it yet)
    note: str
    read_at: datetime | None
    rows: tuple[db_outside.HistoryRow, ...]

    @property
    def known(self) -> bool:
        return self.status in (HistoryStatus.OK, HistoryStatus.PARTIAL)

    def as_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "history": {
                "status": self.status,
                "note": self.note,
                "read_at": self.read_at.isoformat() if self.read_at else None,
            },
            "changes": [r.as_dict() for r in self.rows],
        }


def host_changes(
    db: Database, host: Host, *, since: datetime | None = None, outside_only: bool = False
) -> HostChanges:
    """The host's history entries (oldest first), each with the job that made it or none (outside)."""
    assert host.id is not None
    st = db_outside.state(db, host.id)
    rows = db_outside.history(db, host.id, since=since, outside_only=outside_only)
    if st is None:
        return HostChanges(
            host.name, "never", "no scan has read this host's package history yet", None, tuple(rows)
        )
    return HostChanges(host.name, str(st.status), st.note, st.read_at, tuple(rows))


def outside_changes_for_host(db: Database, host: Host) -> list[dict[str, Any]]:
    """The changes no Patchdesk job made on ``host``: ``[{"name", "from", "to", "when"}]``, oldest first.

    An empty list means "none" only when :func:`outside_changes_status` is "ok": put that status beside
    the list (``drift --json`` does), since an unreadable history has no list to give.
    """
    return [
        {"name": r.name, "from": r.from_version, "to": r.to_version, "when": r.when.isoformat()}
        for r in host_changes(db, host, outside_only=True).rows
    ]


def outside_changes_status(db: Database, host: Host) -> str:
    """ "ok", "partial" (older entries could not be read), "unknown" (the last read failed) or "never"."""
    assert host.id is not None
    st = db_outside.state(db, host.id)
    return "never" if st is None else str(st.status)


def change_log_csv(entries: Sequence[ChangeLogEntry], outside: Sequence[db_outside.HistoryRow]) -> str:
    """The change log as CSV: Patchdesk's own change records, then the changes made outside it, with an
    ``authorized`` column ("job N" or "outside")."""
    from app.reports.calendar import changes_csv

    text = changes_csv(entries)
    rows = list(csv.reader(io.StringIO(text)))
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([*CSV_COLUMNS, "authorized"])
    for row, job in zip(rows[1:], _jobs_of(entries), strict=True):
        w.writerow([*row, f"job {job}"])
    for r in outside:
        cells = {
            "finished_utc": r.when.astimezone(UTC).isoformat(),
            "host": _csv_safe(r.host),
            "job": "",
            "kind": "outside",
            "manager": r.manager,
            "package": _csv_safe(r.name),
            "action": r.action,
            "from_version": _csv_safe(r.from_version or ""),
            "to_version": _csv_safe(r.to_version or ""),
        }
        w.writerow([*(cells.get(c, "") for c in CSV_COLUMNS), "outside"])
    return buf.getvalue()


def _jobs_of(entries: Sequence[ChangeLogEntry]) -> list[int]:
    return [e.job_id for e in entries for _ in e.changes]


def _csv_safe(value: str) -> str:
    """Names come from hosts: never let one start a spreadsheet formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def outside_events(outside: Sequence[db_outside.HistoryRow]) -> list[tuple[str, datetime, str, str]]:
    """The changes made outside Patchdesk as calendar events for ``export changes --format ics``."""
    out = []
    for i, r in enumerate(outside):
        what = f"{r.action} {r.name} {r.from_version or '-'} -> {r.to_version or '-'}"
        out.append(
            (
                f"outside-{r.host}-{int(r.when.timestamp())}-{i}",
                r.when,
                f"Outside Patchdesk on {r.host}: {what}",
                f"not made by any Patchdesk job ({r.manager} history, seen by job {r.seen_job})\n{what}",
            )
        )
    return out
