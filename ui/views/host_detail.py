"""Host detail pane: facts, pending updates (coloured by classification), recent jobs, last error."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.models import Host, HostStatus, Job, JobHost, StepState
from db import jobs as db_jobs
from db import scans as db_scans
from ui.models.hosts_model import STATUS_COLOURS, STATUS_TEXT, _local_time, _one_line
from ui.models.updates_model import (
    COL_AVAILABLE,
    COL_CLASSIFICATION,
    COL_INSTALLED,
    COL_NAME,
    COL_SOURCE,
    UpdatesTableModel,
)

HISTORY_LIMIT = 50

STEP_COLOURS = {
    StepState.SUCCEEDED: QColor("#17632f"),
    StepState.FAILED: QColor("#9b1c14"),
    StepState.UNREACHABLE: QColor("#8a4b00"),
    StepState.INTERRUPTED: QColor("#8a4b00"),
    StepState.CANCELLED: QColor("#5b6372"),
    StepState.RUNNING: QColor("#1f4e89"),
}


class HistoryTableModel(QAbstractTableModel):
    HEADERS = ("Job", "Kind", "Started", "Finished", "Result", "Error")

    def __init__(self, parent=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self._rows: list[tuple[Job, JobHost]] = []

    def set_rows(self, rows: Sequence[tuple[Job, JobHost]]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # type: ignore[no-untyped-def]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):  # type: ignore[no-untyped-def]
        if not index.isValid():
            return None
        job, step = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (
                f"#{job.id}",
                str(job.kind),
                _local_time(step.started_at or job.started_at),
                _local_time(step.finished_at),
                str(step.state),
                _one_line(step.error, 160),
            )[col]
        if role == Qt.ItemDataRole.ForegroundRole and col == 4 and step.state in STEP_COLOURS:
            return QBrush(STEP_COLOURS[step.state])
        if role == Qt.ItemDataRole.ToolTipRole and col == 5 and step.error:
            return _one_line(step.error, 1000)
        return None


def _table(model: QAbstractTableModel) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setAlternatingRowColors(False)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(24)
    view.setShowGrid(False)
    view.setWordWrap(False)
    view.horizontalHeader().setHighlightSections(False)
    return view


class HostDetailView(QWidget):
    """Shows one host; ``show_host(None)`` shows a hint instead."""

    def __init__(self, db, parent: QWidget | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.db = db
        self.host: Host | None = None

        self.title = QLabel("No host selected")
        self.title.setObjectName("paneTitle")
        self.subtitle = QLabel()
        self.subtitle.setObjectName("hintText")
        self.subtitle.setWordWrap(True)
        self.subtitle.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status = QLabel()
        self.status.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.status.setMinimumWidth(90)
        titles = QVBoxLayout()
        titles.setSpacing(2)
        titles.addWidget(self.title)
        titles.addWidget(self.subtitle)
        head = QHBoxLayout()
        head.addLayout(titles, 1)
        head.addWidget(self.status, 0, Qt.AlignmentFlag.AlignTop)

        self.facts: dict[str, QLabel] = {}
        left, right = QFormLayout(), QFormLayout()
        for form in (left, right):
            form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
            form.setHorizontalSpacing(10)
            form.setVerticalSpacing(4)
        for form, keys in (
            (left, ("Transport", "User", "Group", "Ring", "Criticality")),
            (right, ("Pending", "Last scan", "Reboot", "Managers", "Kernel")),
        ):
            for key in keys:
                value = QLabel()
                value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                value.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
                value.setWordWrap(True)
                self.facts[key] = value
                label = QLabel(key + ":")
                label.setObjectName("hintText")
                form.addRow(label, value)
        facts_box = QHBoxLayout()
        facts_box.addLayout(left, 1)
        facts_box.addSpacing(12)
        facts_box.addLayout(right, 1)

        self.error = QLabel()
        self.error.setObjectName("errorText")
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.setVisible(False)

        self.updates_model = UpdatesTableModel(self)
        self.updates_view = _table(self.updates_model)
        self.updates_view.setObjectName("pendingUpdates")
        hdr = self.updates_view.horizontalHeader()
        hdr.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hdr.setStretchLastSection(True)
        for col, width in (
            (COL_NAME, 130),
            (COL_INSTALLED, 75),
            (COL_AVAILABLE, 75),
            (COL_CLASSIFICATION, 100),
            (COL_SOURCE, 190),
        ):
            self.updates_view.setColumnWidth(col, width)
        # classification next to the package: it is what the admin reads first
        hdr.moveSection(hdr.visualIndex(COL_CLASSIFICATION), 1)
        self.history_model = HistoryTableModel(self)
        self.history_view = _table(self.history_model)
        self.history_view.horizontalHeader().setStretchLastSection(True)
        for col, width in enumerate((50, 60, 120, 120, 90)):
            self.history_view.setColumnWidth(col, width)

        self.tabs = QTabWidget()
        self.tabs.addTab(self.updates_view, "Pending updates")
        self.tabs.addTab(self.history_view, "History")

        self.placeholder = QLabel(
            "Select a host in the inventory to see its facts, pending updates and history."
        )
        self.placeholder.setObjectName("hintText")
        self.placeholder.setWordWrap(True)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.body = QWidget()
        body = QVBoxLayout(self.body)
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(8)
        body.addLayout(facts_box)
        body.addWidget(self.error)
        body.addWidget(self.tabs, 1)

        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setStyleSheet("color: #d9dde4;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(8)
        layout.addLayout(head)
        layout.addWidget(line)
        layout.addWidget(self.placeholder, 1)
        layout.addWidget(self.body, 1)
        self.show_host(None)

    def show_host(self, host: Host | None) -> None:
        """Show ``host`` (re-reading its pending updates and history from the database)."""
        self.host = host
        self.placeholder.setVisible(host is None)
        self.body.setVisible(host is not None)
        if host is None:
            self.title.setText("No host selected")
            self.subtitle.setText("")
            self.status.setText("")
            self.status.setStyleSheet("")
            self.updates_model.set_updates([])
            self.history_model.set_rows([])
            return
        self.title.setText(_one_line(host.name, 80))
        fg, bg = STATUS_COLOURS[host.last_status]
        self.status.setText(STATUS_TEXT[host.last_status])
        self.status.setStyleSheet(
            f"color: {fg.name()}; background: {bg.name()}; border: 1px solid {fg.name()};"
            "border-radius: 9px; padding: 2px 10px; font-weight: 600;"
        )
        where = host.address + (f":{host.port}" if host.port else "")
        self.subtitle.setText(where + " · " + (_one_line(host.os_name, 80) or "OS unknown until scanned"))
        f = self.facts
        f["Transport"].setText(str(host.transport) + (" (sudo)" if host.use_sudo else ""))
        f["User"].setText(host.user or "(default)")
        f["Group"].setText(host.group or "—")
        f["Ring"].setText(str(host.ring))
        f["Criticality"].setText(str(host.criticality))
        f["Kernel"].setText(_one_line(host.kernel, 80) or "—")
        f["Managers"].setText(", ".join(host.managers) or "—")
        f["Last scan"].setText(_local_time(host.last_scan_at) or "never")
        f["Reboot"].setText("required" if host.reboot_required else "not required")
        f["Reboot"].setStyleSheet("color: #9a4d00; font-weight: 600;" if host.reboot_required else "")
        if host.last_status == HostStatus.NEVER:
            f["Pending"].setText("—")
        else:
            parts = [
                f"{n} {what}"
                for n, what in (
                    (host.pending_urgent, "urgent"),
                    (host.pending_important, "important"),
                    (host.pending_noncritical, "non-critical"),
                )
                if n
            ]
            f["Pending"].setText(", ".join(parts) or "none — up to date")
        if host.last_error:
            self.error.setText("Last error: " + _one_line(host.last_error, 2000))
            self.error.setVisible(True)
        else:
            self.error.setVisible(False)
        assert host.id is not None
        updates = db_scans.pending_for_host(self.db, host.id)
        self.updates_model.set_updates(updates)
        for col in (COL_NAME, COL_CLASSIFICATION, COL_INSTALLED, COL_AVAILABLE):
            self.updates_view.resizeColumnToContents(col)
            self.updates_view.setColumnWidth(col, min(220, self.updates_view.columnWidth(col) + 6))
        self.tabs.setTabText(0, f"Pending updates ({len(updates)})")
        self.history_model.set_rows(db_jobs.host_history(self.db, host.id, HISTORY_LIMIT))
