"""Updates: the list behind a chart segment, and for one update (package, KB, advisory or CVE)
which hosts need it, which have it (from change records) and which failed it."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.domain.compliance import ComplianceFilter, UpdateHost, UpdateStatus, UpdateSummary
from db import database as db_database
from db import hosts as db_hosts
from db import updates as db_updates
from ui.models.host_status import local_iso
from ui.numbers import count_text
from ui.widgets.empty_state import EmptyStack, EmptyState
from ui.workers import submit

logger = logging.getLogger(__name__)


_SERVED_ROLES = frozenset(
    {Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.UserRole + 1}
)


#: The update list's least column width: a bold "Update" header and its padding.
LIST_MIN_SECTION = 80


class _RowsModel(QAbstractTableModel):
    """A read-only table of tuples."""

    def __init__(self, headers: tuple[str, ...], parent=None, *, counts: tuple[int, ...] = ()) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.headers = headers
        self.counts = counts  # columns of counts, shown with the locale's separators (12,345)
        self.rows: list[tuple[object, ...]] = []
        self.payload: list[object] = []

    def set_rows(self, rows: list[tuple[object, ...]], payload: list[object] | None = None) -> None:
        self.beginResetModel()
        self.rows = rows
        self.payload = payload or []
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return len(self.headers)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # type: ignore[no-untyped-def]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.headers[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):  # type: ignore[no-untyped-def]
        if role not in _SERVED_ROLES or not index.isValid():  # a view asks for a dozen roles per cell
            return None
        value = self.rows[index.row()][index.column()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            if value is None:
                return ""
            if isinstance(value, int) and index.column() in self.counts:
                return count_text(value)
            text = str(value)  # the whole-string test first: nearly every cell is clean
            return text if text.isprintable() else "".join(c if c.isprintable() else " " for c in text)
        if role == Qt.ItemDataRole.UserRole + 1:
            return value
        return None


def table(model: QAbstractTableModel, name: str) -> QTableView:
    t = QTableView()
    t.setObjectName(name)
    t.setModel(model)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setAlternatingRowColors(True)
    t.setShowGrid(False)
    t.verticalHeader().setVisible(False)
    t.horizontalHeader().setStretchLastSection(True)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    return t


def _load_list(path: str | None, db, cls: str | None, group: str | None, f: ComplianceFilter):  # type: ignore[no-untyped-def]
    if path is None:
        return db_updates.updates_list(db, classification=cls, group=group, f=f)
    from db.database import open_database

    own = open_database(Path(path), migrate=False)
    try:
        return db_updates.updates_list(own, classification=cls, group=group, f=f)
    finally:
        own.conn.close()


def _load_status(path: str | None, db, spec: str) -> UpdateStatus:  # type: ignore[no-untyped-def]
    if path is None:
        return db_updates.update_status(db, spec)
    from db.database import open_database

    own = open_database(Path(path), migrate=False)
    try:
        return db_updates.update_status(own, spec)
    finally:
        own.conn.close()


#: The Need it table's columns: "Why" last, where it has the room left over (it was cut mid-column).
NEED_HEADERS = ("Host", "Package", "Installed", "Available", "Classification", "Seen", "Why")
NEED_WHY = NEED_HEADERS.index("Why")


class UpdateView(QWidget):
    loaded = Signal()
    hosts_requested = Signal(list, str)
    #: (host ids, package names): patch this update on these hosts (the main window opens the dialog)
    patch_requested = Signal(list, list)
    #: the empty list's next step: scan every host, or add the first
    scan_requested = Signal()
    add_host_requested = Signal()

    def __init__(self, db, parent: QWidget | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.db = db
        self.db_path = db_database.database_file(db)
        self.status: UpdateStatus | None = None
        self.busy = 0

        self.title = QLabel("Pending updates")
        self.title.setObjectName("sectionTitle")
        self.list_model = _RowsModel(("Update", "Manager", "Classification", "Hosts"), self, counts=(3,))
        self.list_table = table(self.list_model, "updateList")
        # column widths from the first 200 rows, not Qt's 1,000: the list holds up to 5,000 updates
        self.list_table.horizontalHeader().setResizeContentsPrecision(200)
        self.list_table.clicked.connect(self._list_clicked)
        # the update's name takes the width (the list is filled while its empty state may show)
        self.list_table.horizontalHeader().setStretchLastSection(False)
        self.list_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        # the stretched "Update" column shrank below its header at the window's minimum size
        self.list_table.horizontalHeader().setMinimumSectionSize(LIST_MIN_SECTION)
        self.list_loaded_once = False
        self.list_empty = EmptyState(
            "No pending updates here",
            "Either every host in this scope is up to date, or none has been scanned yet. "
            "Scan your hosts to find out what they are missing.",
        )
        self.list_empty.add_action("Scan all hosts", self.scan_requested.emit, name="emptyScan")
        self.list_empty.add_action("Add host…", self.add_host_requested.emit, name="emptyAddHost")
        self.list_stack = EmptyStack(self.list_table, self.list_empty)
        self.list_stack.watch(self.list_model)
        left = QVBoxLayout()
        left.addWidget(self.title)
        left.addWidget(self.list_stack, 1)
        left_w = QWidget()
        left_w.setLayout(left)

        self.spec_edit = QLineEdit()
        self.spec_edit.setObjectName("updateSpec")
        self.spec_edit.setPlaceholderText("Package name, KB, advisory or CVE…")
        self.spec_edit.returnPressed.connect(lambda: self.show_update(self.spec_edit.text()))
        go = QPushButton("Show")
        go.clicked.connect(lambda: self.show_update(self.spec_edit.text()))
        self.inventory_button = QPushButton("Show hosts that need it in the inventory")
        self.inventory_button.setEnabled(False)
        self.inventory_button.clicked.connect(self._need_to_inventory)
        self.patch_button = QPushButton("Patch the hosts that need it…")
        self.patch_button.setObjectName("updatePatch")
        self.patch_button.setToolTip(
            "Open the patch preview for this update on the hosts that need it (the selected rows of "
            "Need it, or all of them)"
        )
        self.patch_button.setEnabled(False)
        self.patch_button.clicked.connect(self.request_patch)
        self.can_patch = True  # the window says whether a job may start now (set_patch_allowed)
        head = QHBoxLayout()
        head.addWidget(self.spec_edit, 1)
        head.addWidget(go)
        self.summary_label = QLabel("")
        self.summary_label.setObjectName("hintText")
        self.need_model = _RowsModel(NEED_HEADERS, self)
        self.have_model = _RowsModel(("Host", "Package", "From", "To", "Job", "When"), self)
        self.failed_model = _RowsModel(("Host", "Job", "When", "Why"), self)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("updateTabs")
        self.status_tables = (
            table(self.need_model, "needTable"),
            table(self.have_model, "haveTable"),
            table(self.failed_model, "failedTable"),
        )
        for view, title in zip(self.status_tables, ("Need it", "Have it", "Failed it"), strict=True):
            self.tabs.addTab(view, title)
        # "Why" is sized by _fit_why (a stretched last section ignores its width: it was cut), again
        # whenever the table's width changes
        self.status_tables[0].horizontalHeader().setStretchLastSection(False)
        self.status_tables[0].viewport().installEventFilter(self)
        self.status_empty = EmptyState(
            "Pick an update",
            "Click an update in the list, or type a package name, KB, advisory or CVE above, to see "
            "which hosts need it, which have it and which failed it.",
        )
        self.status_stack = EmptyStack(self.tabs, self.status_empty, lambda: self.status is None)
        self.status_stack.sync()
        actions = QHBoxLayout()
        actions.addWidget(self.inventory_button, 1)
        actions.addWidget(self.patch_button, 1)
        right = QVBoxLayout()
        right.addLayout(head)
        right.addWidget(self.summary_label)
        right.addWidget(self.status_stack, 1)
        right.addLayout(actions)
        right_w = QWidget()
        right_w.setLayout(right)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left_w)
        split.addWidget(right_w)
        split.setSizes([420, 640])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.addWidget(split)

    # -- the list (a chart segment) -----------------------------------------------------------------

    def show_list(
        self, classification: str | None, group: str | None, label: str, f: ComplianceFilter | None = None
    ) -> None:
        self.title.setText(label or "Pending updates")
        self.busy += 1
        scope = f or ComplianceFilter()
        path, db = self.db_path, self.db
        submit(
            self,
            lambda: _load_list(path, db if path is None else None, classification or None, group, scope),
            self._list_loaded,
            self._failed,
        )

    def ensure_loaded(self) -> None:
        """The tab shown directly (not from a chart): list every pending update once."""
        if not self.list_loaded_once and not self.busy:
            self.show_list(None, None, "Pending updates")

    def _list_loaded(self, rows: list[UpdateSummary]) -> None:
        self.busy -= 1
        self.list_loaded_once = True
        self.list_empty.show_actions("Scan all hosts" if db_hosts.host_count(self.db) else "Add host…")
        self.list_model.set_rows([(u.name, u.manager, u.classification, u.hosts) for u in rows], list(rows))
        for col in range(1, self.list_model.columnCount()):  # the name's column stretches
            self.list_table.resizeColumnToContents(col)
        self.loaded.emit()

    @Slot(QModelIndex)
    def _list_clicked(self, index: QModelIndex) -> None:
        u = self.list_model.payload[index.row()]
        assert isinstance(u, UpdateSummary)
        self.show_update(u.name)

    # -- one update -----------------------------------------------------------------------------

    def show_update(self, spec: str) -> None:
        spec = spec.strip()
        if not spec:
            return
        self.spec_edit.setText(spec)
        self.summary_label.setText("Looking…")
        self.busy += 1
        path, db = self.db_path, self.db
        submit(
            self,
            lambda: _load_status(path, db if path is None else None, spec),
            self._status_loaded,
            self._failed,
        )

    def _status_loaded(self, st: UpdateStatus) -> None:
        self.busy -= 1
        self.status = st
        self.need_model.set_rows(
            [
                (
                    u.host,
                    u.detail,
                    u.version_from,
                    u.version_to,
                    u.classification,
                    local_iso(u.at),
                    u.reason,
                )
                for u in st.need
            ],
            list(st.need),
        )
        self.have_model.set_rows(
            [(u.host, u.detail, u.version_from, u.version_to, u.job_id, local_iso(u.at)) for u in st.have]
        )
        self.failed_model.set_rows([(u.host, u.job_id, local_iso(u.at), u.detail) for u in st.failed])
        for view in self.status_tables:
            # widths from the texts, headers included ("Classification" was cut to "Classificatior")
            view.resizeColumnsToContents()
        self._why_width = self.status_tables[0].columnWidth(NEED_WHY)
        self._fit_why()
        self.status_stack.sync()
        self.tabs.setTabText(0, f"Need it ({len({u.host for u in st.need})})")
        self.tabs.setTabText(1, f"Have it ({len(st.have)})")
        self.tabs.setTabText(2, f"Failed it ({len(st.failed)})")
        self.summary_label.setText(
            f"{st.spec}: {len({u.host for u in st.need})} host(s) need it, {len(st.have)} have it, "
            f"{len(st.failed)} failed it."
        )
        self.inventory_button.setEnabled(bool(st.need))
        self._sync_patch_button()
        self.loaded.emit()

    def _fit_why(self) -> None:
        """ "Why" (the last column) takes what is left of the width, and never less than its longest
        reason: it is read whole, never cut."""
        view = self.status_tables[0]
        used = sum(view.columnWidth(c) for c in range(NEED_WHY))
        room = view.viewport().width() - used
        view.setColumnWidth(NEED_WHY, max(room, getattr(self, "_why_width", 0)))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and self.status is not None:
            self._fit_why()
        return False

    # -- patch from the update ----------------------------------------------------------------------

    def set_patch_allowed(self, allowed: bool) -> None:
        """The main window: whether a job may start now (a runner, none running)."""
        self.can_patch = allowed
        self._sync_patch_button()

    def _sync_patch_button(self) -> None:
        self.patch_button.setEnabled(self.can_patch and self.status is not None and bool(self.status.need))

    def patch_targets(self) -> tuple[list[int], list[str]]:
        """The hosts (the selected Need it rows, else all of them) and the package names to patch."""
        if self.status is None:
            return [], []
        rows = sorted({i.row() for i in self.status_tables[0].selectionModel().selectedRows()})
        need = [self.status.need[r] for r in rows] if rows else list(self.status.need)
        ids = sorted({u.host_id for u in need if u.host_id is not None})
        names = sorted({u.detail for u in need if u.detail})
        return ids, names

    @Slot()
    def request_patch(self) -> None:
        ids, names = self.patch_targets()
        if ids and names:
            self.patch_requested.emit(ids, names)

    def _failed(self, exc: BaseException) -> None:
        self.busy -= 1
        self.summary_label.setText(f"Could not load: {exc}")
        logger.warning("update view: %s", exc)

    @Slot()
    def _need_to_inventory(self) -> None:
        if self.status is None:
            return
        ids = sorted({u.host_id for u in self.status.need if u.host_id is not None})
        self.hosts_requested.emit(ids, f"need {self.status.spec}")


def host_list(rows: list[UpdateHost]) -> list[str]:
    return [u.host for u in rows]
