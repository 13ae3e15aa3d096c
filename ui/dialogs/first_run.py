"""The first-run assistant: where data lives, the keyring, this workstation, an import, a first scan.

``run_gui`` opens it once on a start with an empty inventory (until it is finished or dismissed with
"Don't show this assistant again"); Help → First-run assistant… opens it any time. Every step is
optional: nothing happens unless a button on the page is pressed, and Close leaves at any point.

The assistant adds hosts through the same repository functions and the same import dialog as the
main window, and its first scan is started by the main window's own ``start_scan`` after it closes,
so the job panel shows the progress and the host-key confirmation follows as for any scan.
"""

from __future__ import annotations

import logging
import os
import platform
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import ConfigError, PatchdeskError
from app.domain.models import Criticality, Host, TransportKind
from app.services import inventory
from db import hosts as db_hosts
from db import settings as db_settings
from ui.dialogs.import_dialog import FILE_FILTER, ImportDialog
from ui.resources import icon
from ui.workers import submit

logger = logging.getLogger(__name__)

#: settings key: "1" once the assistant was finished or dismissed with "Don't show again"
DONE_SETTING = "ui.first_run_done"
#: an environment variable that keeps the assistant from opening at start-up (scripted starts)
SUPPRESS_ENV = "PATCHDESK_NO_FIRST_RUN"

PAGE_TITLES = (
    "Welcome to Patchdesk",
    "Passwords and the system keyring",
    "This workstation",
    "Import hosts",
    "First scan",
)

#: What to do when no keyring is usable; shown under the store's own sentence.
KEYRING_ADVICE = (
    "<b>What to do:</b> install a Secret Service keyring and log in to the desktop again: GNOME "
    'Keyring (Debian/Ubuntu: <code style="white-space:pre">apt install gnome-keyring</code>; Fedora: '
    '<code style="white-space:pre">dnf install gnome-keyring</code>), KWallet, or KeePassXC with its '
    "Secret Service integration on. A locked keyring only needs unlocking in your keyring manager. "
    "Then press Check again."
)
KEYRING_STILL_WORKS = (
    "Until then everything else works: hosts that log in with an SSH key file or the SSH agent, "
    "and this workstation, need no stored password."
)


def keyring_words(backend: str) -> str:
    """The keyring page's status line in plain words: keyring's names for "nothing usable" ("fail
    Keyring", "null Keyring") read as jargon to a technician (#23 item 9)."""
    low = backend.strip().lower()
    if not low or low in ("none", "unknown") or low.startswith(("fail", "null")):
        return "No usable keyring was found on this desktop: passwords cannot be saved yet."
    return f"The keyring found ({backend}) cannot save passwords right now."


# -- the start-up decision -------------------------------------------------------------------------


def is_done(db: Any) -> bool:
    return db_settings.get_setting(db, DONE_SETTING) == "1"


def set_done(db: Any, done: bool) -> None:
    db_settings.set_setting(db, DONE_SETTING, "1" if done else None)


def should_show(db: Any) -> bool:
    """At start-up: only for an empty inventory, once, and never in a scripted or self-test start."""
    if os.environ.get(SUPPRESS_ENV) == "1" or os.environ.get("PATCHDESK_GUI_SELFTEST") == "1":
        return False
    try:
        return db_hosts.host_count(db) == 0 and not is_done(db)
    except PatchdeskError as exc:  # a locked database: the main window reports it; no assistant
        logger.warning("first-run check skipped: %s", exc)
        return False


def data_locations(db: Any) -> tuple[str, str]:
    """The database file and the log folder, from the same places the application takes them."""
    from app.logsetup import log_dir
    from db.database import database_file, default_db_path

    return database_file(db) or str(default_db_path()), str(log_dir())


def console_is_elevated() -> bool:
    """Whether this (Windows) console runs as administrator, as scans of this workstation need."""
    from app.transports.local_windows import WindowsRunner

    return WindowsRunner().is_elevated()


def local_host_name() -> str:
    """This workstation's name as the inventory shows it (the short host name)."""
    name = (socket.gethostname() or platform.node() or "").split(".")[0].strip()
    return name or "this-workstation"


