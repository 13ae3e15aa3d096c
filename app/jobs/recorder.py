"""The recorder: the single writer that persists job events.

Job threads never touch the database. They hand events to the recorder, whose own thread owns one
connection and writes them in small batches (one transaction per batch, at least every
``flush_interval`` seconds), so a chatty host costs a few transactions a second, not one per line,
and a log line is on disk within a second of being reported.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from app.domain.baseline import DriftRecorded, RemediationRecorded
from app.domain.events import (
    ChangesRecorded,
    Event,
    HealthBaselineTaken,
    HostKeyLearned,
    HostLog,
    HostProgress,
    HostStateChanged,
    JobStateChanged,
    RolledBack,
    ScanRecorded,
    SnapshotTaken,
    VerificationRecorded,
)
from app.domain.models import HostStatus, JobKind, JobState, StepState
from app.domain.outside_changes import HistoryRecorded

if TYPE_CHECKING:
    from db.connection import Database

logger = logging.getLogger(__name__)

#: Jobs after which the compliance snapshot of the day and the first sightings are refreshed.
_COMPLIANCE_KINDS = (JobKind.SCAN, JobKind.PATCH, JobKind.ROLLBACK)

#: Longest log line kept; the rest is cut with a marker so one line cannot bloat the database.
MAX_LOG_LINE = 8192


class _Flush:
    def __init__(self) -> None:
        self.done = threading.Event()


class _Stop:
    pass


class Recorder:
    """Persist events from any thread. ``record`` never blocks on the database."""

    def __init__(
        self,
        db_path: Path | str,
        *,
        flush_interval: float = 0.25,
        max_batch: int = 500,
        job_kinds: dict[int, JobKind] | None = None,
    ) -> None:
        self.db_path = db_path
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self._queue: queue.Queue[Event | _Flush | _Stop] = queue.Queue()
        self._job_kinds: dict[int, JobKind] = dict(job_kinds or {})
        self._kinds_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="patchdesk-recorder", daemon=True)
        self._started = False
        self._error_handler: Callable[[BaseException], None] | None = None
        self.failed: BaseException | None = None

    def start(self) -> Recorder:
        if not self._started:
            self._started = True
            self._thread.start()
        return self

    def on_error(self, handler: Callable[[BaseException], None]) -> None:
        """Called (on the recorder thread) when a batch cannot be written."""
        self._error_handler = handler

    def register_job(self, job_id: int, kind: JobKind) -> None:
        with self._kinds_lock:
            self._job_kinds[job_id] = kind

    def record(self, event: Event) -> None:
        self._queue.put(event)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything recorded so far is written."""
        marker = _Flush()
        self._queue.put(marker)
        return marker.done.wait(timeout)

    def close(self, timeout: float = 10.0) -> None:
        if not self._started:
            return
        self._queue.put(_Stop())
        self._thread.join(timeout)

    # -- recorder thread --------------------------------------------------------------------------

    def _run(self) -> None:
        from db.database import open_database

        db = open_database(self.db_path, migrate=False)
        try:
            stop = False
            while not stop:
                batch: list[Event] = []
                flushes: list[_Flush] = []
                try:
                    item = self._queue.get(timeout=self.flush_interval)
                except queue.Empty:
                    continue
                deadline = _monotonic() + self.flush_interval
                while True:
                    if isinstance(item, _Stop):
                        stop = True
                    elif isinstance(item, _Flush):
                        flushes.append(item)
                    else:
                        batch.append(item)
                    if stop or flushes or len(batch) >= self.max_batch:
                        break
                    try:
                        item = self._queue.get(timeout=max(0.0, deadline - _monotonic()))
                    except queue.Empty:
                        break
                # drain whatever is already queued so a flush covers it
                if stop or flushes:
                    while True:
                        try:
                            extra = self._queue.get_nowait()
                        except queue.Empty:
                            break
                        if isinstance(extra, _Stop):
                            stop = True
                        elif isinstance(extra, _Flush):
                            flushes.append(extra)
                        else:
                            batch.append(extra)
                if batch:
                    self._write(db, batch)
                for f in flushes:
                    f.done.set()
        finally:
            db.conn.close()

    def _write(self, db: object, batch: list[Event]) -> None:
        from db import jobs as db_jobs
        from db.connection import Database

        assert isinstance(db, Database)
        try:
            with db.atomic():
                logs: list[tuple[int, int | None, str, str, str]] = []
                for ev in batch:
                    at = _iso(ev.ts)
                    if isinstance(ev, HostLog):
                        logs.append(_log_row(ev, at))
                        continue
                    if logs:  # keep log order relative to state changes
                        db_jobs.add_log_lines(db, logs)
                        logs = []
                    self._apply(db, ev, at)
                if logs:
                    db_jobs.add_log_lines(db, logs)
        except Exception as exc:
            self.failed = exc
            logger.exception("could not record %d job events", len(batch))
            if self._error_handler:
                self._error_handler(exc)

    def _apply(self, db: Database, ev: Event, at: str) -> None:
        """Store one event other than a log line (inside the batch's transaction)."""
        from db import changes as db_changes
        from db import hosts as db_hosts
        from db import jobs as db_jobs
        from db import scans as db_scans

        if isinstance(ev, HostStateChanged):
            self._host_state(db, ev, at)
        elif isinstance(ev, HostProgress):
            db_jobs.set_host_progress(db, ev.job_id, ev.host_id, ev.fraction)
        elif isinstance(ev, ScanRecorded):
            db_scans.record_scan(db, ev.host_id, ev.job_id, ev.result)
        elif isinstance(ev, HostKeyLearned):
            db_hosts.trust_host_key(db, ev.key)
        elif isinstance(ev, SnapshotTaken):
            db_changes.record_snapshot(db, ev.job_id, ev.host_id, ev.manager, ev.versions)
        elif isinstance(ev, ChangesRecorded):
            db_changes.record_changes(db, ev.job_id, ev.host_id, ev.changes, ev.transaction_id)
        elif isinstance(ev, RolledBack):
            db_changes.mark_rolled_back(db, ev.subject_job_id, ev.host_id, ev.job_id)
        elif isinstance(ev, VerificationRecorded):
            db_changes.record_verification(
                db, ev.job_id, ev.host_id, ev.subject_job_id, ev.verdict, ev.reasons
            )
        elif isinstance(ev, HealthBaselineTaken):
            from db import soak as db_soak

            db_soak.record_baseline(db, ev.job_id, ev.host_id, ev.health)
        elif isinstance(ev, JobStateChanged):
            self._job_state(db, ev)
        elif isinstance(ev, DriftRecorded | RemediationRecorded):
            _baseline_event(db, ev)
        elif isinstance(ev, HistoryRecorded):
            _record_history(db, ev)

    def _host_state(self, db: Database, ev: HostStateChanged, at: str) -> None:
        from db import jobs as db_jobs
        from db import scans as db_scans

        db_jobs.set_host_state(db, ev.job_id, ev.host_id, ev.state, ev.error, at)
        if self._kind(ev.job_id) == JobKind.SCAN and ev.state in (StepState.FAILED, StepState.UNREACHABLE):
            status = HostStatus.UNREACHABLE if ev.state == StepState.UNREACHABLE else HostStatus.FAILED
            db_scans.record_scan_failure(db, ev.host_id, ev.job_id, status, ev.error or "")

    def _job_state(self, db: Database, ev: JobStateChanged) -> None:
        from db import compliance_history as db_compliance_history
        from db import jobs as db_jobs

        db_jobs.set_job_state(db, ev.job_id, ev.state)
        ended = ev.state not in (JobState.QUEUED, JobState.RUNNING)
        if ended and self._kind(ev.job_id) in _COMPLIANCE_KINDS:
            # the dashboard's trend and "urgent update appeared" alerts read this
            db_compliance_history.after_job(db, ev.job_id)

    def _kind(self, job_id: int) -> JobKind | None:
        with self._kinds_lock:
            return self._job_kinds.get(job_id)


