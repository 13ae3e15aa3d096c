"""The main window's tabs after Dashboard and Inventory, each built (and its module imported) when it is
first shown or used, so start-up pays only for the two it shows.

Until then an empty placeholder holds the tab's place; the view takes it over on first use, without
the tab bar noticing. Each view is refreshed from the database when its tab is shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot
from PySide6.QtWidgets import QTabWidget, QWidget

if TYPE_CHECKING:
    from ui.main_window import MainWindow

#: The tabs built on first use: key, title.
LAZY_TABS = (
    ("updates", "Updates"),
    ("advisories", "Advisories"),
    ("schedule", "Schedule"),
    ("logs", "Logs"),
    ("audit", "Audit"),
    ("baselines", "Baselines"),
)


class LazyTabs(QObject):
    def __init__(self, window: MainWindow, tabs: QTabWidget) -> None:
        super().__init__(window)
        self.win = window
        self.tabs = tabs
        self._views: dict[str, QWidget] = {}
        self._placeholders: dict[str, QWidget] = {}
        self._scheduler_status = ""
        for key, title in LAZY_TABS:
            placeholder = QWidget()
            placeholder.setObjectName(f"lazy-{key}")
            self._placeholders[key] = placeholder
            tabs.addTab(placeholder, title)

    def built(self, key: str) -> QWidget | None:
        """The tab's view if it has been built, else None (nothing is built)."""
        return self._views.get(key)

    @Slot(int)
    def shown(self, index: int) -> None:
        """Tab ``index`` became current: build it on its first visit, refresh what it shows."""
        widget = self.tabs.widget(index)
        key = next((k for k, p in self._placeholders.items() if p is widget), None)
        if key is not None:
            widget = self.view(key)  # first visit: build it in the placeholder's place
        self.win.sync_job_panel()
        views = self._views
        if widget is views.get("logs"):
            logs = self.win.logs_view
            logs.reload_choices()
            if not logs.rows:
                logs.search()
        elif widget is views.get("audit"):
            self.win.audit_view.reload()
        elif widget is views.get("updates"):
            self.win.updates_view.ensure_loaded()
        elif widget is views.get("advisories"):
            self.win.advisories_view.ensure_loaded()
        elif widget is views.get("schedule"):
            self.win.schedule_view.reload()

    def _make_view(self, key: str) -> QWidget:
        win, db = self.win, self.win.db
        if key == "updates":
            from ui.views.update_view import UpdateView

            updates = UpdateView(db)
            updates.hosts_requested.connect(win.show_hosts)
            updates.patch_requested.connect(win.job_control.patch_update)
            updates.scan_requested.connect(win.job_control.scan_all)
            updates.add_host_requested.connect(win.add_host)
            updates.set_patch_allowed(win.runner is not None and not win.job_control.is_busy())
            return updates
        if key == "advisories":
            from ui.views.advisories_view import AdvisoriesView

            advisories = AdvisoriesView(db)
            advisories.hosts_requested.connect(win.show_hosts)
            advisories.data_changed.connect(win.reload_hosts)
            return advisories
        if key == "schedule":
            from ui.views.schedule_view import ScheduleView

            schedule = ScheduleView(db)
            schedule.set_scheduler_status(self._scheduler_status)
            return schedule
        if key == "logs":
            from ui.views.logs_view import LogsView

            logs = LogsView(db)
            logs.scan_requested.connect(win.job_control.scan_all)
            logs.add_host_requested.connect(win.add_host)
            return logs
        if key == "audit":
            from ui.views.audit_view import AuditView

            audit_view = AuditView(db)
            audit_view.add_host_requested.connect(win.add_host)
            return audit_view
        if key == "baselines":
            from ui.views.baselines_view import BaselinesView

            baselines = BaselinesView(db)  # it reads its baselines as it is built
            baselines.changed.connect(win.dashboard.refresh)
            return baselines
        raise KeyError(key)

    def view(self, key: str) -> QWidget:
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

    def settings_changed(self) -> None:
        """Tools → Settings… stored new values: the built views that edit some of them re-read them."""
        logs, audit_view = self._views.get("logs"), self._views.get("audit")
        if logs is not None:
            logs.reload_settings()  # type: ignore[attr-defined]
        if audit_view is not None:
            audit_view.reload_settings()  # type: ignore[attr-defined]

    def set_scheduler_status(self, text: str) -> None:
        """The scheduler's last word, shown on the Schedule tab (now, or when it is built)."""
        self._scheduler_status = text
        schedule = self._views.get("schedule")
        if schedule is not None:
            schedule.set_scheduler_status(text)  # type: ignore[attr-defined]

    def reload_schedule_if_shown(self) -> None:
        schedule = self._views.get("schedule")
        if schedule is not None and self.tabs.currentWidget() is schedule:
            schedule.reload()  # type: ignore[attr-defined]
