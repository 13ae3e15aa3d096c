"""The main window: toolbar, inventory, host detail, job panel and status bar.

Scans, patches, verifications and rollbacks run on the job engine's threads, one job at a time; this
window only starts them (job rows are created on the main thread, which is quick) and follows their
events through the EventBridge. Host rows are re-read from the database on a short throttle timer
while a job runs, and once more after the recorder has flushed the job's last events (waited for on
a pool thread), so the final state is always what the database says.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, QThreadPool, QTimer, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QDialog,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QSystemTrayIcon,
    QTabWidget,
    QToolBar,
    QWidget,
)

from app.domain.errors import ConfigError, PatchdeskError
from app.domain.events import (
    ChangesRecorded,
    Event,
    HostStateChanged,
    JobStateChanged,
    RolledBack,
    ScanRecorded,
    VerificationRecorded,
)
from app.domain.models import Host, JobState, StepState
from app.jobs.engine import JobHandle
from app.services import audit
from db import changes as db_changes
from db import hosts as db_hosts
from ui.bridge import EventBridge
from ui.messages import confirm, show_error, show_known_error
from ui.resources import app_icon, icon
from ui.views.dashboard import DashboardView
from ui.views.host_detail import HostDetailView
from ui.views.inventory import InventoryView
from ui.views.job_panel import JobPanel
from ui.workers import submit

if TYPE_CHECKING:
    from app.services import alerts as app_alerts

    # Built on first use (start-up time): the dialogs, and the tabs other than Dashboard and Inventory.
    from ui.dialogs.host_dialog import HostDialog
    from ui.dialogs.host_key_dialog import KeyOffer
    from ui.dialogs.import_dialog import ImportDialog
    from ui.dialogs.patch_dialog import PatchDialog, PatchRequest
    from ui.views.advisories_view import AdvisoriesView
    from ui.views.audit_view import AuditView
    from ui.views.logs_view import LogsView
    from ui.views.schedule_view import ScheduleView
    from ui.views.update_view import UpdateView

logger = logging.getLogger(__name__)

#: How often host rows are re-read from the database while a job reports changes.
ROW_REFRESH_MS = 300
#: How long to wait, after a job ends, for its handle and for the recorder to flush.
FINAL_FLUSH_TIMEOUT = 15.0
#: How often the console runs due work (scans, promotions, urgent pushes, windows) while open.
SCHEDULER_INTERVAL_MS = 60_000
#: The first pass, shortly after start (catching up on what fell due while it was closed).
SCHEDULER_FIRST_MS = 15_000
#: The start-up chores that run on pool threads (the keyring check, which imports keyring: ~100 ms
#: of CPU, and log pruning) wait this long, so they do not take the GIL from the window's first
#: paint (bench/RESULTS.md, 2026-11-29).
STARTUP_CHORES_DELAY_MS = 800
#: Tabs built (and their modules imported) when first shown or used, so start-up pays only for the
#: Dashboard and the Inventory: key, title.
LAZY_TABS = (
    ("updates", "Updates"),
    ("advisories", "Advisories"),
    ("schedule", "Schedule"),
    ("logs", "Logs"),
    ("audit", "Audit"),
)


class MainWindow(QMainWindow):
    def __init__(  # type: ignore[no-untyped-def]
        self, db, runner=None, secrets=None, parent: QWidget | None = None, *, scheduler: bool | None = None
    ) -> None:
        super().__init__(parent)
        self.db = db
        self.runner = runner
        self.secrets = secrets
        self.jobs: dict[int, JobHandle] = {}
        self.active_job: JobHandle | None = None
        self.active_dialog: QDialog | None = None
        #: what is being started while the job worker comes up ("Scan", ...), else None
        self.starting: str | None = None
        self._dirty: set[int] = set()
        self._key_queue: list[Callable[[], QDialog]] = []
        self._rescan: dict[int, Host] = {}
        self._closed = False  # after closeEvent: late pool results must not touch the database

        self.setWindowTitle("Patchdesk")
        self.setWindowIcon(app_icon())
        self.resize(1280, 800)
        self.setMinimumSize(900, 560)

        self.bridge = EventBridge(self)
        self.bridge.events_ready.connect(self.on_events)
        if runner is not None:
            runner.add_listener(self.bridge.listener)

        self.inventory = InventoryView()
        self.detail = HostDetailView(db)
        self.job_panel = JobPanel()
        self.job_panel.setObjectName("jobPanel")
        self.bridge.events_ready.connect(self.job_panel.on_events)

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(self.inventory)
        top.addWidget(self.detail)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        top.setSizes([700, 580])
        # Home is the compliance dashboard; the inventory (with host detail) is the second tab.
        self.dashboard = DashboardView(db)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("mainTabs")
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.dashboard, "Dashboard")
        self.tabs.addTab(top, "Inventory")
        self._views: dict[str, QWidget] = {}
        self._placeholders: dict[str, QWidget] = {}
        for key, title in LAZY_TABS:
            placeholder = QWidget()
            placeholder.setObjectName(f"lazy-{key}")
            self._placeholders[key] = placeholder
            self.tabs.addTab(placeholder, title)
        self._scheduler_status = ""
        self.inventory_tab = top
        self.tabs.currentChanged.connect(self._tab_changed)
        main = QSplitter(Qt.Orientation.Vertical)
        main.addWidget(self.tabs)
        main.addWidget(self.job_panel)
        main.setStretchFactor(0, 3)
        main.setStretchFactor(1, 1)
        main.setSizes([540, 240])
        main.setChildrenCollapsible(False)
        self.splitter = main
        self.setCentralWidget(main)

        self._build_actions()
        self._build_toolbar()
        self._build_menus()

        self.summary_label = QLabel()
        self.keyring_label = QLabel()
        self.keyring_label.setObjectName("hintText")
        self.statusBar().addWidget(self.summary_label, 1)
        self.statusBar().addPermanentWidget(self.keyring_label)

        self._row_timer = QTimer(self)
        self._row_timer.setSingleShot(True)
        self._row_timer.setInterval(ROW_REFRESH_MS)
        self._row_timer.timeout.connect(self._refresh_dirty_rows)

        self.detail.rollback_requested.connect(self.rollback_job)
        self.detail.verify_requested.connect(self.verify_host)
        self.inventory.selection_changed.connect(self._selection_changed)
        self.inventory.host_activated.connect(self.edit_host)
        self.dashboard.hosts_requested.connect(self.show_hosts)
        self.dashboard.updates_requested.connect(self.show_updates)
        self.dashboard.update_requested.connect(self.show_update)
        self.dashboard.report_requested.connect(self.export_report_dialog)
        self.tray: QSystemTrayIcon | None = None
        self.alerts_shown: list[
            object
        ] = []  # app.services.alerts.Alert, newest last (tests, the tray's history)
        self._setup_tray()
        self._setup_scheduler(scheduler)
        self.reload_hosts()
        self.keyring_label.setText("Keyring: checking…")
        QTimer.singleShot(STARTUP_CHORES_DELAY_MS, self, self._startup_chores)
        self._sync_job_panel()

    def _startup_chores(self) -> None:
        if self._closed:
            return
        self._check_keyring()
        self._startup_maintenance()

    # -- building -------------------------------------------------------------------------------

    def _action(self, text: str, icon_name: str | None, slot, shortcut=None, tip: str = "") -> QAction:  # type: ignore[no-untyped-def]
        act = QAction(icon(icon_name) if icon_name else app_icon(), text, self)
        if shortcut:
            act.setShortcut(QKeySequence(shortcut))
        if tip:
            act.setToolTip(tip)
            act.setStatusTip(tip)
        act.triggered.connect(slot)
        return act

    def _build_actions(self) -> None:
        self.add_action = self._action(
            "Add host", "add", self.add_host, "Ctrl+N", "Add a host to the inventory"
        )
        self.edit_action = self._action(
            "Edit", "edit", self.edit_selected, "Ctrl+E", "Edit the selected host"
        )
        self.remove_action = self._action(
            "Remove",
            "remove",
            self.remove_selected,
            QKeySequence.StandardKey.Delete,
            "Remove the selected hosts",
        )
        self.import_action = self._action(
            "Import…",
            "import",
            self.import_hosts,
            "Ctrl+I",
            "Import hosts from CSV, Ansible or an SSH config",
        )
        self.scan_selected_action = self._action(
            "Scan selected",
            "scan",
            self.scan_selected,
            "F5",
            "Look for pending updates on the selected hosts",
        )
        self.scan_all_action = self._action(
            "Scan all", "scan-all", self.scan_all, "Shift+F5", "Look for pending updates on every host"
        )
        self.patch_action = self._action(
            "Patch…",
            "patch",
            self.patch_selected,
            "Ctrl+P",
            "Install pending updates on the selected hosts (all hosts when none is selected)",
        )
        self.verify_action = self._action(
            "Verify",
            "verify",
            self.verify_selected,
            None,
            "Rescan the selected hosts and check them against their last patch",
        )
        self.rollback_action = self._action(
            "Roll back…",
            "rollback",
            self.rollback_selected,
            None,
            "Undo the last patch on the selected hosts",
        )
        self.cancel_action = self._action(
            "Cancel job", "cancel", self.cancel_job, None, "Cancel the running job"
        )
        self.report_action = self._action(
            "Report…",
            None,
            self.export_report_dialog,
            "Ctrl+R",
            "Export a compliance report (PDF, HTML, CSV, JSON)",
        )
        self.dashboard_action = QAction("Dashboard", self)
        self.dashboard_action.setShortcut(QKeySequence("Ctrl+1"))
        self.dashboard_action.triggered.connect(lambda: self.tabs.setCurrentWidget(self.dashboard))
        self.inventory_action = QAction("Inventory", self)
        self.inventory_action.setShortcut(QKeySequence("Ctrl+2"))
        self.inventory_action.triggered.connect(self.show_inventory)
        self.filter_action = QAction("Filter", self)
        self.filter_action.setShortcut(QKeySequence.StandardKey.Find)
        self.filter_action.triggered.connect(lambda: self.inventory.filter_edit.setFocus())
        self.addAction(self.filter_action)

    def _build_toolbar(self) -> None:
        tb = QToolBar("Main")
        tb.setObjectName("mainToolbar")
        tb.setMovable(False)
        tb.setIconSize(QSize(22, 22))
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tb.addAction(self.add_action)
        tb.addAction(self.edit_action)
        tb.addAction(self.remove_action)
        tb.addAction(self.import_action)
        tb.addSeparator()
        tb.addAction(self.scan_selected_action)
        tb.addAction(self.scan_all_action)
        self.refresh_check = QCheckBox("Refresh package indexes")
        self.refresh_check.setToolTip(
            "Run apt-get update (or the equivalent) before scanning. Needs root or sudo on the host.\n"
            "Without it, an apt host where nothing apt reads has changed since its last scan (in the "
            "last 24 hours) answers from that scan's simulation; the host's log says so."
        )
        spacer = QWidget()
        spacer.setFixedWidth(8)
        tb.addWidget(spacer)
        tb.addWidget(self.refresh_check)
        tb.addSeparator()
        tb.addAction(self.patch_action)
        tb.addAction(self.verify_action)
        tb.addAction(self.rollback_action)
        tb.addSeparator()
        tb.addAction(self.cancel_action)
        tb.addSeparator()
        tb.addAction(self.report_action)
        self.toolbar = tb
        self.addToolBar(tb)

    def _build_menus(self) -> None:
        mb = self.menuBar()
        file_menu = mb.addMenu("&File")
        file_menu.addAction(self.import_action)
        file_menu.addAction(self.report_action)
        file_menu.addSeparator()
        quit_action = QAction("Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.quit_app)
        self.quit_action = quit_action
        file_menu.addAction(quit_action)
        hosts_menu = mb.addMenu("&Hosts")
        for act in (self.add_action, self.edit_action, self.remove_action):
            hosts_menu.addAction(act)
        scan_menu = mb.addMenu("&Scan")
        for act in (self.scan_selected_action, self.scan_all_action, self.cancel_action):
            scan_menu.addAction(act)
        patch_menu = mb.addMenu("&Patch")
        for act in (self.patch_action, self.verify_action, self.rollback_action):
            patch_menu.addAction(act)
        view_menu = mb.addMenu("&View")
        view_menu.addAction(self.dashboard_action)
        view_menu.addAction(self.inventory_action)
        help_menu = mb.addMenu("&Help")
        self.first_run_action = help_menu.addAction("First-run assistant…")
        self.first_run_action.setStatusTip("Data locations, keyring, this workstation, import, first scan")
        self.first_run_action.triggered.connect(self.show_first_run)

    @Slot()
    def show_first_run(self) -> QDialog:
        """Help → First-run assistant… (run_gui also opens it on a first start with no hosts)."""
        from ui.dialogs.first_run import open_first_run

        return open_first_run(self)

    # -- inventory ------------------------------------------------------------------------------

    def reload_hosts(self) -> None:
        """Re-read the whole inventory (after an add, edit, removal or import)."""
        self.inventory.set_hosts(db_hosts.list_hosts(self.db))
        if self.active_job is not None and self.job_panel.is_running():
            busy = [hid for hid, _ in self._running_steps()]
            self.inventory.model.set_busy(busy, True)
        self._selection_changed()
        self._update_summary()
        self.dashboard.refresh()

    def _running_steps(self) -> list[tuple[int, StepState]]:
        out = []
        for h in self.job_panel.steps_model._steps:
            if h.state == StepState.RUNNING and h.host.id is not None:
                out.append((h.host.id, h.state))
        return out

    @Slot()
    def _selection_changed(self) -> None:
        selected = self.inventory.selected_hosts()
        running = self.job_panel.is_running() or self.starting is not None
        self.edit_action.setEnabled(len(selected) == 1)
        self.remove_action.setEnabled(bool(selected) and not running)
        self.scan_selected_action.setEnabled(bool(selected) and not running and self.runner is not None)
        self.scan_all_action.setEnabled(
            self.inventory.model.total_count() > 0 and not running and self.runner is not None
        )
        can_start = not running and self.runner is not None
        self.patch_action.setEnabled(can_start and self.inventory.model.total_count() > 0)
        self.verify_action.setEnabled(can_start and bool(selected))
        self.rollback_action.setEnabled(can_start and bool(selected))
        self.detail.set_actions_allowed(can_start)
        self.cancel_action.setEnabled(running)
        host = selected[0] if len(selected) == 1 else None
        if host is not None:
            host = self._fresh(host.id) or host
        if host != self.detail.host:
            self.detail.show_host(host)

    def _fresh(self, host_id: int | None) -> Host | None:
        if host_id is None:
            return None
        try:
            return db_hosts.get_host(self.db, host_id)
        except ConfigError:  # removed meanwhile
            return None

    def _update_summary(self) -> None:
        count = self.inventory.model.total_count()
        if not count:
            self.summary_label.setText("The inventory is empty: add a host or import an inventory to begin.")
            return
        t = self.inventory.model.totals()  # kept up to date by the model: no pass over every host
        urgent, important, noncrit = t["urgent"], t["important"], t["noncritical"]
        bad, never, reboot = t["bad"], t["never"], t["reboot"]
        parts = [
            f"{count} hosts",
            f"{urgent} urgent, {important} important, {noncrit} non-critical updates pending",
        ]
        if bad:
            parts.append(f"{bad} failed or unreachable")
        if reboot:
            parts.append(f"{reboot} need a reboot")
        if never:
            parts.append(f"{never} never scanned")
        self.summary_label.setText("  ·  ".join(parts))

    def _open_dialog(self, dialog: QDialog, on_accepted: Callable[[], object] | None = None) -> QDialog:
        """Open window-modal without a nested event loop; tests find it as ``active_dialog``."""
        self.active_dialog = dialog
        if on_accepted is not None:
            dialog.accepted.connect(on_accepted)
        dialog.finished.connect(lambda _r: self._dialog_closed(dialog))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def _dialog_closed(self, dialog: QDialog) -> None:
        if self.active_dialog is dialog:
            self.active_dialog = None

    @Slot()
    def add_host(self) -> None:
        from ui.dialogs.host_dialog import HostDialog

        dlg = HostDialog(self.db, self.secrets, None, self)
        self._open_dialog(dlg, lambda: self._host_saved(dlg))

    @Slot()
    def edit_selected(self) -> None:
        host = self.inventory.current_host()
        if host is not None:
            self.edit_host(host)

    @Slot(object)
    def edit_host(self, host: Host) -> None:
        fresh = self._fresh(host.id) or host
        from ui.dialogs.host_dialog import HostDialog

        dlg = HostDialog(self.db, self.secrets, fresh, self)
        self._open_dialog(dlg, lambda: self._host_saved(dlg))

    def _host_saved(self, dlg: HostDialog) -> None:
        self._audit_host_saved(dlg)
        self.reload_hosts()
        self.show_inventory()
        if dlg.saved_host is not None and dlg.saved_host.id is not None:
            self.inventory.select_host(dlg.saved_host.id)
            self.statusBar().showMessage(f"Saved {dlg.saved_host.name}.", 5000)

    @Slot()
    def remove_selected(self) -> None:
        hosts = self.inventory.selected_hosts()
        if not hosts:
            return
        names = ", ".join(h.name for h in hosts[:5]) + (
            f" and {len(hosts) - 5} more" if len(hosts) > 5 else ""
        )
        if not confirm(
            self,
            "Remove hosts",
            f"Remove {names} from the inventory? Their scan results, history and stored passwords "
            "are deleted.",
            "Remove",
        ):
            return
        refs = []
        for h in hosts:
            db_hosts.remove_host(self.db, h.name)
            audit.record(self.db, audit.HOST_REMOVED, h.name, {"address": h.address})
            refs += [r for r in (h.credential_ref, h.sudo_ref) if r]
        if refs and self.secrets is not None:
            store = self.secrets
            submit(
                self,
                lambda: [store.delete(r) for r in refs],
                None,
                lambda exc: self.statusBar().showMessage(f"Stored passwords were not deleted: {exc}", 10000),
            )
        self.reload_hosts()
        self.statusBar().showMessage(f"Removed {len(hosts)} host(s).", 5000)

    @Slot()
    def import_hosts(self) -> None:
        from ui.dialogs.import_dialog import ImportDialog

        dlg = ImportDialog(self.db, self)
        self._open_dialog(dlg, lambda: self._imported(dlg))

    def _imported(self, dlg: ImportDialog) -> None:
        if dlg.added:
            audit.record(self.db, audit.HOSTS_IMPORTED, "import dialog", {"added": list(dlg.added)})
        self.reload_hosts()
        self.statusBar().showMessage(f"Imported {len(dlg.added)} host(s).", 5000)

    # -- scanning -------------------------------------------------------------------------------

    @Slot()
    def scan_selected(self) -> None:
        hosts = self.inventory.selected_hosts()
        if not hosts:
            self.statusBar().showMessage("Select the hosts to scan first.", 5000)
            return
        self.start_scan(hosts)

    @Slot()
    def scan_all(self) -> None:
        hosts = db_hosts.list_hosts(self.db)
        if not hosts:
            self.statusBar().showMessage("The inventory is empty.", 5000)
            return
        self.start_scan(hosts)

    def start_scan(self, hosts: Sequence[Host]) -> JobHandle | None:
        if not self._can_start():
            return None
        refresh = self.refresh_check.isChecked()
        runner = self.runner

        def started(handle: JobHandle) -> None:
            self._begin_job(handle, hosts, "Scan")
            self.statusBar().showMessage(f"Scanning {len(hosts)} host(s)…", 4000)

        return self._start_job(
            "Scan",
            lambda: runner.start_scan(self.db, list(hosts), refresh=refresh, accept_new_keys=False),
            started,
        )

    def _start_job(
        self,
        what: str,
        start: Callable[[], JobHandle],
        started: Callable[[JobHandle], None],
        error_title: str = "Patchdesk",
    ) -> JobHandle | None:
        """Start a job through the runner and begin showing it.

        With the job worker up (the usual case; it answers in a few milliseconds) on the spot, and the
        handle is returned. While the worker is still coming up (the first second after launch, or
        after it stopped) the wait for it happens off the main thread -- the window stays live and
        says so -- and the job begins when the worker answers (None is returned)."""
        if self.runner.ready():
            try:
                handle = start()
            except PatchdeskError as exc:
                show_known_error(self, exc, error_title)
                return None
            started(handle)
            return handle
        self.starting = what
        self._selection_changed()  # nothing else starts meanwhile
        self.statusBar().showMessage(f"{what}: waiting for the job worker to start…")
        logger.info("%s: the job worker is not up yet; starting off the main thread", what.lower())

        def begin(handle: JobHandle) -> None:
            self.starting = None
            self.statusBar().clearMessage()
            if self._closed:  # closed meanwhile: the runner's close cancels it
                handle.cancel()
                return
            started(handle)

        def failed(exc: BaseException) -> None:
            self.starting = None
            self.statusBar().clearMessage()
            if not self._closed:
                self._selection_changed()
            if not isinstance(exc, PatchdeskError):
                raise exc  # a bug: the crash hook shows it
            if not self._closed:
                show_known_error(self, exc, error_title)

        submit(self, start, begin, failed)
        return None

    def _begin_job(self, handle: JobHandle, hosts: Sequence[Host], what: str) -> None:
        self.jobs[handle.job_id] = handle
        self.active_job = handle
        self.show_inventory()  # the job's hosts, their detail and its live log
        self.job_panel.start_job(handle, hosts, what)
        self._selection_changed()
        if self.detail.host is not None and self.detail.host.id in {h.id for h in hosts}:
            self.detail.refresh()  # the new job shows in the History tab at once
        logger.info("started %s job %d of %d hosts", what.lower(), handle.job_id, len(hosts))

    def _can_start(self) -> bool:
        if self.runner is None:
            return False
        if self.job_panel.is_running() or self.starting is not None:
            self.statusBar().showMessage("A job is already running; wait for it or cancel it.", 5000)
            return False
        return True

    # -- patch, verify, rollback --------------------------------------------------------------------

    @Slot()
    def patch_selected(self) -> None:
        hosts = self.inventory.selected_hosts() or db_hosts.list_hosts(self.db)
        if not hosts:
            self.statusBar().showMessage("The inventory is empty.", 5000)
            return
        if not self._can_start():
            return
        hosts = [self._fresh(h.id) or h for h in hosts]
        from ui.dialogs.patch_dialog import PatchDialog

        dlg = PatchDialog(self.db, self.runner, hosts, self)
        self._open_dialog(dlg, lambda: self._patch_confirmed(dlg))

    def _patch_confirmed(self, dlg: PatchDialog) -> None:
        if dlg.request is not None:
            self.start_patch(dlg.request)

    def start_patch(self, request: PatchRequest) -> JobHandle | None:
        if not request.hosts or not self._can_start():
            return None
        runner = self.runner

        def started(handle: JobHandle) -> None:
            audit.record(
                self.db,
                audit.PATCH_STARTED,
                ", ".join(h.name for h in request.hosts),
                {
                    "job": handle.job_id,
                    "hosts": [h.name for h in request.hosts],
                    "changes": request.change_count,
                },
            )
            self._begin_job(handle, request.hosts, "Patch")
            self.statusBar().showMessage(
                f"Patching {len(request.hosts)} host(s): {request.change_count} change(s)…", 5000
            )

        return self._start_job(
            "Patch",
            lambda: runner.start_patch(
                self.db, list(request.hosts), request.selections, reboot=request.reboot, verify=request.verify
            ),
            started,
        )

    @Slot()
    def verify_selected(self) -> None:
        hosts = self.inventory.selected_hosts()
        if hosts:
            self.start_verify(hosts)
        else:
            self.statusBar().showMessage("Select the hosts to verify first.", 5000)

    @Slot(object)
    def verify_host(self, host: Host) -> None:
        self.start_verify([host])

    def start_verify(self, hosts: Sequence[Host]) -> JobHandle | None:
        if not self._can_start():
            return None
        hosts = [self._fresh(h.id) or h for h in hosts]
        runner = self.runner

        def started(handle: JobHandle) -> None:
            self._begin_job(handle, hosts, "Verify")
            self.statusBar().showMessage(f"Verifying {len(hosts)} host(s)…", 4000)

        return self._start_job("Verify", lambda: runner.start_verify(self.db, hosts), started)

    @Slot()
    def rollback_selected(self) -> None:
        """Roll back each selected host's newest patch that is not rolled back yet."""
        from app.jobs.selection import rollback_request

        hosts = [self._fresh(h.id) or h for h in self.inventory.selected_hosts()]
        if not hosts or not self._can_start():
            return
        requests, skipped = [], []
        for h in hosts:
            assert h.id is not None
            if db_changes.last_patch_job(self.db, h.id) is None:
                skipped.append(f"{h.name} has no patch to roll back.")
                continue
            try:
                requests.append((h, rollback_request(self.db, h, None)))
            except PatchdeskError as exc:
                skipped.append(str(exc))
        if not requests:
            show_error(self, "\n".join(skipped), "Nothing to roll back")
            return
        from ui.dialogs.rollback_dialog import RollbackDialog

        dlg = RollbackDialog(requests, skipped, self)
        self._open_dialog(dlg, lambda: self.start_rollback(dlg.hosts(), None))

    @Slot(object, int)
    def rollback_job(self, host: Host, job_id: int) -> None:
        """Roll back patch job ``job_id`` on ``host`` (the History tab's button)."""
        if not self._can_start():
            return
        from app.jobs.selection import rollback_request

        host = self._fresh(host.id) or host
        try:
            req = rollback_request(self.db, host, job_id)
        except PatchdeskError as exc:
            show_known_error(self, exc, "Nothing to roll back")
            return
        from ui.dialogs.rollback_dialog import RollbackDialog

        dlg = RollbackDialog([(host, req)], (), self)
        self._open_dialog(dlg, lambda: self.start_rollback([host], job_id))

    def start_rollback(self, hosts: Sequence[Host], job_id: int | None) -> JobHandle | None:
        if not self._can_start():
            return None
        runner = self.runner

        def started(handle: JobHandle) -> None:
            audit.record(
                self.db,
                audit.ROLLBACK_STARTED,
                ", ".join(h.name for h in hosts),
                {"job": handle.job_id, "hosts": [h.name for h in hosts], "undo_job": job_id},
            )
            self._begin_job(handle, hosts, "Rollback")
            self.statusBar().showMessage(f"Rolling back {len(hosts)} host(s)…", 4000)

        # an error (e.g. rolled back meanwhile) is a sentence, nothing started
        return self._start_job(
            "Rollback",
            lambda: runner.start_rollback(self.db, list(hosts), job_id=job_id),
            started,
            "Nothing to roll back",
        )

    @Slot()
    def cancel_job(self) -> None:
        if self.active_job is not None and not self.active_job.done.is_set():
            self.job_panel._cancel()

    @Slot(list)
    def on_events(self, events: list[Event]) -> None:
        if self._closed:
            return
        ended: list[int] = []
        for ev in events:
            if ev.job_id not in self.jobs:
                continue
            if isinstance(ev, HostStateChanged):
                self.inventory.model.set_busy([ev.host_id], ev.state == StepState.RUNNING)
                if ev.state.finished:
                    self._dirty.add(ev.host_id)
            elif isinstance(ev, (ScanRecorded, VerificationRecorded, ChangesRecorded, RolledBack)):
                self._dirty.add(ev.host_id)
            elif isinstance(ev, JobStateChanged) and ev.state in (
                JobState.FINISHED,
                JobState.CANCELLED,
                JobState.INTERRUPTED,
            ):
                ended.append(ev.job_id)
        if self._dirty and not self._row_timer.isActive():
            self._row_timer.start()
        for job_id in ended:
            self._job_ended(job_id)

    @Slot()
    def _refresh_dirty_rows(self) -> None:
        if self._closed:
            return
        ids, self._dirty = self._dirty, set()
        self._refresh_rows(ids)

    def _refresh_rows(self, ids: set[int]) -> None:
        fresh = db_hosts.get_hosts(self.db, ids)  # one query, not one per host
        self.inventory.update_hosts(fresh)
        if self.detail.host is not None and self.detail.host.id in ids:
            # the row just read (None when the host was removed meanwhile)
            shown = self.detail.host.id
            self.detail.show_host(next((h for h in fresh if h.id == shown), None))
        self._update_summary()

    def _job_ended(self, job_id: int) -> None:
        handle = self.jobs.get(job_id)
        if handle is None:
            return
        runner = self.runner
        self._selection_changed()

        def settle() -> bool:  # pool thread: the handle settles right after the event; then flush
            handle.wait(FINAL_FLUSH_TIMEOUT)
            return runner.flush(FINAL_FLUSH_TIMEOUT) if runner is not None else True

        submit(self, settle, lambda ok: self._job_persisted(handle, bool(ok)))

    def _job_persisted(self, handle: JobHandle, flushed: bool) -> None:
        if self._closed:
            return
        if not flushed:
            logger.warning("job %d: the recorder did not flush in time; rows may lag", handle.job_id)
        ids = {h.id for h in handle.hosts if h.id is not None}
        self.inventory.model.set_busy(ids, False)
        self._refresh_rows(ids)
        counts = self.job_panel.counts() if self.job_panel.handle is handle else {}
        ok = counts.get(StepState.SUCCEEDED, 0)
        bad = len(ids) - ok
        verdicts = [self.job_panel.verdict(hid)[0] for hid in ids] if counts else []
        seen = {v: verdicts.count(v) for v in ("green", "amber", "red") if v in verdicts}
        what = self.job_panel.what or "Job"
        text = f"{what} job #{handle.job_id} finished: {ok} ok" + (f", {bad} not ok" if bad else "")
        if seen:
            text += "; verification " + ", ".join(f"{n} {v}" for v, n in seen.items())
        self.statusBar().showMessage(text + ".", 10000)
        self._selection_changed()
        self._sync_job_panel()
        self.dashboard.refresh()
        self._raise_alerts(handle)
        self._offer_host_keys(handle)

    # -- host keys ------------------------------------------------------------------------------

    def _offer_host_keys(self, handle: JobHandle) -> None:
        from ui.dialogs.host_key_dialog import KeyOffer

        unknown: list[KeyOffer] = []
        changed: list[KeyOffer] = []
        for outcome in handle.outcomes.values():
            kind = outcome.details.get("kind")
            if kind not in ("host-key-unknown", "host-key-changed"):
                continue
            d = outcome.details
            offer = KeyOffer(
                host=self._fresh(outcome.host.id) or outcome.host,
                keytype=str(d.get("keytype", "")),
                key_b64=str(d.get("key_b64", "")),
                fingerprint=str(d.get("fingerprint", "")),
                old_fingerprint=d.get("old_fingerprint"),
            )
            (unknown if kind == "host-key-unknown" else changed).append(offer)
        if unknown:
            unknown.sort(key=lambda o: o.host.name.casefold())
            self._key_queue.append(lambda: self._first_contact_dialog(unknown))
        for offer in changed:
            self._key_queue.append(lambda offer=offer: self._changed_key_dialog(offer))
        self._next_key_dialog()

    def _next_key_dialog(self) -> None:
        if self.active_dialog is not None and self.active_dialog.isVisible():
            return
        if self._key_queue:
            make = self._key_queue.pop(0)
            dlg = make()
            dlg.finished.connect(lambda _r: QTimer.singleShot(0, self._next_key_dialog))
            return
        if self._rescan and not self.job_panel.is_running():
            hosts = [self._fresh(hid) or h for hid, h in self._rescan.items()]
            self._rescan = {}
            self.start_scan(hosts)

    def _first_contact_dialog(self, offers: list[KeyOffer]) -> QDialog:
        from ui.dialogs.host_key_dialog import FirstContactDialog

        dlg = FirstContactDialog(offers, self)

        def trust() -> None:
            for o in offers:
                db_hosts.trust_host_key(self.db, o.host_key())
                audit.record(
                    self.db,
                    audit.HOST_KEY_ACCEPTED,
                    o.host.name,
                    {"fingerprint": o.fingerprint, "first_contact": True},
                )
                assert o.host.id is not None
                self._rescan[o.host.id] = o.host
            logger.info("trusted first-contact host keys of %s", ", ".join(o.host.name for o in offers))

        return self._open_dialog(dlg, trust)

    def _changed_key_dialog(self, offer: KeyOffer) -> QDialog:
        from ui.dialogs.host_key_dialog import ChangedKeyDialog

        dlg = ChangedKeyDialog(offer, self)

        def accept_new() -> None:
            db_hosts.trust_host_key(self.db, offer.host_key(), replace=True)
            audit.record(
                self.db,
                audit.HOST_KEY_ACCEPTED,
                offer.host.name,
                {"fingerprint": offer.fingerprint, "replaced": offer.old_fingerprint},
            )
            assert offer.host.id is not None
            self._rescan[offer.host.id] = offer.host
            logger.warning(
                "accepted a changed host key for %s: %s -> %s",
                offer.host.name,
                offer.old_fingerprint,
                offer.fingerprint,
            )

        return self._open_dialog(dlg, accept_new)

    # -- dashboard, updates, reports, alerts ---------------------------------------------------------

    def show_inventory(self) -> None:
        self.tabs.setCurrentWidget(self.inventory_tab)

    def _sync_job_panel(self) -> None:
        """The job panel belongs to the inventory; elsewhere it shows only while a job runs."""
        on_inventory = self.tabs.currentWidget() is self.inventory_tab
        self.job_panel.setVisible(on_inventory or self.job_panel.is_running())

    @Slot(int)
    def _tab_changed(self, index: int) -> None:
        widget = self.tabs.widget(index)
        key = next((k for k, p in self._placeholders.items() if p is widget), None)
        if key is not None:
            widget = self._view(key)  # first visit: build it in the placeholder's place
        self._sync_job_panel()
        views = self._views
        if widget is views.get("logs"):
            self.logs_view.reload_choices()
            if not self.logs_view.rows:
                self.logs_view.search()
        elif widget is views.get("audit"):
            self.audit_view.reload()
        elif widget is views.get("advisories"):
            self.advisories_view.ensure_loaded()
        elif widget is views.get("schedule"):
            self.schedule_view.reload()

    # -- tabs built on first use -------------------------------------------------------------------

    def _make_view(self, key: str) -> QWidget:
        if key == "updates":
            from ui.views.update_view import UpdateView

            updates = UpdateView(self.db)
            updates.hosts_requested.connect(self.show_hosts)
            return updates
        if key == "advisories":
            from ui.views.advisories_view import AdvisoriesView

            advisories = AdvisoriesView(self.db)
            advisories.hosts_requested.connect(self.show_hosts)
            advisories.data_changed.connect(self.reload_hosts)
            return advisories
        if key == "schedule":
            from ui.views.schedule_view import ScheduleView

            schedule = ScheduleView(self.db)
            schedule.set_scheduler_status(self._scheduler_status)
            return schedule
        if key == "logs":
            from ui.views.logs_view import LogsView

            return LogsView(self.db)
        if key == "audit":
            from ui.views.audit_view import AuditView

            return AuditView(self.db)
        raise KeyError(key)

    def _view(self, key: str) -> QWidget:
        """The tab's view, built now if this is its first use (it takes its placeholder's place)."""
        view = self._views.get(key)
        if view is not None:
            return view
        view = self._make_view(key)
        self._views[key] = view
        placeholder = self._placeholders.pop(key)
        index = self.tabs.indexOf(placeholder)
        current = self.tabs.currentIndex()
        title = self.tabs.tabText(index)
        blocked = self.tabs.blockSignals(True)
        try:
            self.tabs.removeTab(index)
            self.tabs.insertTab(index, view, title)
            self.tabs.setCurrentIndex(current)
        finally:
            self.tabs.blockSignals(blocked)
        placeholder.deleteLater()
        return view

    @property
    def updates_view(self) -> UpdateView:
        return self._view("updates")  # type: ignore[return-value]

    @property
    def advisories_view(self) -> AdvisoriesView:
        return self._view("advisories")  # type: ignore[return-value]

    @property
    def schedule_view(self) -> ScheduleView:
        return self._view("schedule")  # type: ignore[return-value]

    @property
    def logs_view(self) -> LogsView:
        return self._view("logs")  # type: ignore[return-value]

    @property
    def audit_view(self) -> AuditView:
        return self._view("audit")  # type: ignore[return-value]

    def _set_scheduler_status(self, text: str) -> None:
        self._scheduler_status = text
        schedule = self._views.get("schedule")
        if schedule is not None:
            schedule.set_scheduler_status(text)  # type: ignore[attr-defined]

    @Slot(list, str)
    def show_hosts(self, ids: list[int], label: str) -> None:
        """A tile or chart segment: the inventory restricted to those hosts."""
        self.inventory.filter_edit.clear()
        self.inventory.set_scope(list(ids), label)
        self.show_inventory()

    @Slot(str, object, str)
    def show_updates(self, classification: str, group: object, label: str) -> None:
        self.updates_view.show_list(
            classification or None,
            group if isinstance(group, str) else None,
            label,
            self.dashboard.current_filter(),
        )
        self.tabs.setCurrentWidget(self.updates_view)

    @Slot(str)
    def show_update(self, spec: str) -> None:
        self.updates_view.show_update(spec)
        self.tabs.setCurrentWidget(self.updates_view)

    @Slot()
    def export_report_dialog(self) -> None:
        path, chosen = QFileDialog.getSaveFileName(
            self,
            "Export compliance report",
            "patchdesk-compliance.pdf",
            "PDF (*.pdf);;HTML (*.html);;CSV (*.csv);;JSON (*.json)",
        )
        if not path:
            return
        fmt = chosen.split(" ", 1)[0].lower() if chosen else "pdf"
        suffix = path.rsplit(".", 1)[-1].lower() if "." in path else ""
        if suffix in ("pdf", "html", "csv", "json"):
            fmt = suffix
        try:
            self.export_report(path, fmt)
        except (PatchdeskError, OSError, ValueError) as exc:
            show_error(self, f"The report was not written: {exc}", "Report")
            return
        self.statusBar().showMessage(f"Wrote the {fmt.upper()} report to {path}.", 8000)

    def export_report(self, path: str, fmt: str) -> None:
        """Write the report for the dashboard's current scope (PDF with Qt, others as text)."""
        from pathlib import Path

        from app.reports import render
        from app.services.reports import build_report
        from ui.report_pdf import write_pdf

        scope = self.dashboard.current_filter()
        report = build_report(self.db, scope)
        target = Path(path)
        if fmt == "pdf":
            write_pdf(report, target)
        else:
            text = {"csv": render.to_csv, "json": render.to_json, "html": render.to_html}[fmt](report)
            target.write_text(text, encoding="utf-8")
        audit.record(self.db, audit.REPORT_EXPORTED, str(target), {"format": fmt, "scope": scope.describe()})

    def _setup_tray(self) -> None:
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(app_icon(), self)
            self.tray.setToolTip("Patchdesk")
            menu = QMenu(self)
            menu.addAction("Show Patchdesk", self.show_from_tray)
            menu.addAction("Run due work now", self.run_due_now)
            menu.addSeparator()
            menu.addAction("Quit", self.quit_app)
            self.tray.setContextMenu(menu)
            self.tray.activated.connect(self._tray_activated)
            self.tray.show()

    @Slot(QSystemTrayIcon.ActivationReason)
    def _tray_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.show_from_tray()

    @Slot()
    def show_from_tray(self) -> None:
        self.showNormal()
        self.raise_()
        self.activateWindow()

    @Slot()
    def quit_app(self) -> None:
        """Really quit (the window's close button only hides it to the tray while the scheduler runs)."""
        self._quitting = True
        self.close()
        if self._closed and self.tray is not None:
            QApplication.quit()  # a hidden window's close does not end the event loop by itself
        self._quitting = self._closed

    # -- the scheduler while the console is open ----------------------------------------------------

    def _setup_scheduler(self, enabled: bool | None) -> None:
        """Run due work every minute on a thread of its own (``run_due`` blocks while its jobs run and
        takes the database lock, so it never does the same work as a concurrent `patchdesk run-due`).
        Off without a runner; ``PATCHDESK_SCHEDULER=off`` turns it off (the UI tests do)."""
        if enabled is None:
            setting = os.environ.get("PATCHDESK_SCHEDULER", "on").strip().lower()
            enabled = setting not in ("0", "off", "no", "false")
        self.scheduler_enabled = bool(enabled) and self.runner is not None
        self._quitting = False
        self._told_tray = False
        self._due_busy = False
        self.due_reports: list[object] = []  # app.jobs.scheduler.DueReport, newest last (tests)
        self._due_pool = QThreadPool(self)
        self._due_pool.setMaxThreadCount(1)
        self._due_timer = QTimer(self)
        self._due_timer.setInterval(SCHEDULER_INTERVAL_MS)
        self._due_timer.timeout.connect(self.run_due_now)
        if self.scheduler_enabled:
            self._due_timer.start()
            QTimer.singleShot(SCHEDULER_FIRST_MS, self.run_due_now)
            self._set_scheduler_status(
                "The scheduler runs due work every minute while Patchdesk is open (and from the tray)."
            )
        else:
            self._set_scheduler_status(
                "The scheduler is off in this console; run due work with `patchdesk run-due` "
                "(cron, a systemd timer or Windows Task Scheduler)."
            )

    @Slot()
    def run_due_now(self) -> None:
        """One scheduler pass on the scheduler's thread; skipped while one runs or a job of ours runs."""
        if self._closed or self._due_busy or self.runner is None:
            return
        if self.job_panel.is_running():
            logger.info("scheduler pass skipped: a job started from the window is running")
            return
        db_path = self.dashboard.db_path
        if not db_path:
            return
        from app.jobs.scheduler import run_due

        runner, secrets = self.runner, self.secrets
        self._due_busy = True

        def work() -> object:
            return run_due(db_path, runner=runner, secrets=secrets, owner="Patchdesk console")

        submit(self, work, self._due_done, self._due_failed, pool=self._due_pool)

    def _due_done(self, report) -> None:  # type: ignore[no-untyped-def]
        self._due_busy = False
        if self._closed:
            return
        self.due_reports.append(report)
        from datetime import datetime

        at = datetime.now().strftime("%H:%M")
        if report.locked_by:
            text = f"Scheduler pass at {at}: another scheduler is running due work ({report.locked_by})."
        else:
            did = [
                f"{len(report.scans)} scan(s)" if report.scans else "",
                f"{len(report.promotions)} promotion(s)" if report.promotions else "",
                f"{len(report.patches)} patch run(s)" if report.patches else "",
                f"{len(report.deferred)} deferred" if report.deferred else "",
            ]
            done = ", ".join(d for d in did if d)
            text = f"Scheduler pass at {at}: " + (done or "nothing due") + "."
        self._set_scheduler_status(text)
        if report.scans or report.patches or report.promotions:
            self.statusBar().showMessage(text, 10000)
            self.reload_hosts()
            schedule = self._views.get("schedule")
            if schedule is not None and self.tabs.currentWidget() is schedule:
                schedule.reload()  # type: ignore[attr-defined]

    def _due_failed(self, exc: BaseException) -> None:
        self._due_busy = False
        if self._closed:
            return
        if isinstance(exc, PatchdeskError):
            self._set_scheduler_status(f"The scheduler pass failed: {exc}")
            logger.warning("scheduler pass failed: %s", exc)
            return
        logger.error("scheduler pass failed", exc_info=(type(exc), exc, exc.__traceback__))
        self._set_scheduler_status(f"The scheduler pass failed (see the log): {exc}")

    def notify(self, alert: app_alerts.Alert) -> None:
        """The desktop side of an alert: the tray balloon (or the status bar without a tray)."""
        from app.services import alerts as app_alerts

        self.alerts_shown.append(alert)
        icon_kind = (
            QSystemTrayIcon.MessageIcon.Critical
            if alert.kind
            in (
                app_alerts.AlertKind.JOB_FAILED,
                app_alerts.AlertKind.VERIFICATION_RED,
                app_alerts.AlertKind.HOST_KEY_CHANGED,
            )
            else QSystemTrayIcon.MessageIcon.Warning
        )
        if self.tray is not None:
            self.tray.showMessage(alert.title, alert.message, icon_kind, 15000)
        else:
            self.statusBar().showMessage(f"{alert.title}: {alert.message}", 15000)

    def _raise_alerts(self, handle: JobHandle) -> None:
        from app.services import alerts as app_alerts

        try:
            changes = app_alerts.key_changes_from_outcomes(handle.outcomes.values())
            found = app_alerts.job_alerts(self.db, handle.job_id, changes)
        except PatchdeskError as exc:
            logger.warning("alerts for job %d not computed: %s", handle.job_id, exc)
            return
        if not found:
            return
        if app_alerts.desktop_enabled(self.db):
            for a in found:
                self.notify(a)
        settings = app_alerts.email_settings(self.db)
        if settings.enabled:
            db_path = self.dashboard.db_path
            secrets = self.secrets

            def mail() -> list[str]:  # pool thread: SMTP with its own timeout, own connection
                from db.database import open_database

                own = open_database(db_path, migrate=False) if db_path else None
                try:
                    return app_alerts.deliver(own, found, secrets=secrets, settings=settings) if own else []
                finally:
                    if own is not None:
                        own.conn.close()

            submit(
                self,
                mail,
                lambda problems: problems and self.statusBar().showMessage(problems[0], 15000),
                lambda exc: self.statusBar().showMessage(f"The alert mail was not sent: {exc}", 15000),
            )

    def _startup_maintenance(self) -> None:
        """Prune logs past the retention (off the main thread; says how many), then the dashboard
        computes today's snapshot with its first refresh."""
        from db import joblogs

        days = joblogs.retention_days(self.db)
        db_path = self.dashboard.db_path
        if not days or not db_path:
            return

        def prune() -> int:
            from db.database import open_database

            own = open_database(db_path, migrate=False)
            try:
                return audit.prune_logs(own, days)
            finally:
                own.conn.close()

        def done(n: int) -> None:
            if n and not self._closed:
                self.logs_view.show_pruned(n, days)
                self.statusBar().showMessage(f"Pruned {n} job log line(s) older than {days} days.", 10000)

        submit(self, prune, done, lambda exc: logger.warning("log pruning failed: %s", exc))

    def _audit_host_saved(self, dlg: HostDialog) -> None:
        saved = dlg.saved_host
        if saved is None:
            return
        action = audit.HOST_ADDED if dlg.original is None else audit.HOST_EDITED
        details: dict[str, object] = {"address": saved.address, "transport": str(saved.transport)}
        if dlg.original is not None:
            before, after = dlg.original, saved
            details["changed"] = sorted(
                f
                for f in (
                    "name",
                    "address",
                    "port",
                    "user",
                    "key_file",
                    "group",
                    "ring",
                    "criticality",
                    "use_sudo",
                    "reboot_policy",
                    "pre_command",
                    "post_command",
                    "services",
                    "transport",
                )
                if getattr(before, f) != getattr(after, f)
            )
        audit.record(self.db, action, saved.name, details)
        changed = [k for k, e in (("login", dlg.password_edit), ("sudo", dlg.sudo_password_edit)) if e.text()]
        if changed and (saved.credential_ref or saved.sudo_ref):
            audit.record(self.db, audit.CREDENTIALS_CHANGED, saved.name, {"stored": changed})

    # -- keyring and shutdown -------------------------------------------------------------------

    def _check_keyring(self) -> None:
        if self.secrets is None:
            self.keyring_label.setText("Keyring: not available")
            return
        store = self.secrets
        self.keyring_label.setText("Keyring: checking…")

        def done(result: object) -> None:
            ok, message = result if isinstance(result, tuple) else (False, str(result))
            self.keyring_label.setText("Keyring: ok" if ok else "Keyring: unavailable")
            self.keyring_label.setToolTip(str(message))

        submit(self, store.status, done, lambda exc: done((False, str(exc))))

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.tray is not None and self.scheduler_enabled and not self._quitting:
            # the scheduler keeps working in the tray; File → Quit (or the tray's Quit) really quits
            event.ignore()
            self.hide()
            if not self._told_tray:
                self._told_tray = True
                self.tray.showMessage(
                    "Patchdesk keeps running",
                    "Scheduled scans, urgent pushes and maintenance windows go on from the tray. "
                    "Use Quit in its menu to stop them.",
                    QSystemTrayIcon.MessageIcon.Information,
                    8000,
                )
            return
        running = [h for h in self.jobs.values() if not h.done.is_set()]
        if running:
            box = QMessageBox(
                QMessageBox.Icon.Question,
                "Quit Patchdesk",
                "A job is still running. Cancel it and quit? Hosts not finished are recorded as cancelled.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                self,
            )
            if box.exec() != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
            for h in running:
                h.cancel()
            for h in running:
                h.wait(5.0)
        if self._due_busy:
            # run_due cannot be cancelled from here: its running host steps finish (the window's pool
            # waits for the pass when it is destroyed); a killed process marks them interrupted.
            logger.warning("quitting while a scheduler pass runs; waiting for its host steps to finish")
        self._closed = True
        self.bridge.stop()
        self._row_timer.stop()
        self._due_timer.stop()
        super().closeEvent(event)
