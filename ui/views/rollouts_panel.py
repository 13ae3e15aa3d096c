"""The Schedule tab's "Approvals and rollouts" page: every update's rollout with its ring, state and
soak health (the verdict of its soak checks in its present ring, app/jobs/soak.py, with the selected
update's checks listed under the table), and Approve / Decline / Defer for the selected ones. The
decisions call :mod:`app.services.approvals` — the same functions as ``patchdesk
approve|decline|defer``, which also write the audit entry — on the main thread's connection (one
quick write each). Firmware and driver updates wait here: they are
never promoted past the test ring without an explicit approval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import PatchdeskError
from app.domain.rollout import Rollout, current_checks, soak_state
from app.services import approvals, audit
from ui.models.rows_model import SORT_ROLE, RowsModel
from ui.views.advisories_view import _hint, _table
from ui.views.schedule_rows import (
    RCOL_APPROVAL,
    RCOL_CLASS,
    RCOL_KEY,
    RCOL_KIND,
    RCOL_RING,
    RCOL_SOAK,
    RCOL_STATE,
    ROLLOUT_HEADERS,
    rollout_cells,
    soak_line,
)
from ui.views.schedule_snapshot import Snapshot

TITLE = "Approvals and rollouts"
DEFER_CHOICES = (
    ("for a day", timedelta(days=1)),
    ("for a week", timedelta(days=7)),
    ("until approved", None),
)
NO_APPROVALS_HINT = "Nothing is waiting for approval: no firmware or driver update is pending a decision."
NO_ROLLOUTS_HINT = "No rollouts yet: updates appear here once a scan finds them pending."
#: soak states that hold a promotion until the administrator looks (a red check, or one that could not see)
SOAK_HOLDS = ("red", "unknown")


class RolloutsPanel(QWidget):
    #: a decision changed rollouts (the scheduler may now do something else)
    decided = Signal()

    def __init__(self, db: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.snapshot: Snapshot | None = None
        self.waiting_check = QCheckBox("Only updates waiting for a decision")
        self.waiting_check.setToolTip(
            "Firmware and driver updates waiting for approval, and updates whose soak check was red or "
            "could not see the host"
        )
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
            (RCOL_SOAK, 130),
        ):
            self.rollout_table.setColumnWidth(col, width)
        self.rollout_table.selectionModel().selectionChanged.connect(self._rollout_selection)
        # the selected update's soak checks in its present ring, newest first
        self.soak_title = _hint()
        self.soak_title.setObjectName("soakTitle")
        self.soak_title.setWordWrap(True)
        self.soak_list = QListWidget()
        self.soak_list.setObjectName("soakHistory")
        self.soak_list.setVisible(False)
        # beside the table, not under it: the page shares the tab's height with the windows
        self.soak_pane = QWidget()
        soak_lay = QVBoxLayout(self.soak_pane)
        soak_lay.setContentsMargins(0, 0, 0, 0)
        soak_lay.addWidget(self.soak_title)
        soak_lay.addWidget(self.soak_list, 1)
        self.soak_pane.setVisible(False)
        self.table_split = QSplitter(Qt.Orientation.Horizontal)
        self.table_split.addWidget(self.rollout_table)
        self.table_split.addWidget(self.soak_pane)
        self.table_split.setStretchFactor(0, 3)
        self.table_split.setStretchFactor(1, 1)
        self.table_split.setChildrenCollapsible(False)

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
        rl = QVBoxLayout(self)
        rl.setContentsMargins(6, 6, 6, 6)
        rl.addLayout(filters)
        rl.addWidget(self.rollouts_hint)
        rl.addWidget(self.table_split, 1)
        rl.addWidget(self.error_label)
        rl.addLayout(actions)
        rl.addWidget(self.decision_label)
        self._rollout_selection()

    def show_snapshot(self, snap: Snapshot) -> None:
        self.snapshot = snap
        self._apply_rollouts()

    def title(self) -> str:
        waiting = approvals.needs_decision([] if self.snapshot is None else self.snapshot.rollouts)
        return f"{TITLE} ({len(waiting)} waiting)" if waiting else TITLE

    # the page's one line for what happened and its one line for what went wrong, also used by the
    # calendar export
    def show_result(self, text: str) -> None:
        self.decision_label.setText(text)

    def show_error(self, text: str) -> None:
        self.error_label.setText(text)
        self.error_label.setVisible(True)

    @Slot()
    def _apply_rollouts(self) -> None:
        snap = self.snapshot
        all_rollouts = [] if snap is None else snap.rollouts
        waiting = approvals.needs_decision(all_rollouts)
        soak = {} if snap is None else snap.soak
        held = [r for r in all_rollouts if r.ring and soak_state(r, soak.get(r.key, [])) in SOAK_HOLDS]
        shown = (
            [r for r in all_rollouts if r in waiting or r in held]
            if self.waiting_check.isChecked()
            else all_rollouts
        )
        # waiting ones first, then by name (the database's order)
        shown = sorted(shown, key=lambda r: not (approvals.needs_approval(r) or r in held))
        self.rollout_model.set_rows(
            [] if snap is None else [rollout_cells(r, snap.now, soak.get(r.key, [])) for r in shown], shown
        )
        if snap is None:
            self.rollouts_hint.setText("")
        elif not shown:
            self.rollouts_hint.setText(
                NO_APPROVALS_HINT if self.waiting_check.isChecked() and all_rollouts else NO_ROLLOUTS_HINT
            )
        elif waiting or held:
            parts = (
                [f"{len(waiting)} firmware/driver update(s) stay on the test ring until approved."]
                if waiting
                else []
            )
            if held:
                parts.append(f"{len(held)} update(s) held by a soak check that was red or could not see.")
            self.rollouts_hint.setText(" ".join(parts) + " Select one or more and decide.")
        else:
            self.rollouts_hint.setText(f"{len(shown)} update(s) known to the rollout.")
        self.rollouts_hint.setVisible(bool(self.rollouts_hint.text()))
        self._rollout_selection()

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
        chosen = self.selected_rollouts()
        for b in (self.approve_button, self.decline_button, self.defer_button):
            b.setEnabled(bool(chosen))
        self._show_soak(chosen[0] if len(chosen) == 1 else None)

    def _show_soak(self, r: Rollout | None) -> None:
        """The soak checks of one selected update in its present ring (none selected: hidden)."""
        checks = (
            [] if r is None or self.snapshot is None else current_checks(r, self.snapshot.soak.get(r.key, []))
        )
        self.soak_list.clear()
        if r is None or r.ring is None:
            self.soak_title.setText("")
        elif not checks:
            self.soak_title.setText(f"Soak checks of {r.key} in the {r.ring} ring: none yet.")
        else:
            self.soak_title.setText(
                f"Soak checks of {r.key} in the {r.ring} ring ({soak_state(r, checks)}), newest first:"
            )
            for c in reversed(checks):
                self.soak_list.addItem(soak_line(c))
                item = self.soak_list.item(self.soak_list.count() - 1)
                item.setToolTip("\n".join((soak_line(c), *c.reasons[1:])))  # the line may be cut
        self.soak_title.setVisible(bool(self.soak_title.text()))
        self.soak_list.setVisible(bool(checks))
        self.soak_pane.setVisible(bool(self.soak_title.text()))

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
            self.show_error(str(exc))
        if done:
            what = {"approve": "Approved", "decline": "Declined", "defer": "Deferred"}[verb]
            names = ", ".join(r.key for r in done[:3]) + (
                f" and {len(done) - 3} more" if len(done) > 3 else ""
            )
            self.show_result(f"{what} {names}" + (f" ({note})." if note else "."))
            self.note_edit.clear()
            self.decided.emit()
        return done
