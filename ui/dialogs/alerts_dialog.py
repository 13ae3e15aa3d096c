"""The alerts list: every alert raised (job failed, verification red, host key changed, urgent update
appeared), kept until acknowledged (#23 item 7). Opened from the bell in the status bar.

Reads through app.services.alerts and acknowledges through it; the bell is told by ``changed``.
"""

from __future__ import annotations

from PySide6.QtCore import QItemSelection, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.services import alerts as app_alerts
from ui.models.host_status import local_iso
from ui.views.update_view import _RowsModel, table
from ui.widgets.empty_state import EmptyStack, EmptyState

HEADERS = ("Time", "Alert", "Hosts", "Status")


class AlertsDialog(QDialog):
    #: alerts were acknowledged (the bell recounts)
    changed = Signal()

    def __init__(self, db, parent: QWidget | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.db = db
        self.setWindowTitle("Alerts")
        self.resize(860, 480)
        self.model = _RowsModel(HEADERS, self)
        self.table = table(self.model, "alertsTable")
        for col, width in ((0, 130), (1, 430), (2, 160)):
            self.table.setColumnWidth(col, width)
        self.table.selectionModel().selectionChanged.connect(self._selected)
        self.table.doubleClicked.connect(lambda _i: self.acknowledge_selected())
        self.empty = EmptyState(
            "No alerts",
            "A failed job, a red verification, a changed host key or a new urgent update shows here "
            "and stays until you acknowledge it.",
        )
        self.stack = EmptyStack(self.table, self.empty)
        self.stack.watch(self.model)
        self.detail = QLabel()
        self.detail.setObjectName("alertDetail")
        self.detail.setWordWrap(True)
        self.detail.setTextFormat(Qt.TextFormat.PlainText)  # host names are data, never markup
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.show_seen = QCheckBox("Show acknowledged alerts too")
        self.show_seen.setObjectName("alertsShowSeen")
        self.show_seen.toggled.connect(self.reload)
        self.ack_button = QPushButton("Acknowledge")
        self.ack_button.setObjectName("alertsAck")
        self.ack_button.setToolTip("Mark the selected alerts as seen (double-click one: the same)")
        self.ack_button.clicked.connect(self.acknowledge_selected)
        self.ack_all_button = QPushButton("Acknowledge all")
        self.ack_all_button.setObjectName("alertsAckAll")
        self.ack_all_button.clicked.connect(self.acknowledge_all)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(self.show_seen)
        row.addStretch(1)
        row.addWidget(self.ack_button)
        row.addWidget(self.ack_all_button)
        lay = QVBoxLayout(self)
        lay.addWidget(self.stack, 1)
        lay.addWidget(self.detail)
        lay.addLayout(row)
        lay.addWidget(buttons)
        self.reload()

    @Slot()
    def reload(self) -> None:
        rows = app_alerts.listed(self.db, include_acknowledged=self.show_seen.isChecked())
        self.model.set_rows(
            [
                (
                    local_iso(a.raised_at),
                    a.title.removeprefix("Patchdesk: "),
                    ", ".join(a.hosts[:5]) + (f" and {len(a.hosts) - 5} more" if len(a.hosts) > 5 else ""),
                    f"seen {local_iso(a.acknowledged_at)}" if a.acknowledged_at else "new",
                )
                for a in rows
            ],
            list(rows),
        )
        self.detail.setText("")
        self._sync_buttons()

    def _selected_ids(self) -> list[int]:
        rows = {i.row() for i in self.table.selectionModel().selectedRows()}
        return [self.model.payload[r].id for r in sorted(rows)]  # type: ignore[attr-defined]

    @Slot(QItemSelection, QItemSelection)
    def _selected(self, _sel: QItemSelection, _desel: QItemSelection) -> None:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        alert = self.model.payload[rows[0]] if rows else None
        self.detail.setText(alert.message if alert is not None else "")  # type: ignore[attr-defined]
        self._sync_buttons()

    def _sync_buttons(self) -> None:
        open_rows = [a for a in self.model.payload if not a.acknowledged]  # type: ignore[attr-defined]
        self.ack_all_button.setEnabled(bool(open_rows))
        selected = set(self._selected_ids())
        self.ack_button.setEnabled(any(a.id in selected for a in open_rows))  # type: ignore[attr-defined]

    @Slot()
    def acknowledge_selected(self) -> int:
        n = app_alerts.acknowledge(self.db, self._selected_ids())
        if n:
            self.reload()
            self.changed.emit()
        return n

    @Slot()
    def acknowledge_all(self) -> int:
        n = app_alerts.acknowledge(self.db, None)
        if n:
            self.reload()
            self.changed.emit()
        return n
