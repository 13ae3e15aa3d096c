"""The Schedule tab's "Scheduler log" page: what the scheduler did and why it did not, newest first,
under the console scheduler's last word."""

from __future__ import annotations

from PySide6.QtWidgets import QVBoxLayout, QWidget

from app.domain.schedule import ScheduleEvent
from ui.models.rows_model import RowsModel
from ui.views.advisories_view import _hint, _table
from ui.views.schedule_rows import EVENT_HEADERS, event_cells


class SchedulerLog(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.event_model = RowsModel(EVENT_HEADERS, self)
        self.event_table = _table(self.event_model, "scheduleEvents")
        for col, width in ((0, 130), (1, 110), (2, 220), (3, 80)):
            self.event_table.setColumnWidth(col, width)
        self.scheduler_label = _hint(
            "The scheduler starts scheduled scans and patches while the console is open, and headless with "
            "`patchdesk run-due`."
        )
        self.scheduler_label.setObjectName("schedulerStatus")
        el = QVBoxLayout(self)
        el.setContentsMargins(6, 6, 6, 6)
        el.addWidget(self.scheduler_label)
        el.addWidget(self.event_table, 1)

    def show_events(self, events: list[ScheduleEvent]) -> None:
        self.event_model.set_rows([event_cells(e) for e in events], events)

    def title(self) -> str:
        return f"Scheduler log ({self.event_model.rowCount()})"

    def set_status(self, text: str) -> None:
        self.scheduler_label.setText(text)