def _baseline_event(db: Database, ev: DriftRecorded | RemediationRecorded) -> None:
    """Drift results (audited as they appear and end, in the job's user's name) and remediations."""
    from db import baselines as db_baselines

    if isinstance(ev, DriftRecorded):
        actor = db_baselines.job_actor(db, ev.job_id)
        db_baselines.record_drift(db, ev.job_id, ev.host_id, ev.results, actor)
    else:
        db_baselines.record_remediation(db, ev.job_id, ev)


#: Outside changes written to the audit log one by one per host and scan; beyond that, one entry counts
#: the rest (a host whose history was rewritten must not flood the chain).
MAX_AUDITED = 50


def _record_history(db: Database, ev: HistoryRecorded) -> None:
    """Store a host's package history; every change no Patchdesk job made goes to the audit log."""
    from db import audit as db_audit
    from db import outside_changes as db_outside

    new = db_outside.record_history(db, ev.job_id, ev.host_id, ev.read)
    for row in new[:MAX_AUDITED]:
        details = {
            "name": row.name,
            "from": row.from_version,
            "to": row.to_version,
            "when": row.when.isoformat(),
            "manager": row.manager,
            "action": row.action,
            "seen_by_job": ev.job_id,
        }
        db_audit.append(db, "change.outside", row.host, details, "outside Patchdesk")
    if len(new) > MAX_AUDITED:
        more = {"count": len(new) - MAX_AUDITED, "seen_by_job": ev.job_id}
        db_audit.append(db, "change.outside", new[0].host, more, "outside Patchdesk")


def _log_row(ev: HostLog, at: str) -> tuple[int, int | None, str, str, str]:
    """A log line as stored: overlong text is cut with a marker saying how much."""
    text = ev.text
    if len(text) > MAX_LOG_LINE:
        text = text[:MAX_LOG_LINE] + f" … [{len(ev.text) - MAX_LOG_LINE} characters cut]"
    return (ev.job_id, ev.host_id, at, str(ev.level), text)


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")


def _monotonic() -> float:
    import time

    return time.monotonic()
