"""The Schedule tab's calendar: the next maintenance window openings, and next to them what the
selected opening will patch (host by host, with an estimate from each host's patch history)."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QItemSelection, Qt, Signal, Slot
from PySide6.QtWidgets import QLabel, QSplitter, QVBoxLayout, QWidget

from app.domain.maintenance_windows import Occurrence
from app.services.maintenance_windows import WindowPlan
from ui.models.rows_model import RowsModel
from ui.views.advisories_view import _hint, _table
from ui.views.schedule_rows import OCC_HEADERS, PLAN_HEADERS, occurrence_cells, plan_cells, when
from ui.views.schedule_snapshot import Snapshot
from ui.widgets.columns import ColumnFitter


class WindowCalendar(QSplitter):
    #: an opening was double-clicked: edit its window (by name)
    window_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.snapshot: Snapshot | None = None
        self.occ_model = RowsModel(OCC_HEADERS, self)
        self.occ_table = _table(self.occ_model, "upcomingWindows")
        # both tables fit their side of the splitter (the plan's Estimate was cut at 1280x800)
        self.occ_fit = ColumnFitter(self.occ_table, (3, 4))  # the opening itself is read whole
        self.occ_table.selectionModel().selectionChanged.connect(self._occ_selected)
        self.occ_table.doubleClicked.connect(self._occ_double_clicked)
        self.plan_title = QLabel("What it will patch")
        self.plan_title.setObjectName("sectionTitle")
        self.plan_text = _hint("Select a window opening to see the hosts it will patch.")
        self.plan_text.setObjectName("planText")
        self.plan_model = RowsModel(PLAN_HEADERS, self)
        self.plan_table = _table(self.plan_model, "windowPlan")
        self.plan_fit = ColumnFitter(self.plan_table, (0,))
        plan_box = QWidget()
        plan_lay = QVBoxLayout(plan_box)
        plan_lay.setContentsMargins(0, 0, 0, 0)
        plan_lay.addWidget(self.plan_title)
        plan_lay.addWidget(self.plan_text)
        plan_lay.addWidget(self.plan_table, 1)
        self.addWidget(self.occ_table)
        self.addWidget(plan_box)
        self.setStretchFactor(0, 3)
        self.setStretchFactor(1, 2)
        self.setChildrenCollapsible(False)

    def show_snapshot(self, snap: Snapshot) -> None:
        """List the snapshot's openings, keeping the selected one selected when it is still listed."""
        selected = self.selected_occurrence()
        self.snapshot = snap
        rows = [
            occurrence_cells(o, snap.plans.get(o.window.name, WindowPlan(o.window.name)))
            for o in snap.upcoming
        ]
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

    def selected_occurrence(self) -> tuple[str, datetime] | None:
        rows = self.occ_table.selectionModel().selectedRows()
        if not rows:
            return None
        o = self.occ_model.item(rows[0].row())
        return (o.window.name, o.start) if isinstance(o, Occurrence) else None

    @Slot()
    def _occ_double_clicked(self, *_args: object) -> None:
        sel = self.selected_occurrence()
        if sel is not None:
            self.window_activated.emit(sel[0])

    @Slot(QItemSelection, QItemSelection)
    def _occ_selected(self, *_args: object) -> None:
        rows = self.occ_table.selectionModel().selectedRows()
        if not rows or self.snapshot is None:
            return
        o = self.occ_model.item(rows[0].row())
        if not isinstance(o, Occurrence):
            return
        plan = self.snapshot.plans.get(o.window.name, WindowPlan(o.window.name))
        self.plan_title.setText(f"What {o.window.name} will patch on {when(o.local_start())}")
        self.plan_text.setText(
            plan.summary()
            if not plan.hosts
            else "As far as promotion and approvals allow; a host starts only if its estimate plus a "
            "rollback reserve fits in what is left of the window."
        )
        self.plan_model.set_rows([plan_cells(h) for h in plan.hosts], list(plan.hosts))
