"""The main window: toolbar, menus, the tabs (dashboard, inventory with host detail, the views built on
first use), the job panel and the status bar.

The window composes the views, keeps the actions enabled as the selection and a running job allow,
and owns the parts that act on them, each a small QObject in its own module: job control
(ui/jobs_controller.py), host CRUD (ui/hosts_controller.py), host keys met by a job
(ui/host_keys_controller.py), the tray and alerts (ui/tray.py), the scheduler's timer
(ui/scheduler_controller.py), report export (ui/report_export.py) and the tabs built on first use
(ui/lazy_tabs.py). What others reach on the window (the first-run assistant, the tests) stays there:
``jobs``, ``active_job``, ``start_scan``, ``add_host``, ``tray``, ``due_reports`` and the like.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QGuiApplication, QKeySequence, QResizeEvent
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QSystemTrayIcon,
    QTabWidget,
    QToolBar,
    QToolButton,
    QWidget,
)

from app.domain.errors import ConfigError
from app.domain.models import Host
from app.jobs.engine import JobHandle
from app.services import audit
from db import hardware as db_hardware
from db import hosts as db_hosts
from db import jobs as db_jobs
from db import tiles as db_tiles
from ui import theme
from ui.bridge import EventBridge
from ui.host_keys_controller import HostKeyOffers
from ui.hosts_controller import HostsController
from ui.jobs_controller import JobsController
from ui.lazy_tabs import LazyTabs
from ui.numbers import count_text
from ui.report_export import ReportExporter
from ui.resources import app_icon, icon
from ui.scheduler_controller import SchedulerController
from ui.tray import TrayController
from ui.verdicts import verify_scope
from ui.views.dashboard import DashboardView
from ui.views.host_detail import HostDetailView
from ui.views.inventory import InventoryView
from ui.views.job_panel import JobPanel
from ui.widgets.alerts_bell import AlertsBell
from ui.workers import submit

if TYPE_CHECKING:
    from app.services import alerts as app_alerts

    # The tabs other than Dashboard and Inventory are built on first use (start-up time).
    from ui.views.advisories_view import AdvisoriesView
    from ui.views.audit_view import AuditView
    from ui.views.baselines_view import BaselinesView
    from ui.views.logs_view import LogsView
    from ui.views.schedule_view import ScheduleView
    from ui.views.update_view import UpdateView

logger = logging.getLogger(__name__)

#: The start-up chores that run on pool threads (the keyring check, which imports keyring, and log
#: pruning) wait this long, so they do not take the GIL from the window's first paint.
STARTUP_CHORES_DELAY_MS = 800
#: The status bar's word on the system keyring, in plain words rather than "Keyring: ok" (#23 item 9).
PASSWORDS_CHECKING = "Saved passwords: checking…"
PASSWORDS_OK = "Saved passwords: in the system keyring"
PASSWORDS_UNAVAILABLE = "Saved passwords: unavailable"  # the tooltip says why
#: The host detail's hint when the window has no job runner (a look at the data only, e.g. screenshots);
#: one line beside the buttons: a second one made the History splitter jump.
NO_RUNNER_HINT = "This window cannot start jobs."


class MainWindow(QMainWindow):
    def __init__(  # type: ignore[no-untyped-def]
        self, db, runner=None, secrets=None, parent: QWidget | None = None, *, scheduler: bool | None = None
    ) -> None:
        super().__init__(parent)
        self.db = db
        self.runner = runner
        self.secrets = secrets
        self.active_dialog: QDialog | None = None
        self._guide: QDialog | None = None  # Help → User guide, kept while open
        self._closed = False  # after closeEvent: late pool results must not touch the database
        self._quitting = False  # File → Quit (not the close button): really close, not to the tray
        # the look (View → Theme, kept in the user's settings): its palette now, its style sheet once
        # every widget is built (theme.styled_once_built)
        self.theme_choice = theme.stored_choice()
        with theme.styled_once_built(self.theme_choice):
            self._build(db, runner, scheduler)
        # the hosts once the style sheet is on: the inventory measures its columns in its own font
        self.reload_hosts()
        self.keyring_label.setText(PASSWORDS_CHECKING)
        QTimer.singleShot(STARTUP_CHORES_DELAY_MS, self, self._startup_chores)
        self.sync_job_panel()

    def _build(self, db, runner, scheduler: bool | None) -> None:  # type: ignore[no-untyped-def]
        QGuiApplication.styleHints().colorSchemeChanged.connect(self._desktop_scheme_changed)

        self.setWindowTitle("Patchdesk")
        self.setWindowIcon(app_icon())
        self.resize(1280, 800)
        self.setMinimumSize(900, 560)

        self.bridge = EventBridge(self)
        self.job_control = JobsController(self)
        self.host_control = HostsController(self)
        self.host_keys = HostKeyOffers(self)
        self.reports = ReportExporter(self)
        # before the job panel's: job control sees each batch of events first
        self.bridge.events_ready.connect(self.job_control.on_events)
        if runner is not None:
            runner.add_listener(self.bridge.listener)

        # The window's frame first, then each view straight into its place: views added to parentless
        # splitters and tabs that went into the window last cost 50 ms more of the cold start at
        # 5,000 hosts (Qt's work as the ~400 widgets change parents, measured; #25).
        main = QSplitter(Qt.Orientation.Vertical)
        main.setChildrenCollapsible(False)
        self.splitter = main
        self.setCentralWidget(main)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("mainTabs")
        self.tabs.setDocumentMode(True)
        main.addWidget(self.tabs)
        self.job_panel = JobPanel()
        self.job_panel.setObjectName("jobPanel")
        self.bridge.events_ready.connect(self.job_panel.on_events)
        main.addWidget(self.job_panel)
        main.setStretchFactor(0, 3)
        main.setStretchFactor(1, 1)
        main.setSizes([540, 240])
        # Home is the compliance dashboard; the inventory (with host detail) is the second tab.
        self.dashboard = DashboardView(db)
        self.tabs.addTab(self.dashboard, "Dashboard")
        top = QSplitter(Qt.Orientation.Horizontal)
        self.tabs.addTab(top, "Inventory")
        self.inventory = InventoryView()
        top.addWidget(self.inventory)
        self.detail = HostDetailView(db)
        top.addWidget(self.detail)
        top.setStretchFactor(0, 3)
        top.setStretchFactor(1, 2)
        top.setSizes([700, 580])
        self.lazy_tabs = LazyTabs(self, self.tabs)
        self.inventory_tab = top
        self.tabs.currentChanged.connect(self.lazy_tabs.shown)

        self._build_actions()
        self._build_toolbar()
        self._build_menus()

        self.summary_label = QLabel()
        self.keyring_label = QLabel()
        self.keyring_label.setObjectName("hintText")
        self.statusBar().addWidget(self.summary_label, 1)
        self.alerts = AlertsBell(self)  # every alert, kept until acknowledged (#23 item 7)
        self.statusBar().addPermanentWidget(self.alerts.button)
        self.statusBar().addPermanentWidget(self.keyring_label)

        self.inventory.add_host_requested.connect(self.host_control.add_host)
        self.inventory.import_requested.connect(self.host_control.import_hosts)
        self.detail.add_host_requested.connect(self.host_control.add_host)
        self.job_panel.expanded_changed.connect(self._job_panel_expanded)
        self.detail.rollback_requested.connect(self.job_control.rollback_job)
        self.detail.verify_requested.connect(self.job_control.verify_host)
        self.inventory.selection_changed.connect(self.update_actions)
        self.inventory.host_activated.connect(self.host_control.edit_host)
        self.dashboard.hosts_requested.connect(self.show_hosts)
        self.dashboard.updates_requested.connect(self.show_updates)
        self.dashboard.update_requested.connect(self.show_update)
        self.dashboard.report_requested.connect(self.reports.export_report_dialog)
        self.dashboard.add_host_requested.connect(self.add_host)
        self.detail.drift_panel.changed.connect(self.dashboard.refresh)
        self.tray_control = TrayController(self)
        self.scheduler = SchedulerController(self, scheduler)

    # -- the parts' state and the entry points used from outside (first-run, tests, tools) --------

    @property
    def closed(self) -> bool:
        """After closeEvent: late pool results must not touch the database."""
        return self._closed

    @property
    def jobs(self) -> dict[int, JobHandle]:
        return self.job_control.jobs

    @property
    def active_job(self) -> JobHandle | None:
        return self.job_control.active_job

    @property
    def starting(self) -> str | None:
        """What is being started while the job worker comes up ("Scan", ...), else None."""
        return self.job_control.starting

    @property
    def tray(self) -> QSystemTrayIcon | None:
        return self.tray_control.tray

    @tray.setter
    def tray(self, tray: QSystemTrayIcon | None) -> None:
        self.tray_control.tray = tray

    @property
    def alerts_shown(self) -> list[object]:
        return self.tray_control.alerts_shown

    @property
    def scheduler_enabled(self) -> bool:
        return self.scheduler.enabled

    @property
    def due_reports(self) -> list[object]:
        return self.scheduler.due_reports

    def start_scan(self, hosts: Sequence[Host]) -> JobHandle | None:
        return self.job_control.start_scan(hosts)

    def rollback_job(self, host: Host, job_id: int) -> None:
        self.job_control.rollback_job(host, job_id)

    def add_host(self) -> None:
        self.host_control.add_host()

    def notify(self, alert: app_alerts.Alert) -> None:
        self.tray_control.notify(alert)

    @Slot()
    def run_due_now(self) -> None:
        self.scheduler.run_due_now()

    @Slot()
    def show_alerts(self) -> QDialog:
        """The alerts list (the bell in the status bar, View → Alerts…)."""
        return self.alerts.open_list()

    def export_report(self, path: str, fmt: str) -> None:
        self.reports.export_report(path, fmt)

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
            "Add host", "add", self.host_control.add_host, "Ctrl+N", "Add a host to the inventory"
        )
        self.edit_action = self._action(
            "Edit", "edit", self.host_control.edit_selected, "Ctrl+E", "Edit the selected host"
        )
        self.remove_action = self._action(
            "Remove",
            "remove",
            self.host_control.remove_selected,
            QKeySequence.StandardKey.Delete,
            "Remove the selected hosts",
        )
        self.import_action = self._action(
            "Import…",
            "import",
            self.host_control.import_hosts,
            "Ctrl+I",
            "Import hosts from CSV, Ansible or an SSH config",
        )
        self.scan_selected_action = self._action(
            "Scan selected",
            "scan",
            self.job_control.scan_selected,
            "F5",
            "Look for pending updates on the selected hosts",
        )
        self.scan_all_action = self._action(
            "Scan all",
            "scan-all",
            self.job_control.scan_all,
            "Shift+F5",
            "Look for pending updates on every host",
        )
        self.patch_action = self._action(
            "Patch…",
            "patch",
            self.job_control.patch_selected,
            "Ctrl+Shift+P",
            "Install pending updates on the selected hosts (all hosts when none is selected)",
        )
        self.verify_action = self._action(
            "Verify",
            "verify",
            self.job_control.verify_selected,
            "Ctrl+Shift+V",
            "Rescan the selected hosts and check each against its last patch, or its last scan",
        )
        self.rollback_action = self._action(
            "Roll back…",
            "rollback",
            self.job_control.rollback_selected,
            "Ctrl+Shift+R",
            "Undo the last patch on the selected hosts",
        )
        self.cancel_action = self._action(
            "Cancel job", "cancel", self.job_control.cancel_job, "Ctrl+.", "Cancel the running job"
        )
        self.report_action = self._action(
            "Report…",
            None,
            self.reports.export_report_dialog,
            QKeySequence.StandardKey.Print,
            "Export a compliance report (PDF, HTML, CSV, JSON)",
        )
        # every tab by Ctrl+1..Ctrl+7, in tab order (the lazy ones are built when first shown)
        self.tab_actions: list[QAction] = []
        for index in range(self.tabs.count()):
            act = QAction(self.tabs.tabText(index), self)
            act.setShortcut(QKeySequence(f"Ctrl+{index + 1}"))
            act.triggered.connect(lambda _checked=False, i=index: self.tabs.setCurrentIndex(i))
            self.tab_actions.append(act)
        self.dashboard_action, self.inventory_action = self.tab_actions[0], self.tab_actions[1]
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

    #: The toolbar's looks, richest first: the first that fits the window's width is used, so every
    #: action stays one click away at 1280 px and at the minimum size (#23 item 2), with its name
    #: wherever the name fits.
    TOOLBAR_STYLES = (
        Qt.ToolButtonStyle.ToolButtonTextBesideIcon,
        Qt.ToolButtonStyle.ToolButtonTextUnderIcon,
        Qt.ToolButtonStyle.ToolButtonIconOnly,
    )

    def _fit_toolbar(self) -> None:
        tb = self.toolbar
        room = self.width() - 8  # the main window's margins around its toolbar area
        for style in self.TOOLBAR_STYLES:
            tb.setToolButtonStyle(style)
            tb.layout().invalidate()  # its size hint is cached until the next layout pass
            if tb.layout().sizeHint().width() <= room:
                break
        # Report… has no icon of its own: it keeps its name when the others show only theirs
        report = tb.widgetForAction(self.report_action)
        if isinstance(report, QToolButton) and tb.toolButtonStyle() == Qt.ToolButtonStyle.ToolButtonIconOnly:
            report.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self._fit_toolbar()

    def _build_menus(self) -> None:
        mb = self.menuBar()
        file_menu = mb.addMenu("&File")
        file_menu.addAction(self.import_action)
        file_menu.addAction(self.report_action)
        self.bundles_action = file_menu.addAction("Offline bundles…")
        self.bundles_action.setStatusTip(
            "Carry updates to hosts without a repository: request, create, apply"
        )
        self.bundles_action.triggered.connect(self.show_bundles)
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
        for act in self.tab_actions:
            view_menu.addAction(act)
        view_menu.addSeparator()
        self.alerts_action = view_menu.addAction(icon("bell"), "&Alerts…")
        self.alerts_action.setStatusTip("Every alert raised, kept until acknowledged")
        self.alerts_action.triggered.connect(self.show_alerts)
        self.firmware_action = view_menu.addAction("&Firmware…")
        self.firmware_action.setStatusTip("Evaluate firmware and driver updates: models, hosts, approvals")
        self.firmware_action.triggered.connect(self.show_firmware)
        theme_menu = view_menu.addMenu("&Theme")
        group = QActionGroup(self)
        group.setExclusive(True)
        self.theme_actions: dict[str, QAction] = {}
        for choice, label in (("system", "&System"), ("light", "&Light"), ("dark", "&Dark")):
            act = theme_menu.addAction(label)
            act.setCheckable(True)
            act.setChecked(choice == self.theme_choice)
            act.setStatusTip(
                "Follow the desktop's colour scheme" if choice == "system" else f"Always the {choice} look"
            )
            act.triggered.connect(lambda _checked=False, c=choice: self.set_theme(c))
            group.addAction(act)
            self.theme_actions[choice] = act
        tools_menu = mb.addMenu("&Tools")
        self.settings_action = tools_menu.addAction("&Settings…")
        self.settings_action.setShortcut(QKeySequence("Ctrl+,"))
        self.settings_action.setStatusTip("Retention, stale days, syslog, alerts, look, package index age")
        self.settings_action.triggered.connect(self.show_settings)
        tools_menu.addAction(self.alerts_action)
        help_menu = mb.addMenu("&Help")
        self.guide_action = help_menu.addAction("&User guide")
        self.guide_action.setShortcut(QKeySequence(QKeySequence.StandardKey.HelpContents))
        self.guide_action.setStatusTip(
            "The first hour: add hosts, scan, the dashboard, patch, verify, roll back"
        )
        self.guide_action.triggered.connect(self.show_user_guide)
        self.about_action = help_menu.addAction("&About Patchdesk")
        self.about_action.setStatusTip("Version, licences and where the data is kept")
        self.about_action.triggered.connect(self.show_about)
        self.first_run_action = help_menu.addAction("First-run assistant…")
        self.first_run_action.setStatusTip("Data locations, keyring, this workstation, import, first scan")
        self.first_run_action.triggered.connect(self.show_first_run)

    @Slot()
    def show_firmware(self) -> QDialog:
        """View → Firmware…: the firmware evaluation view in a window of its own."""
        from ui.views.firmware_view import open_firmware_view

        dialog = open_firmware_view(self, self.db)
        dialog.view.decided.connect(self.reload_hosts)  # type: ignore[attr-defined]
        return dialog

    def about_text(self) -> str:
        """Help → About: the version, the licences Patchdesk ships under, and where its data is."""
        from app import __version__
        from app.logsetup import log_dir
        from db.database import database_file

        return "\n".join(
            [
                f"Patchdesk {__version__}",
                "Agentless patch administration for small shops.",
                "",
                f"Database: {database_file(self.db) or 'in memory'}",
                f"Logs: {log_dir()}",
                "Credentials: the OS keyring (never the database)",
                "",
                "Built on Python, Qt for Python (PySide6, LGPL-3.0), paramiko (LGPL-2.1), pywinrm (MIT),",
                "sqlite-utils (Apache-2.0), keyring (MIT) and PyYAML (MIT).",
            ]
        )

    @Slot()
    def show_user_guide(self) -> QDialog:
        """Help → User guide (F1): beside the window, not modal; one at a time."""
        from ui.dialogs.user_guide import UserGuideDialog

        if self._guide is None:
            self._guide = UserGuideDialog(self)
        self._guide.show()
        self._guide.raise_()
        self._guide.activateWindow()
        return self._guide

    @Slot()
    def show_settings(self) -> QDialog:
        """Tools → Settings… (Ctrl+,): every console setting in one validated place."""
        from ui.dialogs.settings_dialog import SettingsDialog

        dlg = SettingsDialog(
            self.db,
            theme_choice=self.theme_choice,
            secrets=self.secrets,
            on_theme=self.set_theme,
            parent=self,
        )
        return self.open_dialog(dlg, lambda: self._settings_saved(dlg.changed))

    def _settings_saved(self, changed: list[str]) -> None:
        """The views that show a setting take the new value; the status bar says what changed."""
        self.dashboard.stale_spin.setValue(db_tiles.stale_days(self.db))
        self.lazy_tabs.settings_changed()
        self.reload_hosts()  # the Status column depends on the stale days
        self.alerts.refresh()
        if changed:
            self.statusBar().showMessage("Settings saved: " + ", ".join(changed) + ".", 8000)

    @Slot()
    def show_bundles(self) -> None:
        """The offline bundles in a window of their own (built on first use, kept while open)."""
        from ui.views.bundles_view import BundlesView

        if getattr(self, "bundles_view", None) is None:
            self.bundles_view = BundlesView(self.db, self.secrets, self)
            self.bundles_view.setWindowFlag(Qt.WindowType.Window)
            self.bundles_view.setWindowTitle("Offline bundles — Patchdesk")
            self.bundles_view.resize(1000, 640)
            self.bundles_view.changed.connect(self.reload_hosts)
        self.bundles_view.reload()
        self.bundles_view.show()
        self.bundles_view.raise_()

    @Slot()
    def show_about(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, "About Patchdesk", self.about_text(), parent=self)
        box.setTextFormat(Qt.TextFormat.PlainText)  # paths are data, never markup
        box.open()

    def set_theme(self, choice: str) -> None:
        """View → Theme: apply the look and keep the choice for the next start."""
        self.theme_choice = choice if choice in theme.CHOICES else "system"
        theme.apply_theme(self.theme_choice)
        self.theme_actions[self.theme_choice].setChecked(True)
        theme.store_choice(self.theme_choice)
        self.dashboard.refresh()  # the charts take their colours when drawn
        if self.detail.host is not None:  # so does the host's status badge
            self.detail.show_host(self.detail.host)

    @Slot()
    def _desktop_scheme_changed(self) -> None:
        """The desktop switched between light and dark: follow it when the choice is "system"."""
        if self.theme_choice == "system" and not self._closed:
            theme.apply_theme("system")

    @Slot()
    def show_first_run(self) -> QDialog:
        """Help → First-run assistant… (run_gui also opens it on a first start with no hosts)."""
        from ui.dialogs.first_run import open_first_run

        return open_first_run(self)

    # -- inventory ------------------------------------------------------------------------------

    def reload_hosts(self) -> None:
        """Re-read the whole inventory (after an add, edit, removal or import)."""
        self.inventory.set_hosts(
            db_hosts.list_hosts(self.db),
            db_jobs.last_jobs(self.db),
            stale_days=db_tiles.stale_days(self.db),
            hardware=db_hardware.search_texts(self.db),
        )
        if self.active_job is not None and self.job_panel.is_running():
            self.job_control.mark_running_hosts()
        self.update_actions()
        if self.detail.host is None:  # "No hosts yet — Add host" or "Select a host"
            self.detail.show_host(None)
        self.update_summary()
        self.dashboard.refresh()

    @Slot()
    def update_actions(self) -> None:
        """Enable what the selection and a running job allow; show the selected host's detail."""
        selected = self.inventory.selected_hosts()
        running = self.job_control.is_busy()
        self.edit_action.setEnabled(len(selected) == 1)
        self.remove_action.setEnabled(bool(selected) and not running)
        self.scan_selected_action.setEnabled(bool(selected) and not running and self.runner is not None)
        self.scan_all_action.setEnabled(
            self.inventory.model.total_count() > 0 and not running and self.runner is not None
        )
        can_start = not running and self.runner is not None
        self.patch_action.setEnabled(can_start and self.inventory.model.total_count() > 0)
        verifiable, verify_tip = verify_scope(self.db, selected)
        self.verify_action.setEnabled(can_start and verifiable)
        self.verify_action.setToolTip(verify_tip)
        self.verify_action.setStatusTip(verify_tip)
        self.rollback_action.setEnabled(can_start and bool(selected))
        # without a runner no job ever runs: "wait for the running job" would be untrue
        self.detail.set_actions_allowed(
            can_start, NO_RUNNER_HINT if self.runner is None else "Wait for the running job to finish."
        )
        self.cancel_action.setEnabled(running)
        updates = self.lazy_tabs.built("updates")
        if updates is not None:
            updates.set_patch_allowed(can_start)  # type: ignore[attr-defined]
        host = selected[0] if len(selected) == 1 else None
        if host is not None:
            host = self.fresh_host(host.id) or host
        if host != self.detail.host:
            self.detail.show_host(host)

    def fresh_host(self, host_id: int | None) -> Host | None:
        """The host as the database has it now (None when it was removed meanwhile)."""
        if host_id is None:
            return None
        try:
            return db_hosts.get_host(self.db, host_id)
        except ConfigError:  # removed meanwhile
            return None

    def update_summary(self) -> None:
        count = self.inventory.model.total_count()
        if not count:
            self.summary_label.setText("The inventory is empty: add a host or import an inventory to begin.")
            return
        t = self.inventory.model.totals()  # kept up to date by the model: no pass over every host
        urgent, important, noncrit = t["urgent"], t["important"], t["noncritical"]
        bad, never, reboot = t["bad"], t["never"], t["reboot"]
        n = count_text
        parts = [
            f"{n(count)} hosts",
            f"{n(urgent)} urgent, {n(important)} important, {n(noncrit)} non-critical updates pending",
        ]
        if bad:
            parts.append(f"{n(bad)} failed or unreachable")
        if reboot:
            parts.append(f"{n(reboot)} need a reboot")
        if never:
            parts.append(f"{n(never)} never scanned")
        self.summary_label.setText("  ·  ".join(parts))

    def open_dialog(self, dialog: QDialog, on_accepted: Callable[[], object] | None = None) -> QDialog:
        """Open window-modal without a nested event loop; tests find it as ``active_dialog``."""
        self.active_dialog = dialog
        if on_accepted is not None:
            dialog.accepted.connect(on_accepted)
        dialog.finished.connect(lambda _r: self._dialog_closed(dialog))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    _open_dialog = open_dialog  # the first-run assistant's name for it (ui/dialogs/first_run.py)

    def _dialog_closed(self, dialog: QDialog) -> None:
        if self.active_dialog is dialog:
            self.active_dialog = None

    # -- tabs -----------------------------------------------------------------------------------

    def show_inventory(self) -> None:
        self.tabs.setCurrentWidget(self.inventory_tab)

    @Slot(bool)
    def _job_panel_expanded(self, expanded: bool) -> None:
        """Unfolded, the job panel takes its old share back; folded, its one line (it has a
        maximum height then, which the splitter honours)."""
        if expanded:
            total = sum(self.splitter.sizes())
            self.splitter.setSizes([max(total - 240, 200), 240])

    def sync_job_panel(self) -> None:
        """The job panel belongs to the inventory; elsewhere it shows only while a job runs."""
        on_inventory = self.tabs.currentWidget() is self.inventory_tab
        self.job_panel.setVisible(on_inventory or self.job_panel.is_running())

    @property
    def updates_view(self) -> UpdateView:
        return self.lazy_tabs.view("updates")  # type: ignore[return-value]

    @property
    def advisories_view(self) -> AdvisoriesView:
        return self.lazy_tabs.view("advisories")  # type: ignore[return-value]

    @property
    def schedule_view(self) -> ScheduleView:
        return self.lazy_tabs.view("schedule")  # type: ignore[return-value]

    @property
    def logs_view(self) -> LogsView:
        return self.lazy_tabs.view("logs")  # type: ignore[return-value]

    @property
    def audit_view(self) -> AuditView:
        return self.lazy_tabs.view("audit")  # type: ignore[return-value]

    @property
    def baselines_view(self) -> BaselinesView:
        return self.lazy_tabs.view("baselines")  # type: ignore[return-value]

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

    # -- start-up chores, tray, shutdown ---------------------------------------------------------

    def _startup_chores(self) -> None:
        if self._closed:
            return
        self._check_keyring()
        self._startup_maintenance()
        self.detail.prewarm()

    def _check_keyring(self) -> None:
        if self.secrets is None:
            self.keyring_label.setText(PASSWORDS_UNAVAILABLE)
            self.keyring_label.setToolTip(
                "No system keyring: passwords cannot be saved (SSH keys still work)."
            )
            return
        store = self.secrets
        self.keyring_label.setText(PASSWORDS_CHECKING)

        def done(result: object) -> None:
            ok, message = result if isinstance(result, tuple) else (False, str(result))
            self.keyring_label.setText(PASSWORDS_OK if ok else PASSWORDS_UNAVAILABLE)
            self.keyring_label.setToolTip(str(message))

        submit(self, store.status, done, lambda exc: done((False, str(exc))))

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

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.tray is not None and self.scheduler.enabled and not self._quitting:
            # the scheduler keeps working in the tray; File → Quit (or the tray's Quit) really quits
            event.ignore()
            self.hide()
            self.tray_control.tell_keeps_running()
            return
        if not self.job_control.cancel_running_for_quit():
            event.ignore()
            return
        if self.scheduler.busy:
            # run_due cannot be cancelled from here: its running host steps finish (the window's pool
            # waits for the pass when it is destroyed); a killed process marks them interrupted.
            logger.warning("quitting while a scheduler pass runs; waiting for its host steps to finish")
        self._closed = True
        self.bridge.stop()
        self.job_control.stop()
        self.scheduler.stop()
        super().closeEvent(event)
