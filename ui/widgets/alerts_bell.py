"""The bell in the status bar: how many alerts nobody acknowledged, one click from the alerts list.

Without a system tray an alert was a 15-second status-bar line and then gone (#23 item 7). Every
alert is now kept (app.services.alerts.record) and counted here until acknowledged.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QSize, Qt, Slot
from PySide6.QtWidgets import QToolButton

from app.domain.errors import PatchdeskError
from db import alerts as db_alerts
from ui.resources import icon

if TYPE_CHECKING:
    from ui.dialogs.alerts_dialog import AlertsDialog
    from ui.main_window import MainWindow

logger = logging.getLogger(__name__)


class AlertsBell(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.win = window
        self.count = 0
        self.button = QToolButton()
        self.button.setObjectName("alertsBell")
        self.button.setIcon(icon("bell"))
        self.button.setIconSize(QSize(16, 16))
        self.button.setAutoRaise(True)
        self.button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.button.clicked.connect(self.open_list)
        self.refresh()

    @Slot()
    def refresh(self) -> int:
        """Recount the open alerts (after a job raised some, after an acknowledgement)."""
        if self.win.closed:
            return self.count
        try:
            # a read, through db/ (app.services.alerts would pull the policy modules into start-up)
            self.count = db_alerts.unacknowledged_count(self.win.db)
        except PatchdeskError as exc:  # a locked database: keep the last count, say nothing new
            logger.warning("alerts not counted: %s", exc)
            return self.count
        self.button.setText(f"{self.count} alert{'s' if self.count != 1 else ''}" if self.count else "")
        self.button.setToolTip(
            f"{self.count} alert(s) not acknowledged yet: click to see them"
            if self.count
            else "No new alerts: click to see the alerts list"
        )
        self.button.setAccessibleName(f"Alerts: {self.count} new")
        return self.count

    @Slot()
    def open_list(self) -> AlertsDialog:
        from ui.dialogs.alerts_dialog import AlertsDialog

        dlg = AlertsDialog(self.win.db, self.win)
        dlg.changed.connect(self.refresh)
        self.win.open_dialog(dlg)
        return dlg
