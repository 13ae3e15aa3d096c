"""The Firmware evaluation view (View → Firmware…): every firmware and driver update pending on some
host, the models and hosts it applies to, its notes, and the decisions on it.

A firmware update goes first to the test ring (one host of a model: "Approve for the test ring");
"Promote to every ring" is the second approval, offered only once a test-ring host installed it, was
verified and was not rolled back (app.domain.firmware.promotion_blocker). Decline and defer as
elsewhere. Every decision calls :mod:`app.services.approvals` -- the same functions as ``patchdesk
approve --ring test|decline|defer`` -- which write the audit entry.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import PatchdeskError
from app.domain.firmware import FirmwareUpdate, promotion_blocker, verified_on_test_ring
from app.domain.models import Ring
from app.services import approvals, audit
from db import firmware as db_firmware
from db import rollouts as db_rollouts
from ui.models.rows_model import Cell, RowsModel
from ui.views.advisories_view import _hint, _table

HEADERS = ("Device / update", "Kind", "Version", "Class", "Decision", "Hosts", "Models")
EMPTY_HINT = "No firmware or driver update is pending on any host. Scan hosts with fwupd or Windows Update."


def _decision(u: FirmwareUpdate, db: Any) -> str:
    r = db_rollouts.get_rollout(db, u.key)
    if r is None or (not r.explicit_approval and str(r.state) not in ("declined", "deferred")):
        return "waiting for approval"
    if str(r.state) == "approved" and r.ring is not None:
        return "approved for every ring" if r.ring == Ring.PRODUCTION else f"approved for the {r.ring} ring"
    return str(r.state)


class FirmwareView(QWidget):
    #: a decision was stored (the inventory and the Schedule tab may show something else now)
    decided = Signal()

    def __init__(self, db: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.updates: list[FirmwareUpdate] = []
        self.model = RowsModel(HEADERS, self)
        self.table = _table(self.model, "firmwareUpdates")
        self.table.selectionModel().selectionChanged.connect(self._selected)
        self.details = QLabel()
        self.details.setObjectName("firmwareDetails")
        self.details.setWordWrap(True)
        self.details.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.empty = _hint(EMPTY_HINT)
        self.note_edit = QLineEdit()
        self.note_edit.setPlaceholderText("Note for the audit log (why)")
        self.test_button = QPushButton("Approve for the test ring")
        self.test_button.setToolTip("First to the test ring: one host of the model")
        self.promote_button = QPushButton("Promote to every ring")
        self.decline_button = QPushButton("Decline")
        self.defer_button = QPushButton("Defer a week")
        self.test_button.clicked.connect(lambda: self.decide("test"))
        self.promote_button.clicked.connect(lambda: self.decide("promote"))
        self.decline_button.clicked.connect(lambda: self.decide("decline"))
        self.defer_button.clicked.connect(lambda: self.decide("defer"))
        self.result = _hint()
        buttons = QHBoxLayout()
        buttons.addWidget(self.note_edit, 1)
        for b in (self.test_button, self.promote_button, self.decline_button, self.defer_button):
            buttons.addWidget(b)
        lower = QWidget()
        lower_box = QVBoxLayout(lower)
        lower_box.setContentsMargins(0, 0, 0, 0)
        lower_box.addWidget(self.details, 1)
        lower_box.addLayout(buttons)
        lower_box.addWidget(self.result)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(lower)
        layout = QVBoxLayout(self)
        layout.addWidget(self.empty)
        layout.addWidget(split, 1)
        self.reload()

    def reload(self) -> None:
        keep = self.selected()
        self.updates = db_firmware.pending_firmware(self.db)
        rows = []
        for u in self.updates:
            models = u.models
            rows.append(
                (
                    Cell(u.device or u.name, tip=u.name),
                    str(u.kind),
                    u.version,
                    str(u.classification),
                    _decision(u, self.db),
                    Cell(str(len(u.hosts)), len(u.hosts), ", ".join(h.name for h in u.hosts[:20])),
                    ", ".join(models[:3]) + (f" +{len(models) - 3}" if len(models) > 3 else ""),
                )
            )
        self.model.set_rows(rows, self.updates)
        self.empty.setVisible(not self.updates)
        for i, u in enumerate(self.updates):
            if keep is not None and u.key == keep.key:
                self.table.selectRow(i)
                break
        self._selected()

    def selected(self) -> FirmwareUpdate | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        item = self.model.item(rows[0].row()) if rows else None
        return item if isinstance(item, FirmwareUpdate) else None

    @Slot()
    def _selected(self, *_args: object) -> None:
        u = self.selected()
        for b in (self.test_button, self.decline_button, self.defer_button):
            b.setEnabled(u is not None)
        if u is None:
            self.details.setText("Select an update to see the hosts and models it applies to.")
            self.promote_button.setEnabled(False)
            return
        done = db_firmware.installs(self.db, u.manager, (u.name, f"{u.name}={u.version}"), u.version)
        blocker = promotion_blocker(done)
        self.promote_button.setEnabled(blocker is None)
        self.promote_button.setToolTip(blocker or "Second approval: every ring")
        verified = verified_on_test_ring(done)
        lines = [
            f"{u.device or u.name} — {u.kind} {u.version} ({u.classification})",
            f"Update: {u.key}",
            f"Why: {u.reason}" if u.reason else "",
            f"Fixes: {', '.join(u.cves)}" if u.cves else "",
            f"Models: {', '.join(u.models) or 'not known'}",
            "Hosts: "
            + ", ".join(f"{h.name} ({h.ring}{', ' + h.model if h.model else ''})" for h in u.hosts[:50]),
            f"Verified on the test ring: {', '.join(verified)}" if verified else f"Promotion: {blocker}",
        ]
        self.details.setText("\n".join(line for line in lines if line))

    def decide(self, verb: str) -> None:
        """Store the decision through app.services.approvals (which writes the audit entry)."""
        u = self.selected()
        if u is None:
            return
        note, who = self.note_edit.text().strip(), audit.actor()
        try:
            approvals.resolve_update(self.db, u.key)  # creates the rollout row if it is new
            if verb == "test":
                approvals.approve(self.db, u.key, note=note, actor=who, ring=Ring.TEST)
            elif verb == "promote":
                approvals.approve(self.db, u.key, note=note, actor=who, ring=Ring.PRODUCTION)
            elif verb == "decline":
                approvals.decline(self.db, u.key, note=note, actor=who)
            else:
                until = datetime.now(UTC) + timedelta(days=7)
                approvals.defer(self.db, u.key, until=until, note=note, actor=who)
        except PatchdeskError as exc:
            self.result.setText(str(exc))
            return
        self.result.setText(f"{u.key}: {verb} stored" + (f" ({note})." if note else "."))
        self.note_edit.clear()
        self.reload()
        self.decided.emit()


def open_firmware_view(parent: QWidget, db: Any) -> QDialog:
    """The view in a window of its own (non-modal), from View → Firmware…."""
    dialog = QDialog(parent)
    dialog.setWindowTitle("Firmware and drivers — evaluation")
    dialog.setObjectName("firmwareDialog")
    box = QVBoxLayout(dialog)
    view = FirmwareView(db, dialog)
    box.addWidget(view)
    dialog.view = view  # type: ignore[attr-defined]
    dialog.resize(980, 620)
    dialog.show()
    return dialog
