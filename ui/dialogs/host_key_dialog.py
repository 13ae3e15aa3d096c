"""Host-key dialogs: first contact (trust and scan) and a changed key (blocking warning).

Both are plain QDialogs opened window-modal with ``open()`` by the main window, which reacts to
``accepted``; neither touches the database itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.models import Host, HostKey
from ui.resources import icon


@dataclass(frozen=True)
class KeyOffer:
    """A key a host presented during a failed scan, from HostOutcome.details."""

    host: Host
    keytype: str
    key_b64: str
    fingerprint: str
    old_fingerprint: str | None = None

    def host_key(self) -> HostKey:
        assert self.host.id is not None
        return HostKey(
            host_id=self.host.id, keytype=self.keytype, key_b64=self.key_b64, fingerprint=self.fingerprint
        )


class FirstContactDialog(QDialog):
    """Lists hosts seen for the first time with their key fingerprints; "Trust and scan"."""

    def __init__(self, offers: Sequence[KeyOffer], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.offers = list(offers)
        self.setWindowTitle("Confirm new host keys")
        self.setMinimumWidth(720)

        top = QHBoxLayout()
        badge = QLabel()
        badge.setPixmap(icon("key").pixmap(32, 32))
        badge.setAlignment(Qt.AlignmentFlag.AlignTop)
        which = "this host" if len(offers) == 1 else "these hosts"
        text = QLabel(
            f"<b>Patchdesk has not connected to {which} before.</b><br>"
            "Compare each fingerprint with the one the host's administrator gives you (on the host: "
            "<code>ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub</code>). Trust only keys that match."
        )
        text.setWordWrap(True)
        top.addWidget(badge)
        top.addWidget(text, 1)

        self.table = QTableWidget(len(offers), 4)
        self.table.setObjectName("keyTable")
        self.table.setHorizontalHeaderLabels(["Host", "Address", "Key type", "Fingerprint (SHA256)"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        for row, o in enumerate(offers):
            for col, value in enumerate(
                (
                    o.host.name,
                    o.host.address + (f":{o.host.port}" if o.host.port else ""),
                    o.keytype,
                    o.fingerprint,
                )
            ):
                item = QTableWidgetItem(value)
                if col == 3:
                    item.setFont(self._mono())
                self.table.setItem(row, col, item)
        self.table.setMinimumHeight(min(300, 40 + 26 * len(offers)))

        self.buttons = QDialogButtonBox()
        self.trust_button = self.buttons.addButton("Trust and scan", QDialogButtonBox.ButtonRole.AcceptRole)
        self.trust_button.setObjectName("trustButton")
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addLayout(top)
        layout.addWidget(self.table)
        layout.addWidget(self.buttons)

    @staticmethod
    def _mono():  # type: ignore[no-untyped-def]
        from PySide6.QtGui import QFont

        f = QFont("monospace")
        f.setStyleHint(QFont.StyleHint.TypeWriter)
        return f


class ChangedKeyDialog(QDialog):
    """A host presented a different key: possible interception. Accept only after verification."""

    def __init__(self, offer: KeyOffer, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.offer = offer
        self.setWindowTitle(f"WARNING: host key of {offer.host.name} changed")
        self.setMinimumWidth(640)

        banner = QFrame()
        banner.setObjectName("warningBanner")
        b = QHBoxLayout(banner)
        badge = QLabel()
        badge.setPixmap(icon("warning").pixmap(36, 36))
        b.addWidget(badge, 0, Qt.AlignmentFlag.AlignTop)
        msg = QLabel(
            f"<b>The host key of {offer.host.name} ({offer.host.address}) has changed — "
            "possible interception.</b>"
            "<br>Someone may be impersonating this host, or it was reinstalled or its keys were "
            "regenerated. Patchdesk refused to log in. <b>Verify the new fingerprint with the host's "
            "administrator</b> before accepting it."
        )
        msg.setWordWrap(True)
        msg.setObjectName("warningText")
        self.message = msg
        b.addWidget(msg, 1)

        form = QFormLayout()
        old = QLabel(offer.old_fingerprint or "(unknown)")
        old.setObjectName("oldFingerprint")
        new = QLabel(offer.fingerprint)
        new.setObjectName("newFingerprint")
        for lbl in (old, new):
            lbl.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            lbl.setFont(FirstContactDialog._mono())
        self.old_label, self.new_label = old, new
        form.addRow("Trusted fingerprint:", old)
        form.addRow(f"New {offer.keytype} fingerprint:", new)

        self.verified = QCheckBox("I have verified the new fingerprint with the host's administrator")
        self.verified.setObjectName("verifiedCheck")
        self.buttons = QDialogButtonBox()
        self.accept_button: QPushButton = self.buttons.addButton(
            "Accept new key and scan", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.accept_button.setObjectName("dangerButton")
        self.accept_button.setEnabled(False)
        cancel = self.buttons.addButton("Keep refusing", QDialogButtonBox.ButtonRole.RejectRole)
        cancel.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.verified.toggled.connect(self._verified_toggled)

        layout = QVBoxLayout(self)
        layout.setSpacing(12)
        layout.addWidget(banner)
        layout.addLayout(form)
        layout.addWidget(self.verified)
        layout.addWidget(self.buttons)

    @Slot(bool)
    def _verified_toggled(self, on: bool) -> None:
        self.accept_button.setEnabled(on)

    def accept(self) -> None:
        if not self.verified.isChecked():  # Enter on a disabled default button must not slip through
            return
        super().accept()
