"""Job control for the main window: starting scans, patches, verifications and rollbacks, cancelling
them, and following their events until the database holds their final state.

The jobs run on the job engine's threads (in the job worker process), one at a time; this controller
only starts them (job rows are created on the main thread, which is quick) and follows their events
through the window's EventBridge. Host rows are re-read from the database on a short throttle timer
while a job runs, and once more after the recorder has flushed the job's last events (waited for on
a pool thread), so the final state is always what the database says.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Slot
from PySide6.QtWidgets import QMessageBox

from app.domain.compliance import LastJob
from app.domain.errors import PatchdeskError
from app.domain.events import (
    ChangesRecorded,
    Event,
    HostStateChanged,
    JobStateChanged,
    RolledBack,
    ScanRecorded,
    VerificationRecorded,
)
from app.domain.models import Host, JobState, StepState
from app.jobs.engine import JobHandle
from app.services import audit
from db import changes as db_changes
from db import database as db_database
from db import hosts as db_hosts
from db import jobs as db_jobs
from ui.messages import show_error, show_known_error
from ui.workers import submit, with_own_db

if TYPE_CHECKING:
    from ui.dialogs.patch_dialog import PatchDialog, PatchRequest
    from ui.main_window import MainWindow

logger = logging.getLogger(__name__)

#: How often host rows are re-read from the database while a job reports changes.
ROW_REFRESH_MS = 300
#: How long to wait, after a job ends, for its handle and for the recorder to flush.
FINAL_FLUSH_TIMEOUT = 15.0
#: A row refresh of more hosts than this (a job's end) reads them on a pool thread and applies them
#: to the inventory ROW_CHUNK at a time, one event-loop turn each: at 1,000 hosts the job's end was
#: one piece of 73 ms of main-thread CPU, 25 ms with this (bench/gui_scale.py (e)).
ROWS_ON_MAIN = 50
ROW_CHUNK = 100
#: A job of more hosts than this starts off the main thread even with the worker up: sending the
#: hosts and waiting for the worker to create a step row each took the click 1.4 s at 1,000 hosts on
#: a loaded machine (bench/gui_scale.py (e)); a few hosts start on the spot, handle in hand.
START_ON_MAIN = 100
#: What a host's Status says while a job of this kind works on it (only then).
VERBS = {"Scan": "scanning…", "Patch": "patching…", "Verify": "verifying…", "Rollback": "rolling back…"}


class JobsController(QObject):
    """Starts the window's jobs and keeps the inventory, the detail pane and the status bar in step
    with them. The window exposes ``jobs``, ``active_job`` and ``starting`` from here."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.win = window
        self.jobs: dict[int, JobHandle] = {}
        #: job id -> what it does ("Scan", "Patch", "Verify", "Rollback"), for the Status column's verb
        self.verbs: dict[int, str] = {}
        self.active_job: JobHandle | None = None
        #: what is being started while the job worker comes up ("Scan", ...), else None
        self.starting: str | None = None
        self._dirty: set[int] = set()
        #: hosts this controller shows as busy (their step runs): only these are cleared at a job's end
        self._busy: set[int] = set()
        #: row reads in the order they began, and per host the newest one applied to its row: a
        #: pool thread's read that lands after a newer read of the same host is not applied over it
        self._row_seq = 0
        self._row_seen: dict[int, int] = {}
        self._row_timer = QTimer(self)
        self._row_timer.setSingleShot(True)
        self._row_timer.setInterval(ROW_REFRESH_MS)
        self._row_timer.timeout.connect(self._refresh_dirty_rows)

    @property
    def runner(self):  # type: ignore[no-untyped-def]
        return self.win.runner

    def is_busy(self) -> bool:
        """A job runs, or one is being started: nothing else may start, no host may be removed."""
        return self.win.job_panel.is_running() or self.starting is not None

    def running_host_ids(self) -> list[int]:
        """The hosts of the shown job whose step is running now (their rows show as busy)."""
        out = []
        for h in self.win.job_panel.steps_model._steps:
            if h.state == StepState.RUNNING and h.host.id is not None:
                out.append(h.host.id)
        return out

    def mark_running_hosts(self) -> None:
        """After a reload: the running job's hosts show its verb again."""
        job = self.active_job
        what = self.verbs.get(job.job_id, "Scan") if job is not None else "Scan"
        ids = self.running_host_ids()
        self._busy.update(ids)
        self.win.inventory.model.set_busy(ids, True, verb=VERBS.get(what, "working…"))

    def stop(self) -> None:
        """The window closes: no more row refreshes."""
        self._row_timer.stop()

    def cancel_running_for_quit(self) -> bool:
        """Before the window closes: ask whether to cancel a running job, and cancel it (False: the
        user keeps the window open)."""
        running = [h for h in self.jobs.values() if not h.done.is_set()]
        if not running:
            return True
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Quit Patchdesk",
            "A job is still running. Cancel it and quit? Hosts not finished are recorded as cancelled.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            self.win,
        )
        if box.exec() != QMessageBox.StandardButton.Yes:
            return False
        for h in running:
            h.cancel()
        for h in running:
            h.wait(5.0)
        return True

    # -- scanning -------------------------------------------------------------------------------

    @Slot()
    def scan_selected(self) -> None:
        hosts = self.win.inventory.selected_hosts()
        if not hosts:
            self.win.statusBar().showMessage("Select the hosts to scan first.", 5000)
            return
        self.start_scan(hosts)

    @Slot()
    def scan_all(self) -> None:
        hosts = db_hosts.list_hosts(self.win.db)
        if not hosts:
            self.win.statusBar().showMessage("The inventory is empty.", 5000)
            return
        self.start_scan(hosts)

    def start_scan(self, hosts: Sequence[Host]) -> JobHandle | None:
        if not self.can_start():
            return None
        refresh = self.win.refresh_check.isChecked()
        runner, db = self.runner, self.win.db

        def started(handle: JobHandle) -> None:
            self._begin_job(handle, hosts, "Scan")
            self.win.statusBar().showMessage(f"Scanning {len(hosts)} host(s)…", 4000)

        return self._start_job(
            "Scan",
            lambda: runner.start_scan(db, list(hosts), refresh=refresh, accept_new_keys=False),
            started,
            size=len(hosts),
        )

    def _start_job(
        self,
        what: str,
        start: Callable[[], JobHandle],
        started: Callable[[JobHandle], None],
        error_title: str = "Patchdesk",
        *,
        size: int = 1,
    ) -> JobHandle | None:
        """Start a job of ``size`` hosts through the runner and begin showing it.

        With the job worker up (the usual case; it answers in a few milliseconds) on the spot, and the
        handle is returned. While the worker is still coming up (the first second after launch, or
        after it stopped), or for a job of more than START_ON_MAIN hosts, the wait for it happens off
        the main thread -- the window stays live and says so -- and the job begins when the worker
        answers (None is returned)."""
        win = self.win
        ready = self.runner.ready()
        if ready and size <= START_ON_MAIN:
            try:
                handle = start()
            except PatchdeskError as exc:
                show_known_error(win, exc, error_title)
                return None
            started(handle)
            return handle
        self.starting = what
        win.update_actions()  # nothing else starts meanwhile
        if ready:
            win.statusBar().showMessage(f"{what}: starting the job for {size} hosts…")
        else:
            win.statusBar().showMessage(f"{what}: waiting for the job worker to start…")
            logger.info("%s: the job worker is not up yet; starting off the main thread", what.lower())

        def begin(handle: JobHandle) -> None:
            self.starting = None
            win.statusBar().clearMessage()
            if win.closed:  # closed meanwhile: the runner's close cancels it
                handle.cancel()
                return
            started(handle)

        def failed(exc: BaseException) -> None:
            self.starting = None
            win.statusBar().clearMessage()
            if not win.closed:
                win.update_actions()
            if not isinstance(exc, PatchdeskError):
                raise exc  # a bug: the crash hook shows it
            if not win.closed:
                show_known_error(win, exc, error_title)

        submit(win, start, begin, failed)
        return None

    def _begin_job(self, handle: JobHandle, hosts: Sequence[Host], what: str) -> None:
        win = self.win
        self.jobs[handle.job_id] = handle
        self.verbs[handle.job_id] = what
        self.active_job = handle
        win.show_inventory()  # the job's hosts, their detail and its live log
        win.job_panel.start_job(handle, hosts, what)
        win.update_actions()
        if win.detail.host is not None and win.detail.host.id in {h.id for h in hosts}:
            win.detail.refresh()  # the new job shows in the History tab at once
        logger.info("started %s job %d of %d hosts", what.lower(), handle.job_id, len(hosts))

    def can_start(self) -> bool:
        if self.runner is None:
            return False
        if self.is_busy():
            self.win.statusBar().showMessage("A job is already running; wait for it or cancel it.", 5000)
            return False
        return True

    # -- patch, verify, rollback --------------------------------------------------------------------

    @Slot()
    def patch_selected(self) -> None:
        win = self.win
        hosts = win.inventory.selected_hosts() or db_hosts.list_hosts(win.db)
        if not hosts:
            win.statusBar().showMessage("The inventory is empty.", 5000)
            return
        if not self.can_start():
            return
        hosts = [win.fresh_host(h.id) or h for h in hosts]
        from ui.dialogs.patch_dialog import PatchDialog

        dlg = PatchDialog(win.db, self.runner, hosts, win)
        win.open_dialog(dlg, lambda: self._patch_confirmed(dlg))

    @Slot(list, list)
    def patch_update(self, host_ids: list[int], packages: list[str]) -> PatchDialog | None:
        """The Updates tab's Patch: the patch preview for those hosts with only those packages
        checked. None when nothing can be chosen by name (the dialog would fall back to classes)."""
        win = self.win
        hosts = [h for hid in host_ids if (h := win.fresh_host(hid)) is not None]
        if not hosts or not self.can_start():
            return None
        from ui.dialogs.patch_dialog import PatchDialog

        dlg = PatchDialog(win.db, self.runner, hosts, win)
        dlg.set_packages(packages)
        if dlg.chosen_packages() is None:
            dlg.deleteLater()
            win.statusBar().showMessage(
                f"{', '.join(packages[:3])} cannot be chosen by name (a package new to the hosts); "
                "use Patch… with a classification instead.",
                10000,
            )
            return None
        win.open_dialog(dlg, lambda: self._patch_confirmed(dlg))
        return dlg

    def _patch_confirmed(self, dlg: PatchDialog) -> None:
        if dlg.request is not None:
            self.start_patch(dlg.request)

    def start_patch(self, request: PatchRequest) -> JobHandle | None:
        if not request.hosts or not self.can_start():
            return None
        runner, db = self.runner, self.win.db

        def started(handle: JobHandle) -> None:
            audit.patch_started(
                db, [h.name for h in request.hosts], handle.job_id, changes=request.change_count
            )
            self._begin_job(handle, request.hosts, "Patch")
            self.win.statusBar().showMessage(
                f"Patching {len(request.hosts)} host(s): {request.change_count} change(s)…", 5000
            )

        return self._start_job(
            "Patch",
            lambda: runner.start_patch(
                db, list(request.hosts), request.selections, reboot=request.reboot, verify=request.verify
            ),
            started,
            size=len(request.hosts),
        )

    @Slot()
    def verify_selected(self) -> None:
        hosts = self.win.inventory.selected_hosts()
        if hosts:
            self.start_verify(hosts)
        else:
            self.win.statusBar().showMessage("Select the hosts to verify first.", 5000)

    @Slot(object)
    def verify_host(self, host: Host) -> None:
        self.start_verify([host])

    def start_verify(self, hosts: Sequence[Host]) -> JobHandle | None:
        if not self.can_start():
            return None
        hosts = [self.win.fresh_host(h.id) or h for h in hosts]
        runner, db = self.runner, self.win.db

        def started(handle: JobHandle) -> None:
            self._begin_job(handle, hosts, "Verify")
            self.win.statusBar().showMessage(f"Verifying {len(hosts)} host(s)…", 4000)

        return self._start_job("Verify", lambda: runner.start_verify(db, hosts), started, size=len(hosts))

    @Slot()
    def rollback_selected(self) -> None:
        """Roll back each selected host's newest patch that is not rolled back yet."""
        from app.jobs.selection import rollback_request

        win = self.win
        hosts = [win.fresh_host(h.id) or h for h in win.inventory.selected_hosts()]
        if not hosts or not self.can_start():
            return
        requests, skipped = [], []
        for h in hosts:
            assert h.id is not None
            if db_changes.last_patch_job(win.db, h.id) is None:
                skipped.append(f"{h.name} has no patch to roll back.")
                continue
            try:
                requests.append((h, rollback_request(win.db, h, None)))
            except PatchdeskError as exc:
                skipped.append(str(exc))
        if not requests:
            show_error(win, "\n".join(skipped), "Nothing to roll back")
            return
        from ui.dialogs.rollback_dialog import RollbackDialog

        dlg = RollbackDialog(requests, skipped, win)
        win.open_dialog(dlg, lambda: self.start_rollback(dlg.hosts(), None))

    @Slot(object, int)
    def rollback_job(self, host: Host, job_id: int) -> None:
        """Roll back patch job ``job_id`` on ``host`` (the History tab's button)."""
        if not self.can_start():
            return
        from app.jobs.selection import rollback_request

        win = self.win
        host = win.fresh_host(host.id) or host
        try:
            req = rollback_request(win.db, host, job_id)
        except PatchdeskError as exc:
            show_known_error(win, exc, "Nothing to roll back")
            return
        from ui.dialogs.rollback_dialog import RollbackDialog

        dlg = RollbackDialog([(host, req)], (), win)
        win.open_dialog(dlg, lambda: self.start_rollback([host], job_id))

    def start_rollback(self, hosts: Sequence[Host], job_id: int | None) -> JobHandle | None:
        if not self.can_start():
            return None
        runner, db = self.runner, self.win.db

        def started(handle: JobHandle) -> None:
            audit.rollback_started(db, [h.name for h in hosts], handle.job_id, job_id)
            self._begin_job(handle, hosts, "Rollback")
            self.win.statusBar().showMessage(f"Rolling back {len(hosts)} host(s)…", 4000)

        # an error (e.g. rolled back meanwhile) is a sentence, nothing started
        return self._start_job(
            "Rollback",
            lambda: runner.start_rollback(db, list(hosts), job_id=job_id),
            started,
            "Nothing to roll back",
            size=len(hosts),
        )

    @Slot()
    def cancel_job(self) -> None:
        if self.active_job is not None and not self.active_job.done.is_set():
            self.win.job_panel._cancel()

    # -- following a job ----------------------------------------------------------------------------

    @Slot(list)
    def on_events(self, events: list[Event]) -> None:
        if self.win.closed:
            return
        ended: list[int] = []
        model = self.win.inventory.model
        for ev in events:
            if ev.job_id not in self.jobs:
                continue
            if isinstance(ev, HostStateChanged):
                verb = VERBS.get(self.verbs.get(ev.job_id, ""), "working…")
                running = ev.state == StepState.RUNNING
                (self._busy.add if running else self._busy.discard)(ev.host_id)
                model.set_busy([ev.host_id], running, verb=verb)
                if ev.state.finished:
                    self._dirty.add(ev.host_id)
            elif isinstance(ev, (ScanRecorded, VerificationRecorded, ChangesRecorded, RolledBack)):
                self._dirty.add(ev.host_id)
            elif isinstance(ev, JobStateChanged) and ev.state in (
                JobState.FINISHED,
                JobState.CANCELLED,
                JobState.INTERRUPTED,
            ):
                ended.append(ev.job_id)
        if self._dirty and not self._row_timer.isActive():
            self._row_timer.start()
        for job_id in ended:
            self._job_ended(job_id)

    @Slot()
    def _refresh_dirty_rows(self) -> None:
        if self.win.closed:
            return
        ids, self._dirty = self._dirty, set()
        self._refresh_rows(ids)

    def _refresh_rows(self, ids: set[int]) -> None:
        """Re-read these hosts' rows and last jobs on the main thread (a few hosts: quick)."""
        self._row_seq += 1
        fresh, jobs = _read_rows(self.win.db, ids)
        self._apply_rows(self._row_seq, ids, fresh, jobs)

    def _refresh_rows_soon(self, ids: set[int]) -> None:
        """Re-read many hosts' rows on a pool thread, then apply them a chunk per event-loop turn."""
        path = db_database.database_file(self.win.db)
        if path is None or len(ids) <= ROWS_ON_MAIN:  # an in-memory database has no second connection
            self._refresh_rows(ids)
            return
        self._row_seq += 1
        seq = self._row_seq

        def read() -> tuple[list[Host], dict[int, LastJob]]:
            return with_own_db(path, None, lambda db: _read_rows(db, ids))  # type: ignore[no-any-return]

        def got(found: tuple[list[Host], dict[int, LastJob]]) -> None:
            self._apply_in_chunks(seq, sorted(ids), found[0], found[1])

        def failed(exc: BaseException) -> None:
            logger.warning("host rows not re-read off the main thread (%s); reading them here", exc)
            if not self.win.closed:
                self._refresh_rows(ids)

        submit(self.win, read, got, failed)

    def _apply_in_chunks(self, seq: int, ids: list[int], fresh: list[Host], jobs: dict[int, LastJob]) -> None:
        if self.win.closed:
            return
        chunk, rest = set(ids[:ROW_CHUNK]), ids[ROW_CHUNK:]
        self._apply_rows(
            seq,
            chunk,
            [h for h in fresh if h.id in chunk],
            {k: v for k, v in jobs.items() if k in chunk},
        )
        if rest:
            QTimer.singleShot(0, self, lambda: self._apply_in_chunks(seq, rest, fresh, jobs))

    def _apply_rows(self, seq: int, ids: set[int], fresh: list[Host], jobs: dict[int, LastJob]) -> None:
        """Show rows read for ``ids`` (read number ``seq``) unless a newer read of a host came first."""
        win = self.win
        if win.closed:
            return
        seen = self._row_seen
        ids = {hid for hid in ids if seen.get(hid, 0) < seq}
        if not ids:
            return
        for hid in ids:
            seen[hid] = seq
        rows = [h for h in fresh if h.id in ids]
        win.inventory.update_hosts(rows, {k: v for k, v in jobs.items() if k in ids})
        if win.detail.host is not None and win.detail.host.id in ids:
            # the row just read (None when the host was removed meanwhile)
            shown = win.detail.host.id
            win.detail.show_host(next((h for h in rows if h.id == shown), None))
        win.update_summary()

    def _job_ended(self, job_id: int) -> None:
        handle = self.jobs.get(job_id)
        if handle is None:
            return
        runner = self.runner
        self.win.update_actions()

        def settle() -> bool:  # pool thread: the handle settles right after the event; then flush
            handle.wait(FINAL_FLUSH_TIMEOUT)
            if getattr(handle, "flushed", False):  # the job worker flushed before it said done
                return True
            return runner.flush(FINAL_FLUSH_TIMEOUT) if runner is not None else True

        submit(self.win, settle, lambda ok: self._job_persisted(handle, bool(ok)))

    def _job_persisted(self, handle: JobHandle, flushed: bool) -> None:
        win = self.win
        if win.closed:
            return
        if not flushed:
            logger.warning("job %d: the recorder did not flush in time; rows may lag", handle.job_id)
        # the figures first: their query runs on a pool thread while the rows are brought up to date
        win.dashboard.refresh_at_once()
        ids = {h.id for h in handle.hosts if h.id is not None}
        still = self._busy & ids  # hosts whose step never said it ended (the others were cleared then)
        self._busy -= still
        win.inventory.model.set_busy(still, False)
        self._refresh_rows_soon(ids)
        panel = win.job_panel
        counts = panel.counts() if panel.handle is handle else {}
        ok = counts.get(StepState.SUCCEEDED, 0)
        bad = len(ids) - ok
        verdicts = [panel.verdict(hid)[0] for hid in ids] if counts else []
        seen = {v: verdicts.count(v) for v in ("green", "amber", "red") if v in verdicts}
        what = panel.what or "Job"
        text = f"{what} job #{handle.job_id} finished: {ok} ok" + (f", {bad} not ok" if bad else "")
        if seen:
            text += "; verification " + ", ".join(f"{n} {v}" for v, n in seen.items())
        win.statusBar().showMessage(text + ".", 10000)
        win.update_actions()
        win.sync_job_panel()
        win.tray_control.raise_alerts(handle)
        win.host_keys.offer(handle)


def _read_rows(db: Any, ids: set[int]) -> tuple[list[Host], dict[int, LastJob]]:
    """The hosts' rows (one query per 500) and their last jobs (one query)."""
    return db_hosts.get_hosts(db, ids), db_jobs.last_jobs(db, ids)
