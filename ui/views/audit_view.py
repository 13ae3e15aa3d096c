"""Audit: the hash-chained log of administrative actions, its verification and syslog forwarding."""

from __future__ import annotations

import json

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from app.services import audit
from ui.models.host_status import local_iso
from ui.theme import text_colour
from ui.views.update_view import _RowsModel, table
from ui.widgets.empty_state import EmptyStack, EmptyState

OK_COLOUR = text_colour("#17632f")
BAD_COLOUR = text_colour("#9b1c14")


def details_text(details: dict[str, object]) -> str:
    """An entry's details as "key: value · key: value" (lists joined), not raw JSON."""
    parts = []
    for key in sorted(details):
        value = details[key]
        if isinstance(value, list):
            shown = ", ".join(str(v) for v in value[:20]) + (
                f" (+{len(value) - 20} more)" if len(value) > 20 else ""
            )
        elif isinstance(value, dict):
            shown = json.dumps(value, sort_keys=True)
        else:
            shown = str(value)
        parts.append(f"{key}: {shown}")
    return " · ".join(parts)


class AuditView(QWidget):
    #: the empty state's next step: the first change worth recording
    add_host_requested = Signal()

    def __init__(self, db, parent: QWidget | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.db = db
        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("auditFilter")
        self.filter_edit.setPlaceholderText("Filter by target, actor, action or details…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.returnPressed.connect(self.reload)
        self.verify_button = QPushButton("Verify chain")
        self.verify_button.setObjectName("auditVerify")
        self.verify_button.clicked.connect(self.verify)
        self.result_label = QLabel("")
        self.result_label.setObjectName("auditResult")
        self.result_label.setWordWrap(True)
        head = QHBoxLayout()
        head.addWidget(self.filter_edit, 1)
        head.addWidget(self.verify_button)
        self.model = _RowsModel(("#", "Time", "Actor", "Action", "Target", "Details"), self)
        self.table = table(self.model, "auditTable")
        self.empty_state = EmptyState("Nothing recorded yet")
        self.empty_state.add_action("Add host…", self.add_host_requested.emit, name="emptyAddHost")
        self.stack = EmptyStack(self.table, self.empty_state, self._sync_empty)
        self.syslog_edit = QLineEdit(audit.syslog_target(db) or "")
        self.syslog_edit.setObjectName("auditSyslog")
        self.syslog_edit.setPlaceholderText("syslog: host[:port] (UDP) or /dev/log — empty: off")
        self.syslog_edit.editingFinished.connect(self._syslog_changed)
        foot = QHBoxLayout()
        foot.addWidget(QLabel("Forward entries to syslog"))
        foot.addWidget(self.syslog_edit, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.addLayout(head)
        lay.addWidget(self.result_label)
        lay.addWidget(self.stack, 1)
        lay.addLayout(foot)
        self.stack.sync()

    @Slot()
    def reload(self) -> None:
        entries = audit.entries(self.db, limit=2000, text=self.filter_edit.text().strip() or None)
        self.model.set_rows(
            [
                (
                    e.id,
                    local_iso(e.at),  # local time, as the Logs tab shows it
                    e.actor,
                    e.action,
                    e.target,
                    details_text(e.details),
                )
                for e in entries
            ]
        )
        self.table.resizeColumnsToContents()
        self.stack.sync()

    def _sync_empty(self) -> bool:
        if self.model.rows:
            return False
        if self.filter_edit.text().strip():
            self.empty_state.set_text("No entry matches", "Clear the filter to see every entry.")
            self.empty_state.show_actions()
        else:
            self.empty_state.set_text(
                "Nothing recorded yet",
                "Every change made here or with the patchdesk command (a host added, an update "
                "approved, a setting changed, a patch run) is recorded in this tamper-evident log. "
                "Add your first host to begin.",
            )
            self.empty_state.show_actions("Add host…")
        return True

    @Slot()
    def verify(self) -> bool:
        check = audit.verify(self.db)
        self.result_label.setText(("✔ " if check.ok else "✖ ") + audit.describe(check))
        colour = (OK_COLOUR if check.ok else BAD_COLOUR).name()  # following the look (ui/theme.py)
        self.result_label.setStyleSheet(f"color: {colour};" + ("" if check.ok else " font-weight: bold;"))
        return check.ok

    def reload_settings(self) -> None:
        """The syslog target as stored (Tools → Settings… changed it)."""
        self.syslog_edit.setText(audit.syslog_target(self.db) or "")

    @Slot()
    def _syslog_changed(self) -> None:
        if audit.set_syslog_target(self.db, self.syslog_edit.text()):
            self.reload()
