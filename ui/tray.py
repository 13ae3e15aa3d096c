"""The tray icon and the alerts a finished job raises (tray balloons and, when set up, e-mail).

The tray is what keeps the console's scheduler reachable when the window is closed; without a system
tray (or offscreen) alerts show in the status bar instead.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from app.domain.errors import PatchdeskError
from app.jobs.engine import JobHandle
from ui.resources import app_icon
from ui.workers import submit

if TYPE_CHECKING:
    from app.services import alerts as app_alerts
    from ui.main_window import MainWindow

logger = logging.getLogger(__name__)


class TrayController(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.win = window
        self.tray: QSystemTrayIcon | None = None
        #: app.services.alerts.Alert, newest last (tests, the tray's history)
        self.alerts_shown: list[object] = []
        self._told_tray = False
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(app_icon(), window)
            self.tray.setToolTip("Patchdesk")
            menu = QMenu(window)
            menu.addAction("Show Patchdesk", window.show_from_tray)
            # plain words for `patchdesk run-due`: what the scheduler would do at its next pass (#23 item 9)
            menu.addAction("Run scheduled scans and patches now", window.run_due_now)
            menu.addSeparator()
            menu.addAction("Quit", window.quit_app)
            self.tray.setContextMenu(menu)
            self.tray.activated.connect(self._tray_activated)
            self.tray.show()

    @Slot(QSystemTrayIcon.ActivationReason)
    def _tray_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.win.show_from_tray()

    def tell_keeps_running(self) -> None:
        """The window was closed into the tray: say once that the scheduler goes on from there."""
        if self.tray is None or self._told_tray:
            return
        self._told_tray = True
        self.tray.showMessage(
            "Patchdesk keeps running",
            "Scheduled scans, urgent pushes and maintenance windows go on from the tray. "
            "Use Quit in its menu to stop them.",
            QSystemTrayIcon.MessageIcon.Information,
            8000,
        )

    def notify(self, alert: app_alerts.Alert) -> None:
        """The desktop side of an alert: the tray balloon (or the status bar without a tray)."""
        from app.services import alerts as app_alerts

        self.alerts_shown.append(alert)
        icon_kind = (
            QSystemTrayIcon.MessageIcon.Critical
            if alert.kind
            in (
                app_alerts.AlertKind.JOB_FAILED,
                app_alerts.AlertKind.VERIFICATION_RED,
                app_alerts.AlertKind.HOST_KEY_CHANGED,
                app_alerts.AlertKind.SOAK_RED,
                app_alerts.AlertKind.AUTO_ROLLBACK,
            )
            else QSystemTrayIcon.MessageIcon.Warning
        )
        if self.tray is not None:
            self.tray.showMessage(alert.title, alert.message, icon_kind, 15000)
        else:
            self.win.statusBar().showMessage(f"{alert.title}: {alert.message}", 15000)

    def raise_alerts(self, handle: JobHandle) -> None:
        """The alerts of a job that just ended: on the desktop, and by mail off the main thread."""
        from app.services import alerts as app_alerts
        from app.services import host_policy

        win = self.win
        try:
            # a patch that rolled hosts back on red is audited once its events are recorded
            host_policy.record_auto_rollbacks(win.db, handle.job_id)
            changes = app_alerts.key_changes_from_outcomes(handle.outcomes.values())
            found = app_alerts.job_alerts(win.db, handle.job_id, changes)
        except PatchdeskError as exc:
            logger.warning("alerts for job %d not computed: %s", handle.job_id, exc)
            return
        self.show_alerts(found)

    def show_alerts(self, found: list[app_alerts.Alert]) -> None:
        """Alerts on the desktop, and by mail off the main thread (a job's, or a scheduler pass's soak
        checks)."""
        from app.services import alerts as app_alerts

        win = self.win
        if not found:
            return
        try:  # kept in the alerts list until acknowledged, whatever the desktop setting says
            app_alerts.record(win.db, found)
        except PatchdeskError as exc:
            logger.warning("alerts not kept in the list: %s", exc)
        win.alerts.refresh()
        if app_alerts.desktop_enabled(win.db):
            for a in found:
                win.notify(a)
        settings = app_alerts.email_settings(win.db)
        if settings.enabled:
            db_path = win.dashboard.db_path
            secrets = win.secrets

            def mail() -> list[str]:  # pool thread: SMTP with its own timeout, own connection
                from db.database import open_database

                own = open_database(db_path, migrate=False) if db_path else None
                try:
                    return app_alerts.deliver(own, found, secrets=secrets, settings=settings) if own else []
                finally:
                    if own is not None:
                        own.conn.close()

            submit(
                win,
                mail,
                lambda problems: problems and win.statusBar().showMessage(problems[0], 15000),
                lambda exc: win.statusBar().showMessage(f"The alert mail was not sent: {exc}", 15000),
            )
