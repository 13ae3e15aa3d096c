"""Schedule: the next maintenance windows and what each will patch, rollouts with their ring and
state, the approvals waiting for the administrator, and the scheduler's log.

Everything is read on a pool thread with its own connection (the window plans look at every host).
Approve / Decline / Defer call :mod:`app.services.approvals` — the same functions as ``patchdesk
approve|decline|defer``, which also write the audit entry — on the main thread's connection (one
quick write each); adding, editing, disabling and removing windows call
:mod:`app.services.maintenance_windows` the same way. Firmware and driver updates wait here: they are
never promoted past the test ring without an explicit approval.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelection, QSortFilterProxyModel, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import PatchdeskError
from app.domain.maintenance_windows import MaintenanceWindow, Occurrence, next_windows
from app.domain.rollout import Rollout, RolloutState
from app.domain.schedule import ScheduleEvent
from app.services import approvals, audit, maintenance_windows
from app.services.maintenance_windows import WindowPlan, window_plan
from db import database as db_database
from db import maintenance_windows as db_windows
from db import rollouts as db_rollouts
from db import schedule as db_schedule
from ui.dialogs.window_dialog import WindowDialog
from ui.models.rows_model import SORT_ROLE, Cell, RowsModel
from ui.views.advisories_view import CLASS_COLOURS, _hint, _table, _with_db
from ui.workers import submit

logger = logging.getLogger(__name__)

#: how many upcoming openings the calendar lists
UPCOMING = 20
ICS_DAYS = 90
OCC_HEADERS = ("Opens (window time)", "Closes", "Window", "Groups", "Will patch")
PLAN_HEADERS = ("Host", "Ring", "Urgent", "Important", "Non-critical", "Estimate")
ROLLOUT_HEADERS = ("Update", "Kind", "Class", "State", "Ring", "Approval", "Note")
RCOL_KEY, RCOL_KIND, RCOL_CLASS, RCOL_STATE, RCOL_RING, RCOL_APPROVAL, RCOL_NOTE = range(7)
EVENT_HEADERS = ("When (UTC)", "Host", "Update", "Action", "Why")
DEFER_CHOICES = (
    ("for a day", timedelta(days=1)),
    ("for a week", timedelta(days=7)),
    ("until approved", None),
)
NO_WINDOWS_HINT = (
    "No maintenance windows yet. Routine (non-critical) updates are installed only inside a window of "
    "the host's patch group; urgent ones do not wait. Use Add window… here, or from a script:\n"
    '    patchdesk windows add nightly --rrule "FREQ=DAILY;BYHOUR=2" --duration 120 --tz Europe/Berlin '
    "--groups lab"
)
NO_APPROVALS_HINT = "Nothing is waiting for approval: no firmware or driver update is pending a decision."
NO_ROLLOUTS_HINT = "No rollouts yet: updates appear here once a scan finds them pending."


@dataclass(frozen=True)
class Snapshot:
    now: datetime
    windows: list[MaintenanceWindow]
    upcoming: list[Occurrence]
    plans: dict[str, WindowPlan]
    rollouts: list[Rollout]
    events: list[ScheduleEvent]


def _snapshot(db: Any, now: datetime) -> Snapshot:
    approvals.ensure_pending_rollouts(db)  # as `patchdesk approve` does: every pending update has a row
    windows = db_windows.list_windows(db)
    return Snapshot(
        now,
        windows,
        next_windows(windows, now, UPCOMING),
        {w.name: window_plan(db, w) for w in windows},
        db_rollouts.list_rollouts(db),
        db_schedule.schedule_events(db, limit=300),
    )


def _when(dt: datetime) -> str:
    return dt.strftime("%a %Y-%m-%d %H:%M")


def _minutes(d: timedelta) -> str:
    m = d.total_seconds() / 60
    return f"{m / 60:.1f} h" if m >= 120 else f"{m:.0f} min"


def approval_text(r: Rollout) -> str:
    if approvals.needs_approval(r):
        return "needs approval"
    if r.explicit_approval:
        return "approved"
    return ""


class ScheduleView(QWidget):
    loaded = Signal()
    #: a decision changed rollouts (the scheduler may now do something else)
    decided = Signal()

    def __init__(self, db, parent: QWidget | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.db = db
        self.db_path = db_database.database_file(db)
        self.snapshot: Snapshot | None = None
        self.busy = 0
        self._loaded_once = False
        self.now_override: datetime | None = None  # tests: a fixed "now"

        # -- windows --------------------------------------------------------------------------------
        title = QLabel("Upcoming maintenance windows")
        title.setObjectName("sectionTitle")
        self.export_button = QPushButton("Export .ics…")
        self.export_button.setObjectName("exportIcs")
        self.export_button.setToolTip(
            f"The next {ICS_DAYS} days of windows as iCalendar, with what each will patch "
            "(for the monitoring calendar and the SOC)"
        )
        self.export_button.clicked.connect(self._choose_ics)
        self.reload_button = QPushButton("Reload")
        self.reload_button.clicked.connect(self.reload)
        self.add_window_button = QPushButton("Add window…")
        self.add_window_button.setObjectName("addWindow")
        self.add_window_button.clicked.connect(self.add_window)
        self.windows_button = QPushButton("Windows")
        self.windows_button.setObjectName("manageWindows")
        self.windows_button.setToolTip("Edit, disable or remove a window (also: double-click an opening)")
        self.windows_menu = QMenu(self.windows_button)
        self.windows_menu.aboutToShow.connect(self._fill_windows_menu)
        self.windows_button.setMenu(self.windows_menu)
        self.active_dialog: WindowDialog | None = None
        head = QHBoxLayout()
        head.addWidget(title)
        head.addStretch(1)
        head.addWidget(self.add_window_button)
        head.addWidget(self.windows_button)
        head.addWidget(self.reload_button)
        head.addWidget(self.export_button)
        self.windows_hint = _hint(NO_WINDOWS_HINT)
        self.windows_hint.setObjectName("windowsHint")
        self.windows_hint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.windows_hint.setVisible(False)
        self.occ_model = RowsModel(OCC_HEADERS, self)
        self.occ_table = _table(self.occ_model, "upcomingWindows")
        for col, width in ((0, 250), (1, 110), (2, 110), (3, 90)):
            self.occ_table.setColumnWidth(col, width)
        self.occ_table.selectionModel().selectionChanged.connect(self._occ_selected)
        self.occ_table.doubleClicked.connect(self._occ_double_clicked)
        self.plan_title = QLabel("What it will patch")
        self.plan_title.setObjectName("sectionTitle")
        self.plan_text = _hint("Select a window opening to see the hosts it will patch.")
        self.plan_text.setObjectName("planText")
        self.plan_model = RowsModel(PLAN_HEADERS, self)
        self.plan_table = _table(self.plan_model, "windowPlan")
        for col, width in ((0, 110), (1, 76), (2, 64), (3, 84), (4, 96)):
            self.plan_table.setColumnWidth(col, width)
        plan_box = QWidget()
        plan_lay = QVBoxLayout(plan_box)
        plan_lay.setContentsMargins(0, 0, 0, 0)
        plan_lay.addWidget(self.plan_title)
        plan_lay.addWidget(self.plan_text)
        plan_lay.addWidget(self.plan_table, 1)
        win_split = QSplitter(Qt.Orientation.Horizontal)
        win_split.addWidget(self.occ_table)
        win_split.addWidget(plan_box)
        win_split.setStretchFactor(0, 3)
        win_split.setStretchFactor(1, 2)
        win_split.setChildrenCollapsible(False)
        top = QWidget()
        top_lay = QVBoxLayout(top)
        top_lay.setContentsMargins(0, 0, 0, 0)
        top_lay.addLayout(head)
        top_lay.addWidget(self.windows_hint)
        top_lay.addWidget(win_split, 1)

        # -- rollouts and approvals -------------------------------------------------------------------
        self.waiting_check = QCheckBox("Only updates waiting for approval")
        self.waiting_check.setObjectName("onlyWaiting")
        self.waiting_check.setChecked(True)
        self.waiting_check.toggled.connect(self._apply_rollouts)
        self.rollout_filter = QLineEdit()
        self.rollout_filter.setObjectName("rolloutFilter")
        self.rollout_filter.setPlaceholderText("Filter updates…")
        self.rollout_filter.setClearButtonEnabled(True)
        self.rollouts_hint = _hint()
        self.rollouts_hint.setObjectName("rolloutsHint")
        self.rollout_model = RowsModel(ROLLOUT_HEADERS, self)
        self.rollout_proxy = QSortFilterProxyModel(self)
        self.rollout_proxy.setSourceModel(self.rollout_model)
        self.rollout_proxy.setSortRole(SORT_ROLE)
        self.rollout_proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.rollout_proxy.setFilterKeyColumn(-1)
        self.rollout_filter.textChanged.connect(self.rollout_proxy.setFilterFixedString)
        self.rollout_table = _table(self.rollout_proxy, "rolloutTable")
        self.rollout_table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.rollout_table.setSortingEnabled(True)
        self.rollout_table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)
        for col, width in (
            (RCOL_KEY, 260),
            (RCOL_KIND, 80),
            (RCOL_CLASS, 90),
            (RCOL_STATE, 80),
            (RCOL_RING, 80),
            (RCOL_APPROVAL, 110),
        ):
            self.rollout_table.setColumnWidth(col, width)
        self.rollout_table.selectionModel().selectionChanged.connect(self._rollout_selection)

        self.note_edit = QLineEdit()
        self.note_edit.setObjectName("decisionNote")
        self.note_edit.setPlaceholderText("Note for the record (why)…")
        self.approve_button = QPushButton("Approve")
        self.approve_button.setObjectName("approveButton")
        self.approve_button.setToolTip(
            "Allow it on every ring (firmware and drivers need this to leave the test ring)"
        )
        self.approve_button.clicked.connect(lambda: self.decide("approve"))
        self.decline_button = QPushButton("Decline")
        self.decline_button.setObjectName("declineButton")
        self.decline_button.setToolTip("Never install it (until approved after all)")
        self.decline_button.clicked.connect(lambda: self.decide("decline"))
        self.defer_button = QPushButton("Defer")
        self.defer_button.setObjectName("deferButton")
        self.defer_button.setToolTip("Hold it back for a while, or until approved")
        self.defer_button.clicked.connect(lambda: self.decide("defer"))
        self.defer_combo = QComboBox()
        self.defer_combo.setObjectName("deferFor")
        for text, span in DEFER_CHOICES:
            self.defer_combo.addItem(text, span)
        actions = QHBoxLayout()
        actions.addWidget(self.note_edit, 1)
        actions.addWidget(self.approve_button)
        actions.addWidget(self.decline_button)
        actions.addWidget(self.defer_button)
        actions.addWidget(self.defer_combo)
        self.decision_label = _hint()
        self.decision_label.setObjectName("decisionResult")
        self.error_label = QLabel()
        self.error_label.setObjectName("errorText")
        self.error_label.setWordWrap(True)
        self.error_label.setVisible(False)

        filters = QHBoxLayout()
        filters.addWidget(self.rollout_filter, 1)
        filters.addWidget(self.waiting_check)
        rollouts_page = QWidget()
        rl = QVBoxLayout(rollouts_page)
        rl.setContentsMargins(6, 6, 6, 6)
        rl.addLayout(filters)
        rl.addWidget(self.rollouts_hint)
        rl.addWidget(self.rollout_table, 1)
        rl.addWidget(self.error_label)
        rl.addLayout(actions)
        rl.addWidget(self.decision_label)

        self.event_model = RowsModel(EVENT_HEADERS, self)
        self.event_table = _table(self.event_model, "scheduleEvents")
        for col, width in ((0, 130), (1, 110), (2, 220), (3, 80)):
            self.event_table.setColumnWidth(col, width)
        self.scheduler_label = _hint(
            "The scheduler runs due work while the console is open, and headless with `patchdesk run-due`."
        )
        self.scheduler_label.setObjectName("schedulerStatus")
        events_page = QWidget()
        el = QVBoxLayout(events_page)
        el.setContentsMargins(6, 6, 6, 6)
        el.addWidget(self.scheduler_label)
        el.addWidget(self.event_table, 1)

        self.tabs = QTabWidget()
        self.tabs.setObjectName("scheduleTabs")
        self.tabs.addTab(rollouts_page, "Approvals and rollouts")
        self.tabs.addTab(events_page, "Scheduler log")

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(self.tabs)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.addWidget(split, 1)
        self._rollout_selection()

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
        submit(self, lambda: _with_db(path, db, lambda d: _snapshot(d, now)), self._show, self._failed)

    def _failed(self, exc: BaseException) -> None:
        self.busy -= 1
        self.plan_text.setText(f"The schedule could not be loaded: {exc}")
        logger.warning("schedule not loaded: %s", exc)

    def _show(self, snap: Snapshot) -> None:
        self.busy -= 1
        selected = self.selected_occurrence()
        self.snapshot = snap
        self.windows_hint.setVisible(not snap.windows)
        if snap.windows and not snap.upcoming:
            self.windows_hint.setText(
                "No window opens in the next 400 days (are they all disabled or over?)."
            )
            self.windows_hint.setVisible(True)
        rows = []
        for o in snap.upcoming:
            plan = snap.plans.get(o.window.name, WindowPlan(o.window.name))
            pending = sum(sum(h.pending.values()) for h in plan.hosts)
            will = (
                f"{len(plan.hosts)} host(s), {pending} pending update(s)" if plan.hosts else "nothing pending"
            )
            local = o.local_start()
            rows.append(
                (
                    Cell(f"{_when(local)} {o.window.tz}", o.start.isoformat(), f"{o.start.isoformat()} UTC"),
                    Cell(
                        o.end.astimezone(o.window.zone()).strftime("%H:%M")
                        + f" ({_minutes(o.end - o.start)})",
                        o.end.isoformat(),
                    ),
                    Cell(
                        o.window.name,
                        tip=f"{o.window.rrule} in {o.window.tz}\n{o.window.description}".strip(),
                    ),
                    Cell(", ".join(o.window.groups)),
                    Cell(will, len(plan.hosts), plan.summary()),
                )
            )
        self.occ_model.set_rows(rows, snap.upcoming)
        if snap.upcoming:
            keep = 0
            if selected is not None:
                keep = next(
                    (i for i, o in enumerate(snap.upcoming) if (o.window.name, o.start) == selected), 0
                )
            self.occ_table.selectRow(keep)
        else:
            self.plan_model.set_rows([])
            self.plan_text.setText("No window opening to show.")
        self._apply_rollouts()
        self.event_model.set_rows(
            [
                (
                    Cell(e.at[:16].replace("T", " ")),
                    Cell(e.host_name or "—"),
                    Cell(e.update_key or "—"),
                    Cell(e.action + (" (dry run)" if e.dry_run else "")),
                    Cell(e.reason, tip=e.reason),
                )
                for e in snap.events
            ],
            snap.events,
        )
        self.tabs.setTabText(1, f"Scheduler log ({len(snap.events)})")
        self.loaded.emit()

    def selected_occurrence(self) -> tuple[str, datetime] | None:
        rows = self.occ_table.selectionModel().selectedRows()
        if not rows:
            return None
        o = self.occ_model.item(rows[0].row())
        return (o.window.name, o.start) if isinstance(o, Occurrence) else None

    # -- editing windows ---------------------------------------------------------------------------------

    def _windows(self) -> list[MaintenanceWindow]:
        return db_windows.list_windows(self.db)

    @Slot()
    def add_window(self) -> WindowDialog:
        return self._open_window_dialog(None)

    def edit_window(self, name: str) -> WindowDialog | None:
        w = db_windows.get_window(self.db, name)
        if w is None:
            self.reload()
            return None
        return self._open_window_dialog(w)

    def _open_window_dialog(self, existing: MaintenanceWindow | None) -> WindowDialog:
        from db import hosts as db_hosts

        old = existing.name if existing else None

        def save(w: MaintenanceWindow) -> MaintenanceWindow:
            if old:
                return maintenance_windows.update_window(self.db, old, w)
            return maintenance_windows.add_window(self.db, w)

        dlg = WindowDialog(
            db_hosts.list_groups(self.db),
            existing,
            [w.name for w in self._windows()],
            self,
            now=self._now(),
            save=save,
        )
        dlg.accepted.connect(self.reload)
        dlg.accepted.connect(self.decided)
        dlg.finished.connect(lambda _r: setattr(self, "active_dialog", None))
        self.active_dialog = dlg
        dlg.open()
        return dlg

    def set_window_enabled(self, name: str, enabled: bool) -> None:
        if not maintenance_windows.set_window_enabled(self.db, name, enabled):
            return
        self.reload()
        self.decided.emit()

    def remove_window(self, name: str) -> bool:
        answer = QMessageBox.question(
            self,
            "Remove window",
            f"Remove the maintenance window {name}? Routine updates of its groups then wait for another "
            "window (urgent ones never wait).",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return False
        removed = maintenance_windows.remove_window(self.db, name)
        self.reload()
        self.decided.emit()
        return removed

    @Slot()
    def _fill_windows_menu(self) -> None:
        self.windows_menu.clear()
        windows = self._windows()
        if not windows:
            none = self.windows_menu.addAction("No windows yet")
            none.setEnabled(False)
            return
        for w in windows:
            label = w.name + ("" if w.enabled else " (disabled)")
            sub = self.windows_menu.addMenu(label)
            sub.addAction("Edit…", lambda n=w.name: self.edit_window(n))
            if w.enabled:
                sub.addAction("Disable", lambda n=w.name: self.set_window_enabled(n, False))
            else:
                sub.addAction("Enable", lambda n=w.name: self.set_window_enabled(n, True))
            sub.addSeparator()
            sub.addAction("Remove…", lambda n=w.name: self.remove_window(n))

    @Slot()
    def _occ_double_clicked(self, *_args: object) -> None:
        sel = self.selected_occurrence()
        if sel is not None:
            self.edit_window(sel[0])

    @Slot(QItemSelection, QItemSelection)
    def _occ_selected(self, *_args: object) -> None:
        rows = self.occ_table.selectionModel().selectedRows()
        if not rows or self.snapshot is None:
            return
        o = self.occ_model.item(rows[0].row())
        if not isinstance(o, Occurrence):
            return
        plan = self.snapshot.plans.get(o.window.name, WindowPlan(o.window.name))
        self.plan_title.setText(f"What {o.window.name} will patch on {_when(o.local_start())}")
        self.plan_text.setText(
            plan.summary()
            if not plan.hosts
            else "As far as promotion and approvals allow; a host starts only if its estimate plus a "
            "rollback reserve fits in what is left of the window."
        )
        self.plan_model.set_rows(
            [
                (
                    Cell(h.name),
                    Cell(h.ring),
                    Cell(
                        str(h.pending.get("urgent", 0)),
                        h.pending.get("urgent", 0),
                        colour=CLASS_COLOURS["urgent"] if h.pending.get("urgent") else None,
                    ),
                    Cell(str(h.pending.get("important", 0)), h.pending.get("important", 0)),
                    Cell(str(h.pending.get("noncritical", 0)), h.pending.get("noncritical", 0)),
                    Cell(
                        f"~{_minutes(h.estimate)}",
                        h.estimate.total_seconds(),
                        "from the host's own patch history",
                    ),
                )
                for h in plan.hosts
            ],
            list(plan.hosts),
        )

    # -- rollouts -------------------------------------------------------------------------------------

    @Slot()
    def _apply_rollouts(self) -> None:
        snap = self.snapshot
        all_rollouts = [] if snap is None else snap.rollouts
        waiting = approvals.needs_decision(all_rollouts)
        shown = waiting if self.waiting_check.isChecked() else all_rollouts
        # waiting ones first, then by name (the database's order)
        shown = sorted(shown, key=lambda r: not approvals.needs_approval(r))
        self.rollout_model.set_rows(
            [self._rollout_cells(r, snap.now if snap else self._now()) for r in shown], shown
        )
        self.tabs.setTabText(
            0, f"Approvals and rollouts ({len(waiting)} waiting)" if waiting else "Approvals and rollouts"
        )
        if snap is None:
            self.rollouts_hint.setText("")
        elif not shown:
            self.rollouts_hint.setText(
                NO_APPROVALS_HINT if self.waiting_check.isChecked() and all_rollouts else NO_ROLLOUTS_HINT
            )
        elif waiting:
            self.rollouts_hint.setText(
                f"{len(waiting)} firmware/driver update(s) stay on the test ring until approved. "
                "Select one or more and decide."
            )
        else:
            self.rollouts_hint.setText(f"{len(shown)} update(s) known to the rollout.")
        self.rollouts_hint.setVisible(bool(self.rollouts_hint.text()))
        self._rollout_selection()

    @staticmethod
    def _rollout_cells(r: Rollout, now: datetime) -> tuple[Cell, ...]:
        state = str(r.state)
        if r.state == RolloutState.DEFERRED:
            state += (
                f" until {r.deferred_until.strftime('%Y-%m-%d')}" if r.deferred_until else " (until approved)"
            )
        need = approvals.needs_approval(r)
        blocked = r.blocked(now)
        return (
            Cell(r.key, tip=r.key + (f"\n{blocked}" if blocked else "")),
            Cell(str(r.kind), colour="#9a4d00" if need else None),
            Cell(str(r.classification), colour=CLASS_COLOURS.get(str(r.classification))),
            Cell(state, str(r.state)),
            Cell(str(r.ring or "—"), str(r.ring or "")),
            Cell(
                approval_text(r),
                tip="Firmware and driver updates are never promoted without an explicit approval."
                if need
                else "",
                colour="#9b1c14" if need else None,
                background="#fff0db" if need else None,
            ),
            Cell(r.note, tip=r.note),
        )

    def selected_rollouts(self) -> list[Rollout]:
        out = []
        for idx in self.rollout_table.selectionModel().selectedRows():
            item = self.rollout_model.item(self.rollout_proxy.mapToSource(idx).row())
            if isinstance(item, Rollout):
                out.append(item)
        return out

    def select_rollout(self, key: str) -> bool:
        for row in range(self.rollout_proxy.rowCount()):
            if self.rollout_proxy.index(row, RCOL_KEY).data() == key:
                self.rollout_table.selectRow(row)
                return True
        return False

    @Slot()
    def _rollout_selection(self, *_args: object) -> None:
        any_selected = bool(self.selected_rollouts())
        for b in (self.approve_button, self.decline_button, self.defer_button):
            b.setEnabled(any_selected)

    def decide(self, verb: str) -> list[Rollout]:
        """Approve, decline or defer the selected updates (as the CLI does), with an audit entry each."""
        chosen = self.selected_rollouts()
        if not chosen:
            return []
        note = self.note_edit.text().strip()
        span = self.defer_combo.currentData()
        until = datetime.now(UTC) + span if verb == "defer" and isinstance(span, timedelta) else None
        who = audit.actor()
        done: list[Rollout] = []
        self.error_label.setVisible(False)
        try:
            for r in chosen:
                if verb == "approve":
                    new = approvals.approve(self.db, r.key, note=note, actor=who)
                elif verb == "decline":
                    new = approvals.decline(self.db, r.key, note=note, actor=who)
                else:
                    new = approvals.defer(self.db, r.key, until=until, note=note, actor=who)
                done.append(new)  # app.services.approvals writes the audit entry
        except PatchdeskError as exc:
            self.error_label.setText(str(exc))
            self.error_label.setVisible(True)
        if done:
            what = {"approve": "Approved", "decline": "Declined", "defer": "Deferred"}[verb]
            names = ", ".join(r.key for r in done[:3]) + (
                f" and {len(done) - 3} more" if len(done) > 3 else ""
            )
            self.decision_label.setText(f"{what} {names}" + (f" ({note})." if note else "."))
            self.note_edit.clear()
            self.decided.emit()
            self.reload()
        return done

    # -- export -----------------------------------------------------------------------------------------

    @Slot()
    def _choose_ics(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export maintenance windows", "patchdesk-windows.ics", "iCalendar (*.ics)"
        )
        if not path:
            return
        try:
            n = self.export_ics(Path(path))
        except (PatchdeskError, OSError) as exc:
            self.error_label.setText(f"The calendar was not written: {exc}")
            self.error_label.setVisible(True)
            return
        self.decision_label.setText(f"Wrote {n} window opening(s) to {path}.")

    def export_ics(self, path: Path, days: int = ICS_DAYS) -> int:
        """The next ``days`` of window openings with their plans, as ``patchdesk export ics`` writes them."""
        from app.reports import calendar

        now = self._now()
        windows = db_windows.list_windows(self.db)
        horizon = timedelta(days=max(1, days))
        occs = [
            o for o in next_windows(windows, now, limit=10000, horizon=horizon) if o.start <= now + horizon
        ]
        plans = {w.name: window_plan(self.db, w).summary() for w in windows}
        path.write_text(calendar.windows_ics(occs, now, plans), encoding="utf-8", newline="")
        return len(occs)

    def set_scheduler_status(self, text: str) -> None:
        self.scheduler_label.setText(text)
