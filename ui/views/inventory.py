"""Inventory view: the filter box and the sortable, multi-select host table."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QItemSelection, QModelIndex, QPoint, QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.domain.compliance import LastJob
from app.domain.models import Host
from ui.models.hosts_model import (
    COL_ADDRESS,
    COL_CRITICALITY,
    COL_GROUP,
    COL_IMPORTANT,
    COL_LAST_SCAN,
    COL_NAME,
    COL_NONCRITICAL,
    COL_OS,
    COL_RING,
    COL_STATUS,
    COL_URGENT,
    HostsTableModel,
)
from ui.numbers import count_text
from ui.widgets.cells import CellLookDelegate
from ui.widgets.columns import ColumnFitter
from ui.widgets.empty_state import EmptyStack, EmptyState

#: How long after a load the filter's search texts are built (idle work; see set_hosts).
SEARCH_PREPARE_DELAY_MS = 2500

#: Always shown: the host and what needs attention.
CORE_COLUMNS = (COL_NAME, COL_STATUS, COL_URGENT, COL_IMPORTANT, COL_NONCRITICAL)
#: Shown in this order while the table has room for them whole, unless the administrator picked the
#: columns in the header's menu: at 1280x800 eleven columns needed sideways scrolling (#23 item 8).
OPTIONAL_COLUMNS = (COL_LAST_SCAN, COL_OS, COL_GROUP, COL_ADDRESS, COL_RING, COL_CRITICALITY)
#: Columns that give up width (eliding in the middle, the full text in the tooltip) when room is short.
FLEXIBLE_COLUMNS = (COL_NAME, COL_STATUS, COL_OS, COL_GROUP, COL_ADDRESS)
#: The user setting (QSettings) with the columns picked in the header's menu (absent: by room).
COLUMNS_SETTING = "inventory/columns"
#: On-screen order: what needs attention (status, pending counts) right after the name, so it stays
#: visible in a narrow window. Only the view's order; the model's COL_* numbering is unchanged.
VISUAL_ORDER = (
    COL_NAME,
    COL_STATUS,
    COL_URGENT,
    COL_IMPORTANT,
    COL_NONCRITICAL,
    COL_ADDRESS,
    COL_OS,
    COL_GROUP,
    COL_RING,
    COL_CRITICALITY,
    COL_LAST_SCAN,
)


class InventoryView(QWidget):
    selection_changed = Signal()
    host_activated = Signal(object)  # Host (double-click: edit)
    #: the empty state's next steps (the main window owns the dialogs)
    add_host_requested = Signal()
    import_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # The view shows the model directly: it filters and sorts itself (see ui/models/hosts_model.py).
        self.model = HostsTableModel(self)

        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("hostFilter")
        self.filter_edit.setPlaceholderText("Filter hosts…  (name, address, OS, group, model)")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.textChanged.connect(self._filter_changed)
        self.count_label = QLabel()
        self.count_label.setObjectName("hintText")
        head = QHBoxLayout()
        head.setSpacing(8)
        head.addWidget(self.filter_edit, 1)
        head.addWidget(self.count_label)
        # A dashboard tile or chart segment restricts the table to its hosts until cleared.
        self.scope_bar = QWidget()
        self.scope_bar.setObjectName("scopeBar")
        self.scope_label = QLabel()
        self.scope_label.setObjectName("scopeLabel")
        self.scope_clear = QPushButton("Show all hosts")
        self.scope_clear.setObjectName("scopeClear")
        self.scope_clear.clicked.connect(self.clear_scope)
        scope_row = QHBoxLayout(self.scope_bar)
        scope_row.setContentsMargins(0, 0, 0, 0)
        scope_row.addWidget(self.scope_label, 1)
        scope_row.addWidget(self.scope_clear)
        self.scope_bar.setVisible(False)

        self.table = QTableView()
        self.table.setObjectName("inventoryTable")
        self.table.setModel(self.model)
        self.table.setItemDelegate(CellLookDelegate(self.model, self.table))
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COL_NAME, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setShowGrid(False)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(26)
        hdr = self.table.horizontalHeader()
        hdr.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hdr.setHighlightSections(False)
        for visual, col in enumerate(VISUAL_ORDER):
            hdr.moveSection(hdr.visualIndex(col), visual)
        self.chosen_columns = _stored_columns()
        # cap: the longest status ("patch failed · non-compliant · reboot", bold) is read whole
        self.fitter = ColumnFitter(self.table, FLEXIBLE_COLUMNS, cap=300, choose=self._choose_columns)
        hdr.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        hdr.customContextMenuRequested.connect(self._header_menu)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(self._double_clicked)
        self.model.modelReset.connect(self._update_count)
        self.model.layoutChanged.connect(self._update_count)

        # The filter's search texts are built while the window is idle after a load, not by the
        # first keystroke (nor by start-up: a load at start is followed by the first paint).
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_PREPARE_DELAY_MS)
        self._search_timer.timeout.connect(self.model.prepare_search)

        # no hosts at all: say how to get some; none matching the filter: say how to see them again
        self.empty_state = EmptyState("No hosts yet")
        self.empty_state.add_action("Add host…", self.add_host_requested.emit, name="emptyAddHost")
        self.empty_state.add_action("Import hosts…", self.import_requested.emit, name="emptyImport")
        self.empty_state.add_action("Clear the filter", self._clear_filters, name="emptyClear")
        self.stack = EmptyStack(self.table, self.empty_state, lambda: self.model.rowCount() == 0)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 6, 8)
        layout.setSpacing(6)
        layout.addLayout(head)
        layout.addWidget(self.scope_bar)
        layout.addWidget(self.stack, 1)
        self._update_count()

    def showEvent(self, event) -> None:  # type: ignore[no-untyped-def]
        super().showEvent(event)
        self.fitter.fit()  # the stylesheet (and so the bold header font) applies once polished

    # -- columns --------------------------------------------------------------------------------

    def _choose_columns(self, room: int) -> None:
        """Show the picked columns, or else the optional ones that fit whole beside the core ones."""
        hdr = self.table.horizontalHeader()
        if self.chosen_columns is not None:
            for col in range(self.model.columnCount()):
                hdr.setSectionHidden(col, col not in CORE_COLUMNS and col not in self.chosen_columns)
            return
        used = sum(self.fitter.want(c) for c in CORE_COLUMNS)
        for col in OPTIONAL_COLUMNS:
            need = self.fitter.want(col)
            fits = used + need <= room
            hdr.setSectionHidden(col, not fits)
            used += need if fits else 0

    def visible_columns(self) -> list[int]:
        hdr = self.table.horizontalHeader()
        return [c for c in range(self.model.columnCount()) if not hdr.isSectionHidden(c)]

    def column_menu(self) -> QMenu:
        """The header's menu: each optional column to show or hide, or "as the width allows"."""
        menu = QMenu(self)
        auto = menu.addAction("Columns by window width")
        auto.setCheckable(True)
        auto.setChecked(self.chosen_columns is None)
        auto.triggered.connect(lambda: self.set_chosen_columns(None))
        menu.addSeparator()
        shown = set(self.visible_columns())
        for col in OPTIONAL_COLUMNS:
            act = menu.addAction(str(self.model.headerData(col, Qt.Orientation.Horizontal)))
            act.setCheckable(True)
            act.setChecked(col in shown)
            act.toggled.connect(lambda on, col=col: self._toggle_column(col, on))
        return menu

    @Slot(QPoint)
    def _header_menu(self, pos: QPoint) -> None:
        self.column_menu().exec(self.table.horizontalHeader().mapToGlobal(pos))

    def _toggle_column(self, col: int, on: bool) -> None:
        shown = set(self.visible_columns()) - set(CORE_COLUMNS)
        self.set_chosen_columns((shown | {col}) if on else (shown - {col}))

    def set_chosen_columns(self, cols: set[int] | None) -> None:
        """Show ``cols`` beside the core columns from now on (None: as many as the width allows)."""
        self.chosen_columns = None if cols is None else {c for c in cols if c in OPTIONAL_COLUMNS}
        settings = _settings()
        if self.chosen_columns is None:
            settings.remove(COLUMNS_SETTING)
        else:
            settings.setValue(COLUMNS_SETTING, ",".join(str(c) for c in sorted(self.chosen_columns)))
        settings.sync()
        self.fitter.fit()

    # -- data -----------------------------------------------------------------------------------

    def set_hosts(
        self,
        hosts: list[Host],
        last_jobs: Mapping[int, LastJob] | None = None,
        *,
        stale_days: int | None = None,
        hardware: Mapping[int, str] | None = None,
    ) -> None:
        """Reload everything, keeping the selection by host id (``last_jobs`` and ``stale_days``:
        what the Status column needs besides the rows; ``hardware``: what the filter also matches,
        see HostsTableModel.set_hosts)."""
        selected = {h.id for h in self.selected_hosts()}
        self.model.set_hosts(hosts, last_jobs, stale_days=stale_days, hardware=hardware)
        self.select_ids(selected)
        self._update_count()
        self._search_timer.start()

    def update_hosts(self, hosts: list[Host], last_jobs: Mapping[int, LastJob] | None = None) -> None:
        self.model.update_hosts(hosts, last_jobs)

    def selected_hosts(self) -> list[Host]:
        # From the selection's ranges (whole rows: the table selects rows), not selectedRows(), which
        # asks the model for every cell's flags of every selected row on each selection change and job start.
        rows, sel = set(), self.table.selectionModel().selection()
        for i in range(sel.count()):
            rng = sel.at(i)
            rows.update(range(rng.top(), rng.bottom() + 1))
        return [h for r in sorted(rows) if (h := self.model.host_at(r)) is not None]

    def current_host(self) -> Host | None:
        sel = self.selected_hosts()
        return sel[0] if len(sel) == 1 else None

    def select_ids(self, ids: set[int | None]) -> None:
        sm = self.table.selectionModel()
        sel = QItemSelection()
        # One range per run of neighbouring rows, not one per row: Qt walks every range on each paint
        # and selection change (a reload kept a 1,000-host selection as 1,000 ranges).
        rows = sorted(r for hid in ids if hid is not None and (r := self.model.row_of(hid)) is not None)
        start = 0
        for i in range(1, len(rows) + 1):
            if i == len(rows) or rows[i] != rows[i - 1] + 1:
                sel.select(self.model.index(rows[start], 0), self.model.index(rows[i - 1], 0))
                start = i
        sm.select(
            sel,
            sm.SelectionFlag.ClearAndSelect | sm.SelectionFlag.Rows,
        )

    def select_host(self, host_id: int) -> None:
        self.select_ids({host_id})
        row = self.model.row_of(host_id)
        if row is not None:
            self.table.scrollTo(self.model.index(row, 0))

    def set_scope(self, ids: list[int] | None, label: str = "") -> None:
        """Show only ``ids`` (None: everything) with ``label`` saying why, e.g. "Missing urgent"."""
        self.model.set_host_ids(ids)
        self.scope_label.setText(f"Showing {len(ids)} host(s): {label}" if ids is not None else "")
        self.scope_bar.setVisible(ids is not None)
        self._update_count()

    @Slot()
    def clear_scope(self) -> None:
        self.set_scope(None)

    # -- slots ----------------------------------------------------------------------------------

    @Slot(str)
    def _filter_changed(self, text: str) -> None:
        self.model.set_filter_text(text)
        self._update_count()

    @Slot()
    def _update_count(self) -> None:
        total, shown = self.model.total_count(), self.model.rowCount()
        self.count_label.setText(
            f"{count_text(shown)} of {count_text(total)} hosts"
            if shown != total
            else f"{count_text(total)} hosts"
        )
        self._sync_empty(total)

    def _sync_empty(self, total: int) -> None:
        if total == 0:
            self.empty_state.set_text(
                "No hosts yet",
                "Add the machines you look after one by one, or import a list (CSV, an Ansible "
                "inventory or your SSH config). Then scan them to see what they are missing.",
            )
            self.empty_state.show_actions("Add host…", "Import hosts…")
        else:
            self.empty_state.set_text(
                "No host matches",
                f"None of the {count_text(total)} hosts matches the filter or the dashboard's selection.",
            )
            self.empty_state.show_actions("Clear the filter")
        self.stack.sync()

    @Slot()
    def _clear_filters(self) -> None:
        self.filter_edit.clear()
        self.clear_scope()

    @Slot(QItemSelection, QItemSelection)
    def _selection_changed(self, _selected: QItemSelection, _deselected: QItemSelection) -> None:
        self.selection_changed.emit()

    @Slot(QModelIndex)
    def _double_clicked(self, index: QModelIndex) -> None:
        host = self.model.host_at(index.row())
        if host is not None:
            self.host_activated.emit(host)


def _settings() -> QSettings:
    # which columns to show is the desktop user's preference, kept per user like the theme choice
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "Patchdesk", "Patchdesk")


def _stored_columns() -> set[int] | None:
    value = _settings().value(COLUMNS_SETTING)
    if not isinstance(value, str):
        return None
    return {int(v) for v in value.split(",") if v.strip().isdigit() and int(v) in OPTIONAL_COLUMNS}
