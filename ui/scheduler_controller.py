"""The scheduler while the console is open: due work (scans, promotions, urgent pushes, maintenance
windows) runs every minute on a thread of its own.

``run_due`` blocks while its jobs run and takes the database lock, so it never does the same work as a
concurrent `patchdesk run-due`. Off without a runner; ``PATCHDESK_SCHEDULER=off`` turns it off (the UI
tests do).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QThreadPool, QTimer, Slot

from app.domain.errors import PatchdeskError
from ui.workers import submit

if TYPE_CHECKING:
    from ui.main_window import MainWindow

logger = logging.getLogger(__name__)

#: How often the console runs due work (scans, promotions, urgent pushes, windows) while open.
SCHEDULER_INTERVAL_MS = 60_000
#: The first pass, shortly after start (catching up on what fell due while it was closed).
SCHEDULER_FIRST_MS = 15_000


class SchedulerController(QObject):
    def __init__(self, window: MainWindow, enabled: bool | None) -> None:
        super().__init__(window)
        self.win = window
        if enabled is None:
            setting = os.environ.get("PATCHDESK_SCHEDULER", "on").strip().lower()
            enabled = setting not in ("0", "off", "no", "false")
        self.enabled = bool(enabled) and window.runner is not None
        #: a pass is running on the scheduler's thread
        self.busy = False
        self.due_reports: list[object] = []  # app.jobs.scheduler.DueReport, newest last (tests)
        self._pool = QThreadPool(window)
        self._pool.setMaxThreadCount(1)
        self.timer = QTimer(window)
        self.timer.setInterval(SCHEDULER_INTERVAL_MS)
        self.timer.timeout.connect(window.run_due_now)
        if self.enabled:
            self.timer.start()
            QTimer.singleShot(SCHEDULER_FIRST_MS, window.run_due_now)
            window.lazy_tabs.set_scheduler_status(
                "Every minute while Patchdesk is open (and from the tray), the scheduler starts the scans, "
                "promotions, urgent pushes and maintenance-window patches that are due."
            )
        else:
            window.lazy_tabs.set_scheduler_status(
                "The scheduler is off in this console; scheduled scans and patches run with "
                "`patchdesk run-due` (cron, a systemd timer or Windows Task Scheduler)."
            )

    def stop(self) -> None:
        """The window closes: no more passes (one already running finishes on its thread)."""
        self.timer.stop()

    @Slot()
    def run_due_now(self) -> None:
        """One scheduler pass on the scheduler's thread; skipped while one runs or a job of ours runs."""
        win = self.win
        if win.closed or self.busy or win.runner is None:
            return
        if win.job_panel.is_running():
            logger.info("scheduler pass skipped: a job started from the window is running")
            return
        db_path = win.dashboard.db_path
        if not db_path:
            return
        from app.jobs.scheduler import run_due

        runner, secrets = win.runner, win.secrets
        self.busy = True

        def work() -> object:
            from app.services.host_policy import record_pass_auto_rollbacks

            report = run_due(db_path, runner=runner, secrets=secrets, owner="Patchdesk console")
            record_pass_auto_rollbacks(db_path, report.patches)
            return report

        submit(win, work, self._due_done, self._due_failed, pool=self._pool)

    def _due_done(self, report) -> None:  # type: ignore[no-untyped-def]
        self.busy = False
        win = self.win
        if win.closed:
            return
        self.due_reports.append(report)
        from datetime import datetime

        at = datetime.now().strftime("%H:%M")
        if report.locked_by:
            text = f"Scheduler pass at {at}: another scheduler is running due work ({report.locked_by})."
        else:
            did = [
                f"{len(report.scans)} scan(s)" if report.scans else "",
                f"{len(report.promotions)} promotion(s)" if report.promotions else "",
                f"{len(report.patches)} patch run(s)" if report.patches else "",
                f"{len(report.deferred)} deferred" if report.deferred else "",
                f"{len(report.soak)} soak check(s)" if report.soak else "",
            ]
            done = ", ".join(d for d in did if d)
            text = f"Scheduler pass at {at}: " + (done or "nothing due") + "."
        win.lazy_tabs.set_scheduler_status(text)
        from app.services import alerts as app_alerts

        win.tray_control.show_alerts(app_alerts.soak_alerts(report.soak))  # red or blind soak checks
        if report.scans or report.patches or report.promotions or report.soak:
            win.statusBar().showMessage(text, 10000)
            win.reload_hosts()
            win.lazy_tabs.reload_schedule_if_shown()

    def _due_failed(self, exc: BaseException) -> None:
        self.busy = False
        win = self.win
        if win.closed:
            return
        if isinstance(exc, PatchdeskError):
            win.lazy_tabs.set_scheduler_status(f"The scheduler pass failed: {exc}")
            logger.warning("scheduler pass failed: %s", exc)
            return
        logger.error("scheduler pass failed", exc_info=(type(exc), exc, exc.__traceback__))
        win.lazy_tabs.set_scheduler_status(f"The scheduler pass failed (see the log): {exc}")