# -- the dialog ---------------------------------------------------------------------------------------


def _label(text: str, *, name: str | None = None, rich: bool = False) -> QLabel:
    lab = QLabel(text)
    lab.setWordWrap(True)
    lab.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
    if name:
        lab.setObjectName(name)
    return lab


class FirstRunDialog(QDialog):
    """Five short pages; hosts it adds are in ``added`` and ``scan_hosts`` is what to scan on Finish."""

    #: emitted whenever the assistant added hosts (the main window reloads its inventory)
    hosts_added = Signal(list)

    def __init__(
        self,
        db: Any,
        secrets: Any = None,
        parent: QWidget | None = None,
        *,
        ssh_config: Path | None = None,
        platform: str | None = None,
        elevated: Callable[[], bool] | None = None,
    ) -> None:
        """``platform`` (``sys.platform`` unless given) decides what "this workstation" is: on
        Windows a Windows host run through a local powershell.exe, which needs the console elevated
        (``elevated`` asks; tests pass both)."""
        super().__init__(parent)
        self.db = db
        self.platform = platform if platform is not None else sys.platform
        self._elevated = elevated or console_is_elevated
        self.secrets = secrets
        self.ssh_config = ssh_config if ssh_config is not None else Path.home() / ".ssh" / "config"
        self.added: list[Host] = []
        self.scan_hosts: list[Host] = []
        self.finished_flow = False
        self.keyring_ok: bool | None = None
        self.import_dialog: ImportDialog | None = None
        self.setWindowTitle("Patchdesk first-run assistant")
        self.setObjectName("firstRunDialog")
        self.setMinimumSize(640, 440)
        self.resize(700, 480)

        self.title = QLabel()
        self.title.setObjectName("paneTitle")
        self.step_label = QLabel()
        self.step_label.setObjectName("hintText")
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.step_label, 0, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        self.pages = QStackedWidget()
        for build in (
            self._build_welcome,
            self._build_keyring,
            self._build_local,
            self._build_import,
            self._build_scan,
        ):
            page = QWidget()
            lay = QVBoxLayout(page)
            lay.setContentsMargins(0, 4, 0, 0)
            lay.setSpacing(10)
            build(lay)
            lay.addStretch(1)
            self.pages.addWidget(page)

        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        self.dont_show = QCheckBox("Don't show this assistant again")
        self.dont_show.setObjectName("firstRunDontShow")
        self.dont_show.setToolTip("It stays available under Help → First-run assistant…")
        self.dont_show.setChecked(is_done(db))
        self.back_button = QPushButton("Back")
        self.next_button = QPushButton("Next")
        self.next_button.setDefault(True)
        self.finish_button = QPushButton("Finish")
        self.close_button = QPushButton("Close")
        self.back_button.clicked.connect(self.back)
        self.next_button.clicked.connect(self.next)
        self.finish_button.clicked.connect(self.finish)
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.dont_show)
        buttons.addStretch(1)
        for b in (self.back_button, self.next_button, self.finish_button, self.close_button):
            buttons.addWidget(b)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(18, 14, 18, 12)
        layout.setSpacing(10)
        layout.addLayout(head)
        layout.addWidget(self.pages, 1)
        layout.addWidget(line)
        layout.addLayout(buttons)
        self.show_page(0)
        QTimer.singleShot(0, self.check_keyring)

    # -- pages ----------------------------------------------------------------------------------

    def _build_welcome(self, lay: QVBoxLayout) -> None:
        db_file, logs = data_locations(self.db)
        self.db_file, self.log_dir = db_file, logs
        lay.addWidget(
            _label(
                "Patchdesk keeps an inventory of your hosts, finds the updates they are missing and "
                "installs them through test and production rings. This assistant sets up the basics "
                "in a minute; every step can be skipped with Next, and Close leaves at any time."
            )
        )
        box = QGridLayout()
        box.setHorizontalSpacing(12)
        box.setVerticalSpacing(6)
        self.db_path_label = _label(db_file, name="firstRunDbPath")
        self.log_dir_label = _label(logs, name="firstRunLogDir")
        for w in (self.db_path_label, self.log_dir_label):
            w.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        for row, (what, widget) in enumerate(
            (("Database:", self.db_path_label), ("Logs:", self.log_dir_label))
        ):
            head = QLabel(what)
            head.setObjectName("sectionTitle")
            box.addWidget(head, row, 0, Qt.AlignmentFlag.AlignTop)
            box.addWidget(widget, row, 1)
        box.setColumnStretch(1, 1)
        lay.addLayout(box)
        lay.addWidget(
            _label(
                "The database is one SQLite file: the inventory, scan results, job history, change "
                "records and the audit log. Back it up like any document; copy it only while "
                "Patchdesk is closed. Passwords are never written to it: they live in the system "
                "keyring (next page). Start with --db PATH to use another file.",
                name="hintText",
            )
        )

    def _build_keyring(self, lay: QVBoxLayout) -> None:
        lay.addWidget(
            _label(
                "Login and sudo passwords you give Patchdesk are stored in the system keyring, and "
                "the database keeps only a reference to them."
            )
        )
        self.keyring_status = _label("Checking the system keyring…", name="firstRunKeyringStatus")
        lay.addWidget(self.keyring_status)
        self.keyring_warning = QFrame()
        self.keyring_warning.setObjectName("warningBanner")
        warn = QHBoxLayout(self.keyring_warning)
        warn.setContentsMargins(10, 8, 10, 8)
        badge = QLabel()
        badge.setPixmap(icon("warning").pixmap(24, 24))
        badge.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.keyring_warning_text = _label("", name="firstRunKeyringWarning", rich=True)
        warn.addWidget(badge)
        warn.addWidget(self.keyring_warning_text, 1)
        self.keyring_warning.setVisible(False)
        lay.addWidget(self.keyring_warning)
        self.keyring_recheck = QPushButton(icon("refresh"), "Check again")
        self.keyring_recheck.clicked.connect(self.check_keyring)
        row = QHBoxLayout()
        row.addWidget(self.keyring_recheck)
        row.addStretch(1)
        lay.addLayout(row)

    @property
    def on_windows(self) -> bool:
        return self.platform == "win32"

    def _build_local(self, lay: QVBoxLayout) -> None:
        if self.on_windows:
            intro = (
                "Patchdesk can look after the Windows computer it runs on, without WinRM: it runs the "
                "same PowerShell scripts as for any Windows host (Windows Update, Chocolatey, "
                "winget) here, through powershell.exe. Adding it is the quickest way to see real data."
            )
            what = f"Add this workstation ({local_host_name()}) as a Windows host"
        else:
            intro = (
                "Patchdesk can look after the computer it runs on, without SSH: it runs the package "
                "manager's queries here directly. Adding it is the quickest way to see real data; "
                "installing updates on it will need sudo."
            )
            what = f"Add this workstation ({local_host_name()})"
        lay.addWidget(_label(intro))
        self.local_button = QPushButton(icon("add"), what)
        self.local_button.setObjectName("firstRunAddLocal")
        self.local_button.clicked.connect(self.add_local_host)
        row = QHBoxLayout()
        row.addWidget(self.local_button)
        row.addStretch(1)
        lay.addLayout(row)
        self.local_status = _label("", name="hintText")
        lay.addWidget(self.local_status)
        # on Windows: a line when elevated, a warning banner (as the keyring page's) when not
        self.local_elevation = _label("", name="firstRunLocalElevation")
        self.local_elevation.setVisible(False)
        lay.addWidget(self.local_elevation)
        self.local_warning = QFrame()
        self.local_warning.setObjectName("warningBanner")
        warn = QHBoxLayout(self.local_warning)
        warn.setContentsMargins(10, 8, 10, 8)
        badge = QLabel()
        badge.setPixmap(icon("warning").pixmap(24, 24))
        badge.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.local_warning_text = _label("", name="firstRunLocalWarning")
        warn.addWidget(badge)
        warn.addWidget(self.local_warning_text, 1)
        self.local_warning.setVisible(False)
        lay.addWidget(self.local_warning)
        self._refresh_local()

    def local_elevation_text(self) -> str:
        """What the page says about elevation (Windows only), as plain text (tests)."""
        if not self.local_warning.isHidden():
            return self.local_warning_text.text()
        return "" if self.local_elevation.isHidden() else self.local_elevation.text()

    def local_is_elevated(self) -> bool:
        try:
            return self._elevated()
        except Exception:  # an unanswered question is no proof of elevation
            logger.debug("elevation check failed", exc_info=True)
            return False

    def _build_import(self, lay: QVBoxLayout) -> None:
        lay.addWidget(
            _label(
                "Bring in the hosts you already have. Each import shows a preview with every problem "
                "and its line number first; names already in the inventory are skipped, never "
                "overwritten."
            )
        )
        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(8)
        self.ssh_button = QPushButton(icon("import"), "SSH config…")
        self.ssh_button.setObjectName("firstRunImportSsh")
        self.ssh_button.clicked.connect(lambda: self.import_file(self.ssh_config, "ssh-config"))
        self.csv_button = QPushButton(icon("import"), "CSV file…")
        self.csv_button.setObjectName("firstRunImportCsv")
        self.csv_button.clicked.connect(
            lambda: self._choose_and_import("csv", "CSV files (*.csv);;All files (*)")
        )
        self.ansible_button = QPushButton(icon("import"), "Ansible inventory…")
        self.ansible_button.setObjectName("firstRunImportAnsible")
        self.ansible_button.clicked.connect(lambda: self._choose_and_import(None, FILE_FILTER))
        has_ssh = self.ssh_config.is_file()
        self.ssh_button.setEnabled(has_ssh)
        rows = (
            (
                self.ssh_button,
                f"Every concrete Host alias of {self._home_short(self.ssh_config)}; SSH resolves the "
                "alias at connect time, ProxyJump and all."
                if has_ssh
                else f"No SSH client config at {self._home_short(self.ssh_config)}.",
            ),
            (self.csv_button, "A header row (name, address, port, user, group, …), then one host per row."),
            (self.ansible_button, "An Ansible inventory in INI or YAML; groups become Patchdesk groups."),
        )
        for r, (button, text) in enumerate(rows):
            grid.addWidget(button, r, 0)
            grid.addWidget(_label(text, name="hintText"), r, 1)
        grid.setColumnStretch(1, 1)
        lay.addLayout(grid)
        self.import_status = _label("", name="sectionTitle")
        lay.addWidget(self.import_status)

    def _build_scan(self, lay: QVBoxLayout) -> None:
        self.scan_intro = _label("")
        lay.addWidget(self.scan_intro)
        self.scan_check = QCheckBox()
        self.scan_check.setObjectName("firstRunScan")
        lay.addWidget(self.scan_check)
        self.scan_hint = _label("", name="hintText")
        lay.addWidget(self.scan_hint)

    # -- navigation -----------------------------------------------------------------------------

    def page_index(self) -> int:
        return self.pages.currentIndex()

    def show_page(self, index: int) -> None:
        index = max(0, min(index, self.pages.count() - 1))
        self.pages.setCurrentIndex(index)
        self.title.setText(PAGE_TITLES[index])
        self.step_label.setText(f"Step {index + 1} of {self.pages.count()}")
        last = index == self.pages.count() - 1
        self.back_button.setEnabled(index > 0)
        self.next_button.setVisible(not last)
        self.finish_button.setVisible(last)
        (self.finish_button if last else self.next_button).setDefault(True)
        if last:
            self._refresh_scan_page()

    @Slot()
    def next(self) -> None:
        self.show_page(self.page_index() + 1)

    @Slot()
    def back(self) -> None:
        self.show_page(self.page_index() - 1)

    @Slot()
    def finish(self) -> None:
        """Done: remember it, and hand the hosts to scan (if wanted) to whoever opened us."""
        self.finished_flow = True
        self.scan_hosts = list(self.added) if self.scan_check.isChecked() else []
        self.accept()

    def done(self, result: int) -> None:  # QDialog.done: accept, reject and the close box all end here
        try:
            set_done(self.db, self.finished_flow or self.dont_show.isChecked())
        except PatchdeskError as exc:
            logger.warning("the first-run flag was not saved: %s", exc)
        super().done(result)

    # -- keyring --------------------------------------------------------------------------------

    @Slot()
    def check_keyring(self) -> None:
        """Ask the keyring on a pool thread: an unlock prompt or a slow D-Bus must not freeze us."""
        self.keyring_status.setText("Checking the system keyring…")
        self.keyring_recheck.setEnabled(False)
        store = self.secrets
        if store is None:
            from app.secrets import NO_KEYRING

            self._keyring_result((False, NO_KEYRING, "none"))
            return

        def probe() -> tuple[bool, str, str]:
            ok, sentence = store.status()
            try:
                name = store.backend_name()
            except Exception as exc:  # backend discovery itself failed: still a sentence, not a bug
                name = type(exc).__name__
            return ok, sentence, name

        submit(
            self, probe, self._keyring_result, lambda exc: self._keyring_result((False, str(exc), "unknown"))
        )

    def _keyring_result(self, result: tuple[bool, str, str]) -> None:
        ok, sentence, name = result
        self.keyring_ok = ok
        self.keyring_recheck.setEnabled(True)
        if ok:
            self.keyring_status.setText(f"✔ {sentence}")
            self.keyring_warning.setVisible(False)
            return
        self.keyring_status.setText(keyring_words(name))
        self.keyring_warning_text.setText(
            f"<b>{_html(sentence)}</b><br><br>{KEYRING_ADVICE}<br><br>{KEYRING_STILL_WORKS}"
        )
        self.keyring_warning.setVisible(True)

    def keyring_text(self) -> str:
        """What the keyring page says (status and warning), as plain text (tests)."""
        parts = [self.keyring_status.text()]
        if not self.keyring_warning.isHidden():
            parts.append(self.keyring_warning_text.text())
        return "\n".join(parts)

    # -- this workstation -----------------------------------------------------------------------

    def _local_host(self) -> Host | None:
        return next((h for h in db_hosts.list_hosts(self.db) if h.transport == TransportKind.LOCAL), None)

    def _refresh_local(self) -> None:
        existing = self._local_host()
        if self.on_windows:
            elevated = self.local_is_elevated()
            self.local_elevation.setText(
                "✔ Patchdesk runs as administrator, as scans and installs of this workstation need: "
                "they run as a SYSTEM scheduled task."
            )
            self.local_warning_text.setText(
                "Patchdesk is not running as administrator. You can add this workstation now, but "
                "its scans and installs will stop with that message until you start Patchdesk with "
                "right-click → Run as administrator: they run as a SYSTEM scheduled task, which only "
                "an administrator may create."
            )
            self.local_elevation.setVisible(elevated)
            self.local_warning.setVisible(not elevated)
        if existing is not None:
            self.local_button.setEnabled(False)
            self.local_status.setText(f"This workstation is in the inventory as {existing.name}.")
        else:
            self.local_button.setEnabled(True)
            kind = "Windows host" if self.on_windows else "host"
            self.local_status.setText(
                f"It is added as a desktop-criticality {kind}; you can change its group and ring later."
            )

    @Slot()
    def add_local_host(self) -> Host | None:
        name = local_host_name()
        if db_hosts.find_host(self.db, name) is not None:
            name = f"{name}-local"
        host = Host(
            name=name,
            address="localhost",
            transport=TransportKind.LOCAL,
            criticality=Criticality.DESKTOP,
        )
        try:
            saved = inventory.add_host(self.db, host)
        except (ConfigError, PatchdeskError) as exc:
            self.local_status.setText(str(exc))
            return None
        self._hosts_added([saved])
        self._refresh_local()
        self.local_status.setText(f"Added {saved.name} to the inventory; the last step offers to scan it.")
        return saved

    # -- import ---------------------------------------------------------------------------------

    @staticmethod
    def _home_short(path: Path) -> str:
        try:
            return "~/" + str(path.relative_to(Path.home()))
        except ValueError:
            return str(path)

    def _choose_and_import(self, fmt: str | None, file_filter: str) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose an inventory file", str(Path.home()), file_filter)
        if path:
            self.import_file(Path(path), fmt)

    def import_file(self, path: Path, fmt: str | None = None) -> ImportDialog:
        """The main window's import dialog, preloaded with ``path``; its hosts count as added here."""
        dlg = ImportDialog(self.db, self, source="first-run assistant")
        if fmt is not None:
            index = dlg.format_combo.findData(fmt)
            if index >= 0:
                dlg.format_combo.blockSignals(True)
                dlg.format_combo.setCurrentIndex(index)
                dlg.format_combo.blockSignals(False)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.finished.connect(lambda _r: self._import_closed(dlg))
        self.import_dialog = dlg
        dlg.load_file(path)
        dlg.open()
        return dlg

    def _import_closed(self, dlg: ImportDialog) -> None:
        if self.import_dialog is dlg:
            self.import_dialog = None
        if not dlg.added:
            return  # the import dialog's service call wrote the audit entry
        self._hosts_added(list(dlg.added))
        self._refresh_local()  # a CSV row may have been this workstation

    def _hosts_added(self, hosts: Sequence[Host]) -> None:
        self.added.extend(hosts)
        imported = [h for h in self.added if h.transport != TransportKind.LOCAL]
        if imported:
            self.import_status.setText(f"Added so far: {len(imported)} host(s): {_names(imported)}.")
        self.hosts_added.emit(list(hosts))

    # -- the first scan -------------------------------------------------------------------------

    def _refresh_scan_page(self) -> None:
        n = len(self.added)
        if not n:
            self.scan_intro.setText(
                "No hosts were added in this assistant. Add them later with Hosts → Add host or "
                "File → Import…, then scan them with Scan → Scan all (Shift+F5)."
            )
            self.scan_check.setVisible(False)
            self.scan_check.setChecked(False)
            self.scan_hint.setText("")
            return
        self.scan_intro.setText(f"Added in this assistant: {_names(self.added)}.")
        self.scan_check.setVisible(True)
        self.scan_check.setText(f"Scan {'this host' if n == 1 else f'these {n} hosts'} when I click Finish")
        self.scan_check.setChecked(True)
        hint = (
            "The scan only reads: it lists pending updates and installs nothing. Its progress and "
            "log show in the job panel below the inventory."
        )
        local = any(h.transport == TransportKind.LOCAL for h in self.added)
        if local and self.on_windows and not self.local_is_elevated():
            hint += (
                " This workstation's scan needs Patchdesk running as administrator (right-click → "
                "Run as administrator); without it the scan stops and says so."
            )
        if any(h.transport == TransportKind.SSH for h in self.added):
            hint += (
                " For an SSH host contacted for the first time, Patchdesk shows its host key "
                "fingerprint and asks before trusting it."
            )
        self.scan_hint.setText(hint)


def _names(hosts: Sequence[Host], limit: int = 6) -> str:
    names = [f"{h.name} (this workstation)" if h.transport == TransportKind.LOCAL else h.name for h in hosts]
    text = ", ".join(names[:limit])
    return text + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _html(text: str) -> str:
    import html

    return html.escape(text)


# -- wiring to the main window -------------------------------------------------------------------


def open_first_run(window: Any, *, ssh_config: Path | None = None) -> FirstRunDialog:
    """Open the assistant over ``window`` (a MainWindow): hosts it adds show at once, and Finish
    starts the first scan through the window's normal job path."""
    dlg = FirstRunDialog(window.db, window.secrets, window, ssh_config=ssh_config)
    dlg.hosts_added.connect(lambda _hosts: window.reload_hosts())

    def accepted() -> None:
        if dlg.scan_hosts:
            window.reload_hosts()
            window.start_scan(dlg.scan_hosts)

    window._open_dialog(dlg, accepted)
    return dlg


def maybe_open_first_run(window: Any) -> FirstRunDialog | None:
    """What run_gui calls after showing the window: the assistant, when this start needs it."""
    if not should_show(window.db):
        return None
    return open_first_run(window)
