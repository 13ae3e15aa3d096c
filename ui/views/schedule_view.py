"""Schedule: the next maintenance windows and what each will patch, rollouts with their ring and
state, the approvals waiting for the administrator, and the scheduler's log.

The view loads one snapshot (ui/views/schedule_snapshot.py) on a pool thread and hands it to its
parts: the windows and their calendar (ui/views/windows_panel.py, ui/views/window_calendar.py), the
approvals and rollouts (ui/views/rollouts_panel.py) and the scheduler's log
(ui/views/scheduler_log.py); the tables' rows are built in ui/views/schedule_rows.py. Every write goes
through :mod:`app.services` (windows, approvals), on the main thread's connection.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from operator import attrgetter

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QSplitter, QTabWidget, QVBoxLayout, QWidget

from db import database as db_database

# `name as name`: the module's names from before the split, which tests import from here
from ui.views.criticality_panel import TITLE as CRITICALITY_TITLE
from ui.views.criticality_panel import CriticalityPanel
from ui.views.rollouts_panel import NO_APPROVALS_HINT as NO_APPROVALS_HINT
from ui.views.rollouts_panel import TITLE as ROLLOUTS_TITLE
from ui.views.rollouts_panel import RolloutsPanel
from ui.views.schedule_rows import RCOL_APPROVAL as RCOL_APPROVAL
from ui.views.schedule_rows import RCOL_KEY as RCOL_KEY
from ui.views.schedule_rows import RCOL_STATE as RCOL_STATE
from ui.views.schedule_snapshot import UPCOMING as UPCOMING
from ui.views.schedule_snapshot import Snapshot, load_snapshot
from ui.views.scheduler_log import SchedulerLog
from ui.views.windows_panel import WindowsPanel
from ui.workers import submit, with_own_db

logger = logging.getLogger(__name__)


def _part(path: str) -> property:
    """One of the parts' widgets or actions, read through the view under its own name."""
    get = attrgetter(path)
    return property(lambda self: get(self))


class ScheduleView(QWidget):
    loaded = Signal()
    #: a decision changed rollouts (the scheduler may now do something else)
    decided = Signal()

    # the parts' widgets and actions under the names callers and tests have always used on the view
    export_button = _part("windows_panel.export_button")
    reload_button = _part("windows_panel.reload_button")
    add_window_button = _part("windows_panel.add_window_button")
    windows_button = _part("windows_panel.windows_button")
    windows_menu = _part("windows_panel.windows_menu")
    active_dialog = _part("windows_panel.active_dialog")
    windows_hint = _part("windows_panel.windows_hint")
    add_window = _part("windows_panel.add_window")
    edit_window = _part("windows_panel.edit_window")
    set_window_enabled = _part("windows_panel.set_window_enabled")
    remove_window = _part("windows_panel.remove_window")
    export_ics = _part("windows_panel.export_ics")
    occ_model = _part("windows_panel.calendar.occ_model")
    occ_table = _part("windows_panel.calendar.occ_table")
    plan_title = _part("windows_panel.calendar.plan_title")
    plan_text = _part("windows_panel.calendar.plan_text")
    plan_model = _part("windows_panel.calendar.plan_model")
    plan_table = _part("windows_panel.calendar.plan_table")
    selected_occurrence = _part("windows_panel.calendar.selected_occurrence")
    waiting_check = _part("rollouts_panel.waiting_check")
    rollout_filter = _part("rollouts_panel.rollout_filter")
    rollouts_hint = _part("rollouts_panel.rollouts_hint")
    rollout_model = _part("rollouts_panel.rollout_model")
    rollout_proxy = _part("rollouts_panel.rollout_proxy")
    rollout_table = _part("rollouts_panel.rollout_table")
    note_edit = _part("rollouts_panel.note_edit")
    approve_button = _part("rollouts_panel.approve_button")
    decline_button = _part("rollouts_panel.decline_button")
    defer_button = _part("rollouts_panel.defer_button")
    defer_combo = _part("rollouts_panel.defer_combo")
    decision_label = _part("rollouts_panel.decision_label")
    error_label = _part("rollouts_panel.error_label")
    selected_rollouts = _part("rollouts_panel.selected_rollouts")
    select_rollout = _part("rollouts_panel.select_rollout")
    decide = _part("rollouts_panel.decide")
    event_model = _part("scheduler_log.event_model")
    event_table = _part("scheduler_log.event_table")
    scheduler_label = _part("scheduler_log.scheduler_label")

    def __init__(self, db, parent: QWidget | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.db = db
        self.db_path = db_database.database_file(db)
        self.snapshot: Snapshot | None = None
        self.busy = 0
        self._loaded_once = False
        self.now_override: datetime | None = None  # tests: a fixed "now"

        self.windows_panel = WindowsPanel(db, self._now)
        self.windows_panel.reload_requested.connect(self.reload)
        self.windows_panel.changed.connect(self.reload)
        self.windows_panel.changed.connect(self.decided)
        self.rollouts_panel = RolloutsPanel(db)
        self.rollouts_panel.decided.connect(self.decided)
        self.rollouts_panel.decided.connect(self.reload)
        # the export reports on the rollouts page, the tab's one place for results and errors
        self.windows_panel.exported.connect(self.rollouts_panel.show_result)
        self.windows_panel.export_failed.connect(self.rollouts_panel.show_error)
        self.scheduler_log = SchedulerLog()

        self.tabs = QTabWidget()
        self.tabs.setObjectName("scheduleTabs")
        self.tabs.addTab(self.rollouts_panel, ROLLOUTS_TITLE)
        self.tabs.addTab(self.scheduler_log, "Scheduler log")
        self.criticality_panel = CriticalityPanel(db)  # the rules the scheduler's gates read
        self.criticality_panel.changed.connect(self.decided)
        self.tabs.addTab(self.criticality_panel, CRITICALITY_TITLE)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.windows_panel)
        split.addWidget(self.tabs)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.addWidget(split, 1)

    # -- loading ------------------------------------------------------------------------------------

    def ensure_loaded(self) -> None:
        if not self._loaded_once:
            self.reload()

    def _now(self) -> datetime:
        return self.now_override or datetime.now(UTC)

    @Slot()
    def reload(self) -> None:
        self._loaded_once = True
        self.busy += 1
        path, db, now = self.db_path, self.db, self._now()
        submit(self, lambda: with_own_db(path, db, lambda d: load_snapshot(d, now)), self._show, self._failed)

    def _failed(self, exc: BaseException) -> None:
        self.busy -= 1
        self.plan_text.setText(f"The schedule could not be loaded: {exc}")
        logger.warning("schedule not loaded: %s", exc)

    def _show(self, snap: Snapshot) -> None:
        self.busy -= 1
        self.snapshot = snap
        self.windows_panel.show_snapshot(snap)
        self.rollouts_panel.show_snapshot(snap)
        self.tabs.setTabText(0, self.rollouts_panel.title())
        self.scheduler_log.show_events(snap.events)
        self.tabs.setTabText(1, self.scheduler_log.title())
        self.loaded.emit()

    def set_scheduler_status(self, text: str) -> None:
        self.scheduler_log.set_status(text)
