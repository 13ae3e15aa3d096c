"""The Schedule tab's upper half: the maintenance windows. Their calendar (ui/views/window_calendar.py)
under a row of actions: add a window, edit, disable or remove one (through
:mod:`app.services.maintenance_windows`, which writes the audit entry), reload, and export the next
openings as iCalendar."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMenu,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import PatchdeskError
from app.domain.maintenance_windows import MaintenanceWindow, next_windows
from app.services import maintenance_windows
from app.services.maintenance_windows import window_plan
from db import maintenance_windows as db_windows
from ui.dialogs.window_dialog import WindowDialog
from ui.views.advisories_view import _hint
from ui.views.schedule_snapshot import Snapshot
from ui.views.window_calendar import WindowCalendar

ICS_DAYS = 90
NO_WINDOWS_HINT = (
    "No maintenance windows yet. Routine (non-critical) updates are installed only inside a window of "
    "the host's patch group; urgent ones do not wait. Use Add window… here, or from a script:\n"
    '    patchdesk windows add nightly --rrule "FREQ=DAILY;BYHOUR=2" --duration 120 --tz Europe/Berlin '
    "--groups lab"
)


class WindowsPanel(QWidget):
    reload_requested = Signal()
    #: a window was added, edited, enabled, disabled or removed (the scheduler may now do something else)
    changed = Signal()
    #: the calendar was exported: what was written
    exported = Signal(str)
    #: the calendar was not written: why
    export_failed = Signal(str)

    def __init__(self, db: Any, now: Callable[[], datetime], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self._now = now
        title = QLabel("Upcoming maintenance windows")
        title.setObjectName("sectionTitle")
        self.export_button = QPushButton("Export .ics…")
        self.export_button.setObjectName("exportIcs")
        self.export_button.setToolTip(
            f"The next {ICS_DAYS} days of windows as iCalendar, with what each will patch "
            "(for the monitoring calendar and the SOC)"
        )
        self.export_button.clicked.connect(self._choose_ics)
        self.reload_button = QPushButton("Reload")
        self.reload_button.clicked.connect(self.reload_requested)
        self.add_window_button = QPushButton("Add window…")
        self.add_window_button.setObjectName("addWindow")
        self.add_window_button.clicked.connect(self.add_window)
        # "Windows" alone read as Microsoft Windows (#23 item 9)
        self.windows_button = QPushButton("Edit maintenance windows")
        self.windows_button.setObjectName("manageWindows")
        self.windows_button.setToolTip("Edit, disable or remove a window (also: double-click an opening)")
        self.windows_menu = QMenu(self.windows_button)
        self.windows_menu.aboutToShow.connect(self._fill_windows_menu)
        self.windows_button.setMenu(self.windows_menu)
        self.active_dialog: WindowDialog | None = None
        head = QHBoxLayout()
        head.addWidget(title)
        head.addStretch(1)
        head.addWidget(self.add_window_button)
        head.addWidget(self.windows_button)
        head.addWidget(self.reload_button)
        head.addWidget(self.export_button)
        self.windows_hint = _hint(NO_WINDOWS_HINT)
        self.windows_hint.setObjectName("windowsHint")
        self.windows_hint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.windows_hint.setVisible(False)
        self.calendar = WindowCalendar()
        self.calendar.window_activated.connect(self.edit_window)
        top_lay = QVBoxLayout(self)
        top_lay.setContentsMargins(0, 0, 0, 0)
        top_lay.addLayout(head)
        top_lay.addWidget(self.windows_hint)
        top_lay.addWidget(self.calendar, 1)

    def show_snapshot(self, snap: Snapshot) -> None:
        self.windows_hint.setVisible(not snap.windows)
        if snap.windows and not snap.upcoming:
            self.windows_hint.setText(
                "No window opens in the next 400 days (are they all disabled or over?)."
            )
            self.windows_hint.setVisible(True)
        self.calendar.show_snapshot(snap)

    # -- editing windows ---------------------------------------------------------------------------------

    def _windows(self) -> list[MaintenanceWindow]:
        return db_windows.list_windows(self.db)

    @Slot()
    def add_window(self) -> WindowDialog:
        return self._open_window_dialog(None)

    def edit_window(self, name: str) -> WindowDialog | None:
        w = db_windows.get_window(self.db, name)
        if w is None:
            self.reload_requested.emit()
            return None
        return self._open_window_dialog(w)

    def _open_window_dialog(self, existing: MaintenanceWindow | None) -> WindowDialog:
        from db import hosts as db_hosts

        old = existing.name if existing else None

        def save(w: MaintenanceWindow) -> MaintenanceWindow:
            if old:
                return maintenance_windows.update_window(self.db, old, w)
            return maintenance_windows.add_window(self.db, w)

        dlg = WindowDialog(
            db_hosts.list_groups(self.db),
            existing,
            [w.name for w in self._windows()],
            self,
            now=self._now(),
            save=save,
        )
        dlg.accepted.connect(self.changed)
        dlg.finished.connect(lambda _r: setattr(self, "active_dialog", None))
        self.active_dialog = dlg
        dlg.open()
        return dlg

    def set_window_enabled(self, name: str, enabled: bool) -> None:
        if not maintenance_windows.set_window_enabled(self.db, name, enabled):
            return
        self.changed.emit()

    def remove_window(self, name: str) -> bool:
        answer = QMessageBox.question(
            self,
            "Remove window",
            f"Remove the maintenance window {name}? Routine updates of its groups then wait for another "
            "window (urgent ones never wait).",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return False
        removed = maintenance_windows.remove_window(self.db, name)
        self.changed.emit()
        return removed

    @Slot()
    def _fill_windows_menu(self) -> None:
        self.windows_menu.clear()
        windows = self._windows()
        if not windows:
            none = self.windows_menu.addAction("No windows yet")
            none.setEnabled(False)
            return
        for w in windows:
            label = w.name + ("" if w.enabled else " (disabled)")
            sub = self.windows_menu.addMenu(label)
            sub.addAction("Edit…", lambda n=w.name: self.edit_window(n))
            if w.enabled:
                sub.addAction("Disable", lambda n=w.name: self.set_window_enabled(n, False))
            else:
                sub.addAction("Enable", lambda n=w.name: self.set_window_enabled(n, True))
            sub.addSeparator()
            sub.addAction("Remove…", lambda n=w.name: self.remove_window(n))

    # -- export -----------------------------------------------------------------------------------------

    @Slot()
    def _choose_ics(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export maintenance windows", "patchdesk-windows.ics", "iCalendar (*.ics)"
        )
        if not path:
            return
        try:
            n = self.export_ics(Path(path))
        except (PatchdeskError, OSError) as exc:
            self.export_failed.emit(f"The calendar was not written: {exc}")
            return
        self.exported.emit(f"Wrote {n} window opening(s) to {path}.")

    def export_ics(self, path: Path, days: int = ICS_DAYS) -> int:
        """The next ``days`` of window openings with their plans, as ``patchdesk export ics`` writes them."""
        from app.reports import calendar, files

        now = self._now()
        windows = db_windows.list_windows(self.db)
        horizon = timedelta(days=max(1, days))
        occs = [
            o for o in next_windows(windows, now, limit=10000, horizon=horizon) if o.start <= now + horizon
        ]
        plans = {w.name: window_plan(self.db, w).summary() for w in windows}
        files.write_text(path, calendar.windows_ics(occs, now, plans))  # atomic: temporary file, rename
        return len(occs)
