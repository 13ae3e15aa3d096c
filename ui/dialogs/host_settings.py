"""Parts of the host dialog: how changes are made on the host, and "Test connection".

The change settings are the same fields ``patchdesk hosts edit`` sets; the connection test runs
app.services.connection on a pool thread with the passwords as typed (nothing is stored by it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.models import AutoRollback, Host, HostKey, RebootPolicy
from app.services.connection import ConnectionCheck, check_connection
from ui.workers import submit

REBOOT_LABELS = {
    RebootPolicy.IF_NEEDED: "If the update needs it",
    RebootPolicy.ALWAYS: "Always after patching",
    RebootPolicy.NEVER: "Never (report that one is needed)",
}
AUTO_ROLLBACK_LABELS = {
    AutoRollback.OFF: "Off: report it and offer a rollback",
    AutoRollback.ON_RED: "Roll back at once when verification is red",
}
#: the first entry of the reboot and rollback lists: the host sets nothing
DEFAULT_LABEL = "Default (group, then criticality)"


def _value(member: RebootPolicy | AutoRollback | None) -> str:
    return member.value if member is not None else ""


def _split(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p.strip() for p in text.split(",") if p.strip()))


class ChangeSettingsBox(QGroupBox):
    """Tags, reboot policy, the commands around a patch, the services that must stay up, the custom
    health check and the automatic rollback. The reboot policy and the rollback can be left to the
    group's default and the criticality's rule (the lists' first entry, which names what applies)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Changes on this host", parent)
        self.tags_edit = QLineEdit()
        self.tags_edit.setPlaceholderText("comma-separated, e.g. dmz, linux")
        self.reboot_combo = QComboBox()
        self.reboot_combo.addItem(DEFAULT_LABEL, "")
        for policy, label in REBOOT_LABELS.items():
            self.reboot_combo.addItem(label, policy.value)
        self.check_edit = QLineEdit()
        self.check_edit.setPlaceholderText(
            "optional: exit 0 = healthy, e.g. curl -fs http://localhost/health"
        )
        self.check_edit.setToolTip(
            "Run on the host as its user (with sudo when it uses sudo) before and after a patch and by "
            "Verify; any other exit status makes the verification red."
        )
        self.rollback_combo = QComboBox()
        self.rollback_combo.addItem(DEFAULT_LABEL, "")
        for auto, label in AUTO_ROLLBACK_LABELS.items():
            self.rollback_combo.addItem(label, auto.value)
        self.pre_edit = QLineEdit()
        self.pre_edit.setPlaceholderText("optional: run as root before patching, e.g. systemctl stop app")
        self.post_edit = QLineEdit()
        self.post_edit.setPlaceholderText("optional: run as root after patching")
        self.services_edit = QLineEdit()
        self.services_edit.setPlaceholderText("comma-separated services that must be running afterwards")
        form = QFormLayout(self)
        form.addRow("Tags:", self.tags_edit)
        form.addRow("Reboot:", self.reboot_combo)
        form.addRow("Before patching:", self.pre_edit)
        form.addRow("After patching:", self.post_edit)
        form.addRow("Services:", self.services_edit)
        form.addRow("Health check:", self.check_edit)
        form.addRow("When red:", self.rollback_combo)

    def load(self, h: Host) -> None:
        self.tags_edit.setText(", ".join(h.tags))
        self.reboot_combo.setCurrentIndex(max(0, self.reboot_combo.findData(_value(h.reboot_policy))))
        self.pre_edit.setText(h.pre_command or "")
        self.post_edit.setText(h.post_command or "")
        self.services_edit.setText(", ".join(h.services))
        self.check_edit.setText(h.check_command or "")
        self.rollback_combo.setCurrentIndex(max(0, self.rollback_combo.findData(_value(h.auto_rollback))))

    def show_defaults(self, effective: Host) -> None:
        """Name what the "Default" entries mean for this host (its group's default or its rule)."""
        reboot = effective.reboot_policy
        auto = effective.auto_rollback
        if reboot is not None:
            self.reboot_combo.setItemText(0, f"Default: {REBOOT_LABELS[reboot].lower()}")
        if auto is not None:
            self.rollback_combo.setItemText(0, f"Default: {AUTO_ROLLBACK_LABELS[auto].split(':')[0].lower()}")
        if effective.check_command and not self.check_edit.text():
            self.check_edit.setPlaceholderText(f"default: {effective.check_command}")

    def apply(self, h: Host) -> Host:
        """``h`` with these fields; validation is validate_host's, as for every other field."""
        return replace(
            h,
            tags=_split(self.tags_edit.text()),
            reboot_policy=RebootPolicy(self.reboot_combo.currentData())
            if self.reboot_combo.currentData()
            else None,
            pre_command=self.pre_edit.text() if self.pre_edit.text().strip() else None,
            post_command=self.post_edit.text() if self.post_edit.text().strip() else None,
            services=_split(self.services_edit.text()),
            check_command=self.check_edit.text() if self.check_edit.text().strip() else None,
            auto_rollback=(
                AutoRollback(self.rollback_combo.currentData()) if self.rollback_combo.currentData() else None
            ),
        )


class ConnectionTester(QWidget):
    """A "Test connection" button and what the last test found."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.button = QPushButton("Test connection")
        self.button.setToolTip("Log in as a scan would, read the OS and try root; nothing is saved")
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.result_label.setVisible(False)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.button)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.result_label)
        self.last: ConnectionCheck | None = None
        self.running = False

    def start(
        self,
        host: Host,
        *,
        secrets: object | None,
        login_password: str | None,
        sudo_password: str | None,
        trusted_keys: Sequence[HostKey],
        on_done: Callable[[ConnectionCheck], None] | None = None,
    ) -> None:
        self.running = True
        self.button.setEnabled(False)
        self._show(f"Connecting to {host.address}…", None)
        self._on_done = on_done

        def work() -> ConnectionCheck:  # pool thread: logins take seconds
            return check_connection(
                host,
                secrets=secrets,  # type: ignore[arg-type]
                login_password=login_password,
                sudo_password=sudo_password,
                trusted_keys=trusted_keys,
            )

        submit(self, work, self._finished, self._failed)

    @Slot(object)
    def _finished(self, check: ConnectionCheck) -> None:
        self.running = False
        self.last = check
        self.button.setEnabled(True)
        head = ("✔ " if check.ok else "✖ ") + check.summary
        self._show("\n".join([head, *check.details]), check.ok)
        if self._on_done is not None:
            self._on_done(check)

    @Slot(object)
    def _failed(self, exc: BaseException) -> None:
        self._finished(ConnectionCheck(False, f"The test could not run: {exc}"))

    def _show(self, text: str, ok: bool | None) -> None:
        self.result_label.setObjectName("errorText" if ok is False else "hintText")
        self.result_label.style().unpolish(self.result_label)
        self.result_label.style().polish(self.result_label)
        self.result_label.setText(text)
        self.result_label.setVisible(True)
