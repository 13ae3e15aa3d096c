"""Tools → Settings… (Ctrl+,): the console's settings in one validated place (#23 item 6).

Retention, stale days, syslog, alerts and the package index age were edited on four tabs; the look
was only in View → Theme. The dialog reads them through app.services.settings, shows every problem
as a sentence while the form is edited (OK stays disabled until there is none) and stores them
through the same service, which audits each change. The look is the user's (QSettings), not the
database's, so it is applied through the main window.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import PatchdeskError
from app.services import alerts as app_alerts
from app.services import settings as app_settings
from ui import theme

THEME_LABELS = {"system": "Like the desktop", "light": "Light", "dark": "Dark"}


def _spin(low: int, high: int, suffix: str, special: str = "") -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setSuffix(suffix)
    if special:
        spin.setSpecialValueText(special)
    return spin


def _recipients(text: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p.strip() for p in text.replace(";", ",").split(",") if p.strip()))


class SettingsDialog(QDialog):
    def __init__(
        self,
        db,  # type: ignore[no-untyped-def]
        *,
        theme_choice: str = "system",
        secrets=None,  # type: ignore[no-untyped-def]
        on_theme: Callable[[str], None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.db = db
        self.secrets = secrets
        self.on_theme = on_theme
        self.changed: list[str] = []  # what the last OK stored (the status bar says it)
        self.setWindowTitle("Settings")
        self.setMinimumWidth(600)  # the syslog and mail fields show their hints whole
        self.loaded = app_settings.current(db)
        lay = QVBoxLayout(self)
        lay.addWidget(self._look_box(theme_choice))
        lay.addWidget(self._scans_box())
        lay.addWidget(self._logs_box())
        lay.addWidget(self._alerts_box())
        self.problems_label = QLabel()
        self.problems_label.setObjectName("errorText")
        self.problems_label.setWordWrap(True)
        self.problems_label.setVisible(False)
        lay.addWidget(self.problems_label)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self._fill(self.loaded)
        for edit in self.findChildren(QLineEdit):
            edit.textChanged.connect(self.check)
        for spin in (*self.findChildren(QSpinBox), *self.findChildren(QDoubleSpinBox)):
            spin.valueChanged.connect(self.check)
        self.email_box.toggled.connect(self.check)
        self.check()

    # -- the form -----------------------------------------------------------------------------------

    def _look_box(self, choice: str) -> QGroupBox:
        box = QGroupBox("Look")
        self.theme_combo = QComboBox()
        self.theme_combo.setObjectName("settingsTheme")
        for key, label in THEME_LABELS.items():
            self.theme_combo.addItem(label, key)
        self.theme_combo.setCurrentIndex(max(0, self.theme_combo.findData(choice)))
        QFormLayout(box).addRow("Colours:", self.theme_combo)
        return box

    def _scans_box(self) -> QGroupBox:
        box = QGroupBox("Scans and compliance")
        self.stale_spin = _spin(1, app_settings.MAX_STALE_DAYS, " days")
        self.stale_spin.setObjectName("settingsStale")
        self.stale_spin.setToolTip("After this many days without a scan a host's compliance is unknown.")
        self.index_spin = QDoubleSpinBox()
        self.index_spin.setObjectName("settingsIndexAge")
        self.index_spin.setRange(0.0, app_settings.MAX_INDEX_AGE_HOURS)
        self.index_spin.setDecimals(1)
        self.index_spin.setSuffix(" hours")
        self.index_spin.setToolTip("A scan refreshes a host's package index that is older than this.")
        form = QFormLayout(box)
        form.addRow("Not scanned recently after:", self.stale_spin)
        form.addRow("Refresh package indexes older than:", self.index_spin)
        return box

    def _logs_box(self) -> QGroupBox:
        box = QGroupBox("Logs and audit")
        self.retention_spin = _spin(0, app_settings.MAX_RETENTION_DAYS, " days", "keep forever")
        self.retention_spin.setObjectName("settingsRetention")
        self.syslog_edit = QLineEdit()
        self.syslog_edit.setObjectName("settingsSyslog")
        self.syslog_edit.setPlaceholderText("host[:port] (UDP) or /dev/log — empty: off")
        form = QFormLayout(box)
        form.addRow("Keep job logs:", self.retention_spin)
        form.addRow("Copy the audit log to syslog:", self.syslog_edit)
        return box

    def _alerts_box(self) -> QGroupBox:
        box = QGroupBox("Alerts")
        self.desktop_check = QCheckBox("Show alerts on the desktop (tray or status bar)")
        self.desktop_check.setObjectName("settingsDesktopAlerts")
        self.email_box = QGroupBox("Send alerts by e-mail")
        self.email_box.setObjectName("settingsEmail")
        self.email_box.setCheckable(True)
        self.smtp_host = QLineEdit()
        self.smtp_port = _spin(0, 65535, "")
        self.starttls_check = QCheckBox("STARTTLS")
        self.smtp_user = QLineEdit()
        self.smtp_password = QLineEdit()
        self.smtp_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.smtp_from = QLineEdit()
        self.smtp_to = QLineEdit()
        self.smtp_to.setPlaceholderText("comma-separated addresses")
        self.smtp_timeout = QDoubleSpinBox()
        self.smtp_timeout.setRange(0.0, app_settings.MAX_SMTP_TIMEOUT)
        self.smtp_timeout.setDecimals(1)
        self.smtp_timeout.setSuffix(" s")
        form = QFormLayout(self.email_box)
        form.addRow("Mail server:", self.smtp_host)
        form.addRow("Port:", self.smtp_port)
        form.addRow("", self.starttls_check)
        form.addRow("Login user:", self.smtp_user)
        form.addRow("Password:", self.smtp_password)
        form.addRow("From:", self.smtp_from)
        form.addRow("To:", self.smtp_to)
        form.addRow("Timeout:", self.smtp_timeout)
        lay = QVBoxLayout(box)
        lay.addWidget(self.desktop_check)
        lay.addWidget(self.email_box)
        return box

    def _fill(self, s: app_settings.ConsoleSettings) -> None:
        self.stale_spin.setValue(s.stale_days)
        self.index_spin.setValue(s.index_max_age_hours)
        self.retention_spin.setValue(s.log_retention_days)
        self.syslog_edit.setText(s.syslog)
        self.desktop_check.setChecked(s.desktop_alerts)
        e = s.email
        self.email_box.setChecked(e.enabled)
        self.smtp_host.setText(e.host)
        self.smtp_port.setValue(e.port)
        self.starttls_check.setChecked(e.starttls)
        self.smtp_user.setText(e.user)
        self.smtp_from.setText(e.sender)
        self.smtp_to.setText(", ".join(e.recipients))
        self.smtp_timeout.setValue(e.timeout)
        self.smtp_password.setPlaceholderText(
            "stored in the keyring (type to replace)"
            if e.password_ref
            else "only if the server asks for a login"
        )

    # -- reading, checking, saving --------------------------------------------------------------------

    def settings(self) -> app_settings.ConsoleSettings:
        """What the form says now."""
        email = app_alerts.EmailSettings(
            enabled=self.email_box.isChecked(),
            host=self.smtp_host.text().strip(),
            port=self.smtp_port.value(),
            starttls=self.starttls_check.isChecked(),
            user=self.smtp_user.text().strip(),
            sender=self.smtp_from.text().strip(),
            recipients=_recipients(self.smtp_to.text()),
            password_ref=self.loaded.email.password_ref,
            timeout=self.smtp_timeout.value(),
        )
        return app_settings.ConsoleSettings(
            log_retention_days=self.retention_spin.value(),
            stale_days=self.stale_spin.value(),
            syslog=self.syslog_edit.text().strip(),
            desktop_alerts=self.desktop_check.isChecked(),
            email=email,
            index_max_age_hours=round(self.index_spin.value(), 1),
        )

    def theme_choice(self) -> str:
        return str(self.theme_combo.currentData())

    @Slot()
    def check(self) -> list[str]:
        found = app_settings.problems(self.settings())
        self._show_problems(found)
        self.ok_button.setEnabled(not found)
        return found

    def _show_problems(self, found: list[str]) -> None:
        self.problems_label.setText("\n".join(found))
        self.problems_label.setVisible(bool(found))

    @Slot()
    def save(self) -> None:
        try:
            self.changed = app_settings.save(
                self.db, self.settings(), smtp_password=self.smtp_password.text(), secrets=self.secrets
            )
        except PatchdeskError as exc:  # a keyring that refused, a locked database: say it, stay open
            self._show_problems([str(exc)])
            return
        choice = self.theme_choice()
        if choice in theme.CHOICES and self.on_theme is not None:
            self.on_theme(choice)
        self.accept()
