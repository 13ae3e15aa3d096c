"""Criticality rules: what each criticality does by default, shown and edited as a table.

Rows are the rule's fields, columns the criticalities (the same table `patchdesk policy criticality
show` prints). A cell is edited in place; the change goes through app.services.host_policy (validated,
audited) on the main thread's connection, and a refused value is named under the table and the
stored rule shown again. Nine cells: a table widget is enough here.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.criticality import RULE_FIELDS, CriticalityRule
from app.domain.errors import PatchdeskError
from app.domain.models import Criticality
from app.services import host_policy
from db import host_policy as db_host_policy

TITLE = "Criticality rules"
CRITICALITIES = tuple(Criticality)
FIELDS = tuple(RULE_FIELDS)


def cell_text(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)


class CriticalityPanel(QWidget):
    #: a rule changed (the scheduler's decisions may change with it)
    changed = Signal()

    def __init__(self, db, parent: QWidget | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.db = db
        self._filling = False
        hint = QLabel(
            "What each criticality does where a host and its group set nothing. Double-click a value "
            "to change it (yes/no, a number of days, a reboot policy, off/on-red); every change is audited."
        )
        hint.setObjectName("hintText")
        hint.setWordWrap(True)
        self.table = QTableWidget(len(FIELDS), len(CRITICALITIES))
        self.table.setHorizontalHeaderLabels([str(c) for c in CRITICALITIES])
        self.table.setVerticalHeaderLabels(list(FIELDS))
        for row, key in enumerate(FIELDS):
            self.table.verticalHeaderItem(row).setToolTip(RULE_FIELDS[key])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.table.itemChanged.connect(self._edited)
        self.error_label = QLabel()
        self.error_label.setObjectName("errorText")
        self.error_label.setWordWrap(True)
        self.error_label.setVisible(False)
        self.reset_button = QPushButton("Reset column to built-in")
        self.reset_button.setToolTip("Put the selected criticality's rule back to Patchdesk's default")
        self.reset_button.clicked.connect(self._reset)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.reset_button)
        lay = QVBoxLayout(self)
        lay.addWidget(hint)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.error_label)
        lay.addLayout(buttons)
        self.reload()

    def reload(self) -> None:
        self.show_rules(db_host_policy.criticality_rules(self.db))

    def show_rules(self, rules: dict[Criticality, CriticalityRule]) -> None:
        self._filling = True
        try:
            for col, crit in enumerate(CRITICALITIES):
                for row, key in enumerate(FIELDS):
                    item = QTableWidgetItem(cell_text(getattr(rules[crit], key)))
                    item.setToolTip(f"{crit}: {RULE_FIELDS[key]}")
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                    self.table.setItem(row, col, item)
        finally:
            self._filling = False

    def set_value(self, criticality: Criticality, key: str, text: str) -> bool:
        """Change one field through the service; False (with the sentence shown) when refused."""
        try:
            host_policy.set_criticality_rule(self.db, criticality, {key: text})
        except PatchdeskError as exc:
            self.error_label.setText(str(exc))
            self.error_label.setVisible(True)
            self.reload()
            return False
        self.error_label.setVisible(False)
        self.reload()
        self.changed.emit()
        return True

    @Slot(QTableWidgetItem)
    def _edited(self, item: QTableWidgetItem) -> None:
        if self._filling:
            return
        self.set_value(CRITICALITIES[item.column()], FIELDS[item.row()], item.text())

    @Slot()
    def _reset(self) -> None:
        col = self.table.currentColumn()
        if col < 0:
            return
        try:
            host_policy.reset_criticality_rule(self.db, CRITICALITIES[col])
        except PatchdeskError as exc:
            self.error_label.setText(str(exc))
            self.error_label.setVisible(True)
            return
        self.error_label.setVisible(False)
        self.reload()
        self.changed.emit()
