"""Add or edit a host.

Validation uses the same rules as the CLI and the importers (app.domain.inventory.validate_host) and shows
the sentence inline. Passwords never touch the database: they go to the OS keyring through
app.secrets.SecretStore on a pool thread (an unlock prompt may take a while), and only the returned
reference is stored. If the keyring cannot be used, its sentence is shown and the dialog stays open
with everything the user typed; "Save without passwords" is then offered as an explicit choice.
Saving goes through app.services.inventory, which also writes the audit entries.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import ConfigError, PatchdeskError, SecretStoreError
from app.domain.inventory import parse_port, validate_host
from app.domain.models import Criticality, Host, Ring, TransportKind, WinRMOptions
from app.services import inventory
from db import host_policy as db_host_policy
from db import hosts as db_hosts
from ui.dialogs.host_settings import ChangeSettingsBox, ConnectionTester
from ui.workers import submit

logger = logging.getLogger(__name__)

#: WinRM authentication choices (what app.transports.winrm accepts)
WINRM_AUTH = (
    ("NTLM", "ntlm"),
    ("Kerberos", "kerberos"),
    ("Basic (HTTPS only)", "basic"),
    ("CredSSP (HTTPS only)", "credssp"),
)
WINRM_DEFAULT_PORTS = {"https": 5986, "http": 5985}


class HostDialog(QDialog):
    def __init__(self, db, secrets=None, host: Host | None = None, parent: QWidget | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.db = db
        self.secrets = secrets
        self.original = host
        self.saved_host: Host | None = None
        self._pending_host: Host | None = None
        self.setWindowTitle(f"Edit {host.name}" if host else "Add host")
        self.setMinimumWidth(900)

        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. web01")
        self.address_edit = QLineEdit()
        self.address_edit.setPlaceholderText("host name or IP address")
        self.port_edit = QLineEdit()
        self.port_edit.setPlaceholderText("default (22)")
        self.port_edit.setMaximumWidth(110)
        self.transport_combo = QComboBox()
        for kind, label in ((TransportKind.SSH, "SSH"), (TransportKind.LOCAL, "Local (this computer)")):
            self.transport_combo.addItem(label, kind.value)
        self.transport_combo.addItem("WinRM (Windows)", TransportKind.WINRM.value)
        self.user_edit = QLineEdit()
        self.user_edit.setPlaceholderText("default: from ~/.ssh/config or your login name")
        self.key_edit = QLineEdit()
        self.key_edit.setPlaceholderText("optional: private key file (agent and default keys are tried too)")
        self.key_browse = QPushButton("Browse…")
        self.key_browse.clicked.connect(self._browse_key)
        key_row = QHBoxLayout()
        key_row.setContentsMargins(0, 0, 0, 0)
        key_row.addWidget(self.key_edit, 1)
        key_row.addWidget(self.key_browse)
        self.group_combo = QComboBox()
        self.group_combo.setEditable(True)
        self.group_combo.addItem("")
        self.group_combo.addItems(db_hosts.list_groups(db))
        self.group_combo.lineEdit().setPlaceholderText("none")
        self.ring_combo = QComboBox()
        for r in Ring:
            self.ring_combo.addItem(str(r), r.value)
        self.criticality_combo = QComboBox()
        for c in Criticality:
            self.criticality_combo.addItem(str(c), c.value)
        # a new host starts where the model and `patchdesk hosts add` start (production, standard), not
        # on the lists' first entries (test, mission-critical)
        defaults = {f.name: f.default for f in dataclasses.fields(Host)}
        self.ring_combo.setCurrentIndex(max(0, self.ring_combo.findData(Ring(defaults["ring"]).value)))
        self.criticality_combo.setCurrentIndex(
            max(0, self.criticality_combo.findData(Criticality(defaults["criticality"]).value))
        )
        self.sudo_check = QCheckBox("Use sudo for commands that need root")
        self.sudo_check.setChecked(True)
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.sudo_password_edit = QLineEdit()
        self.sudo_password_edit.setEchoMode(QLineEdit.EchoMode.Password)

        self._build_winrm()
        self.change_box = ChangeSettingsBox()
        self.tester = ConnectionTester()
        self.tester.button.clicked.connect(self._test_connection)

        conn = QGroupBox("Connection")
        cf = QFormLayout(conn)
        cf.addRow("Name:", self.name_edit)
        cf.addRow("Address:", self.address_edit)
        port_row = QHBoxLayout()
        port_row.setContentsMargins(0, 0, 0, 0)
        port_row.addWidget(self.port_edit)
        port_row.addSpacing(12)
        port_row.addWidget(QLabel("Transport:"))
        port_row.addWidget(self.transport_combo, 1)
        cf.addRow("Port:", port_row)
        cf.addRow("User:", self.user_edit)
        key_w = QWidget()
        key_w.setLayout(key_row)
        cf.addRow("Key file:", key_w)

        place = QGroupBox("Placement")
        pf = QFormLayout(place)
        pf.addRow("Group:", self.group_combo)
        pf.addRow("Ring:", self.ring_combo)
        pf.addRow("Criticality:", self.criticality_combo)

        creds = QGroupBox("Passwords (kept in the OS keyring, never in the database)")
        sf = QFormLayout(creds)
        sf.addRow("", self.sudo_check)
        sf.addRow("Login password:", self.password_edit)
        sf.addRow("sudo password:", self.sudo_password_edit)

        self.error_label = QLabel()
        self.error_label.setObjectName("errorText")
        self.error_label.setWordWrap(True)
        self.error_label.setVisible(False)
        self.busy_label = QLabel("Storing passwords in the keyring…")
        self.busy_label.setObjectName("hintText")
        self.busy_label.setVisible(False)

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Save" if host else "Add host")
        self.save_without_button = self.buttons.addButton(
            "Save without passwords", QDialogButtonBox.ButtonRole.ActionRole
        )
        self.save_without_button.setVisible(False)
        self.save_without_button.clicked.connect(self._save_without_passwords)
        self.buttons.accepted.connect(self._on_ok)
        self.buttons.rejected.connect(self.reject)

        # two columns: how to reach the host, and where it sits and how it is changed; one column of
        # every box would be taller than a 1280x800 screen once the WinRM options show
        left = QVBoxLayout()
        left.addWidget(conn)
        left.addWidget(self.winrm_box)
        left.addWidget(creds)
        left.addWidget(self.tester)
        left.addStretch(1)
        right = QVBoxLayout()
        right.addWidget(place)
        right.addWidget(self.change_box)
        right.addStretch(1)
        columns = QHBoxLayout()
        columns.setSpacing(14)
        columns.addLayout(left, 1)
        columns.addLayout(right, 1)
        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addLayout(columns)
        layout.addWidget(self.error_label)
        layout.addWidget(self.busy_label)
        layout.addWidget(self.buttons)

        self.transport_combo.currentIndexChanged.connect(self._transport_changed)
        if host is not None:
            self._load(host)
        self._transport_changed()

    # -- fields ---------------------------------------------------------------------------------

    def _build_winrm(self) -> None:
        """The WinRM options: secure by default (HTTPS, certificate validated, no proxy)."""
        self.winrm_auth_combo = QComboBox()
        for label, value in WINRM_AUTH:
            self.winrm_auth_combo.addItem(label, value)
        self.winrm_scheme_combo = QComboBox()
        self.winrm_scheme_combo.addItem("HTTPS (5986)", "https")
        self.winrm_scheme_combo.addItem("HTTP (5985, NTLM/Kerberos encryption only)", "http")
        self.winrm_scheme_combo.currentIndexChanged.connect(self._scheme_changed)
        self.ca_edit = QLineEdit()
        self.ca_edit.setPlaceholderText(
            "optional: CA bundle or certificate that signed the host's certificate"
        )
        self.ca_browse = QPushButton("Browse…")
        self.ca_browse.clicked.connect(self._browse_ca)
        ca_row = QHBoxLayout()
        ca_row.setContentsMargins(0, 0, 0, 0)
        ca_row.addWidget(self.ca_edit, 1)
        ca_row.addWidget(self.ca_browse)
        ca_w = QWidget()
        ca_w.setLayout(ca_row)
        # short enough for the dialog's column; the reason is in the tooltip
        self.insecure_check = QCheckBox("Don't validate the certificate (INSECURE)")
        self.insecure_check.setToolTip(
            "Anyone between this console and the host can listen and impersonate it."
        )
        self.insecure_check.setObjectName("insecureCheck")
        # the danger colour of the look in use (the stylesheet's), never a fixed red on any background
        self.insecure_check.setProperty("danger", True)
        self.insecure_check.toggled.connect(self._insecure_toggled)
        self.proxy_edit = QLineEdit()
        self.proxy_edit.setPlaceholderText("none (the environment's proxy settings are never used)")
        self.winrm_box = QGroupBox("WinRM (Windows)")
        wf = QFormLayout(self.winrm_box)
        wf.addRow("Authentication:", self.winrm_auth_combo)
        wf.addRow("Protocol:", self.winrm_scheme_combo)
        wf.addRow("CA file:", ca_w)
        wf.addRow("", self.insecure_check)
        wf.addRow("Proxy:", self.proxy_edit)

    @Slot()
    def _scheme_changed(self) -> None:
        https = self.winrm_scheme_combo.currentData() == "https"
        for w in (self.ca_edit, self.ca_browse, self.insecure_check):
            w.setEnabled(https)
        self._port_placeholder()

    @Slot(bool)
    def _insecure_toggled(self, on: bool) -> None:
        self.ca_edit.setEnabled(not on and self.winrm_scheme_combo.currentData() == "https")
        self.ca_browse.setEnabled(self.ca_edit.isEnabled())

    def _port_placeholder(self) -> None:
        kind = self.transport_combo.currentData()
        if kind == TransportKind.WINRM.value:
            port = WINRM_DEFAULT_PORTS[self.winrm_scheme_combo.currentData()]
            self.port_edit.setPlaceholderText(f"default ({port})")
        else:
            self.port_edit.setPlaceholderText("default (22)")

    @Slot()
    def _browse_ca(self) -> None:
        start = self.ca_edit.text() or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(
            self, "Choose the CA certificate", start, "Certificates (*.pem *.crt *.cer);;All files (*)"
        )
        if path:
            self.ca_edit.setText(path)

    def winrm_options(self) -> WinRMOptions:
        """The WinRM fields (ConfigError with a sentence when they do not fit together)."""
        auth = str(self.winrm_auth_combo.currentData())
        scheme = str(self.winrm_scheme_combo.currentData())
        if scheme == "http" and auth not in ("ntlm", "kerberos"):
            raise ConfigError(
                "WinRM over HTTP is only safe with NTLM or Kerberos message encryption; choose one of "
                "those, or HTTPS."
            )
        ca = self.ca_edit.text().strip()
        insecure = scheme == "https" and self.insecure_check.isChecked()
        if ca and scheme == "https" and not insecure and not Path(ca).expanduser().is_file():
            raise ConfigError(f"The CA file {ca} does not exist.")
        return WinRMOptions(
            auth=auth,
            scheme=scheme,
            ca_trust_path=str(Path(ca).expanduser()) if ca and scheme == "https" and not insecure else None,
            cert_validation=not insecure,
            proxy=self.proxy_edit.text().strip() or None,
        )

    def _load(self, h: Host) -> None:
        self.name_edit.setText(h.name)
        self.address_edit.setText(h.address)
        self.port_edit.setText(str(h.port) if h.port else "")
        self.transport_combo.setCurrentIndex(max(0, self.transport_combo.findData(h.transport.value)))
        self.user_edit.setText(h.user or "")
        self.key_edit.setText(h.key_file or "")
        self.group_combo.setCurrentText(h.group or "")
        self.ring_combo.setCurrentIndex(self.ring_combo.findData(h.ring.value))
        self.criticality_combo.setCurrentIndex(self.criticality_combo.findData(h.criticality.value))
        self.sudo_check.setChecked(h.use_sudo)
        self.change_box.load(h)
        # what the "Default" entries stand for: the host's settings as if it set none of them
        unset = dataclasses.replace(h, reboot_policy=None, auto_rollback=None, check_command=None)
        self.change_box.show_defaults(db_host_policy.effective(self.db, unset))
        w = h.winrm
        self.winrm_auth_combo.setCurrentIndex(max(0, self.winrm_auth_combo.findData(w.auth)))
        self.winrm_scheme_combo.setCurrentIndex(max(0, self.winrm_scheme_combo.findData(w.scheme)))
        self.ca_edit.setText(w.ca_trust_path or "")
        self.insecure_check.setChecked(not w.cert_validation)
        self.proxy_edit.setText(w.proxy or "")
        if h.credential_ref:
            self.password_edit.setPlaceholderText("stored — leave empty to keep it")
        if h.sudo_ref:
            self.sudo_password_edit.setPlaceholderText("stored — leave empty to keep it")

    @Slot()
    def _transport_changed(self) -> None:
        ssh = self.transport_combo.currentData() == TransportKind.SSH.value
        winrm = self.transport_combo.currentData() == TransportKind.WINRM.value
        for w in (self.key_edit, self.key_browse):
            w.setEnabled(ssh)
        for w in (self.port_edit, self.user_edit, self.password_edit):
            w.setEnabled(ssh or winrm)
        self.sudo_check.setEnabled(not winrm)
        self.sudo_password_edit.setEnabled(not winrm)
        self.winrm_box.setVisible(winrm)
        self.user_edit.setPlaceholderText(
            "e.g. Administrator or DOMAIN\\admin"
            if winrm
            else "default: from ~/.ssh/config or your login name"
        )
        self._port_placeholder()
        if not ssh and not winrm and not self.address_edit.text():
            self.address_edit.setText("localhost")

    @Slot()
    def _browse_key(self) -> None:
        start = self.key_edit.text() or str(Path.home() / ".ssh")
        path, _ = QFileDialog.getOpenFileName(self, "Choose a private key", start, "All files (*)")
        if path:
            self.key_edit.setText(path)

    def build_host(self, *, for_test: bool = False) -> Host:
        """The host described by the fields (ConfigError with a sentence when something is off); a
        connection test does not mind a name that another host has."""
        name = self.name_edit.text().strip()
        transport = TransportKind(self.transport_combo.currentData())
        key = self.key_edit.text().strip()
        user = self.user_edit.text().strip()
        base = self.original or Host(name="", address="")
        remote = transport in (TransportKind.SSH, TransportKind.WINRM)
        host = replace(
            base,
            name=name,
            address=self.address_edit.text().strip(),
            port=parse_port(self.port_edit.text()) if remote else None,
            transport=transport,
            user=(user or None) if remote else None,
            key_file=(str(Path(key).expanduser()) if key else None)
            if transport == TransportKind.SSH
            else None,
            group=self.group_combo.currentText().strip() or None,
            ring=Ring(self.ring_combo.currentData()),
            criticality=Criticality(self.criticality_combo.currentData()),
            use_sudo=self.sudo_check.isChecked() and transport != TransportKind.WINRM,
        )
        if transport == TransportKind.WINRM:
            host = replace(host, winrm=self.winrm_options())
        host = self.change_box.apply(host)
        validate_host(host)
        if host.key_file and not Path(host.key_file).is_file():
            raise ConfigError(f"The key file {host.key_file} does not exist.")
        existing = None if for_test else db_hosts.find_host(self.db, host.name)
        if existing is not None and (self.original is None or existing.id != self.original.id):
            raise ConfigError(f"A host named {host.name!r} already exists.")
        return host

    @Slot()
    def _test_connection(self) -> None:
        """Reach the host as described by the fields, with the passwords as typed (or stored)."""
        try:
            host = self.build_host(for_test=True)
        except ConfigError as exc:
            self.show_error(str(exc))
            return
        self.show_error("")
        keys = db_hosts.host_keys(self.db, host.id) if host.id is not None else []
        self.tester.start(
            host,
            secrets=self.secrets,
            login_password=self.password_edit.text() or None,
            sudo_password=self.sudo_password_edit.text() or None,
            trusted_keys=keys,
        )

    def show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(bool(text))

    def _set_busy(self, busy: bool) -> None:
        self.busy_label.setVisible(busy)
        self.buttons.setEnabled(not busy)

    # -- saving ---------------------------------------------------------------------------------

    @Slot()
    def _on_ok(self) -> None:
        self.save_without_button.setVisible(False)
        try:
            host = self.build_host()
        except ConfigError as exc:
            self.show_error(str(exc))
            return
        secrets = {
            kind: value
            for kind, value in (
                ("login", self.password_edit.text()),
                ("sudo", self.sudo_password_edit.text()),
            )
            if value
        }
        if not secrets:
            self._save(host)
            return
        if self.secrets is None:
            self._keyring_failed(SecretStoreError("No keyring is available, so passwords cannot be stored."))
            return
        self._pending_host = host
        self.show_error("")
        self._set_busy(True)
        store = self.secrets
        refs = {"login": host.credential_ref, "sudo": host.sudo_ref}
        name = host.name

        def store_passwords() -> dict[str, str]:  # pool thread: may wait for a keyring unlock
            return inventory.store_passwords(store, name, secrets, refs)

        submit(self, store_passwords, self._passwords_stored, self._passwords_failed)

    @Slot(object)
    def _passwords_stored(self, refs: dict[str, str]) -> None:
        self._set_busy(False)
        host = self._pending_host
        assert host is not None
        host = replace(
            host,
            credential_ref=refs.get("login", host.credential_ref),
            sudo_ref=refs.get("sudo", host.sudo_ref),
        )
        self._save(host, stored=list(refs))

    @Slot(object)
    def _passwords_failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        if isinstance(exc, PatchdeskError):
            self._keyring_failed(exc)
        else:
            sys.excepthook(type(exc), exc, exc.__traceback__)

    def _keyring_failed(self, exc: PatchdeskError) -> None:
        self.show_error(
            f"{exc}\nThe passwords were not saved. Fix the keyring and press Save again, or save the host "
            "without them (key or agent login can still work)."
        )
        self.save_without_button.setVisible(True)

    @Slot()
    def _save_without_passwords(self) -> None:
        try:
            host = self.build_host()
        except ConfigError as exc:
            self.show_error(str(exc))
            return
        self._save(host)

    def _save(self, host: Host, stored: list[str] | None = None) -> None:
        """Add or update through app.services.inventory, which writes the audit entries."""
        try:
            if self.original is None:
                self.saved_host = inventory.add_host(self.db, host, stored=stored or ())
            else:
                self.saved_host = inventory.update_host(self.db, host, self.original, stored=stored or ())
        except PatchdeskError as exc:
            self.show_error(str(exc))
            return
        logger.info("saved host %s", self.saved_host.name)
        self.accept()

    def keyPressEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        if not self.buttons.isEnabled() and event.key() == Qt.Key.Key_Escape:
            return  # a keyring call is running; its answer must find the dialog still there
        super().keyPressEvent(event)
