"""Updates: the list behind a chart segment, and for one update (package, KB, advisory or CVE)
which hosts need it, which have it (from change records) and which failed it."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal, Slot
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
from db import updates as db_updates
from ui.models.host_status import local_iso
from ui.workers import submit

logger = logging.getLogger(__name__)


_SERVED_ROLES = frozenset(
    {Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole, Qt.ItemDataRole.UserRole + 1}
)


class _RowsModel(QAbstractTableModel):
    """A read-only table of tuples."""

    def __init__(self, headers: tuple[str, ...], parent=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.headers = headers
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


class UpdateView(QWidget):
    loaded = Signal()
    hosts_requested = Signal(list, str)

    def __init__(self, db, parent: QWidget | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.db = db
        self.db_path = db_database.database_file(db)
        self.status: UpdateStatus | None = None
        self.busy = 0

        self.title = QLabel("Pending updates")
        self.title.setObjectName("sectionTitle")
        self.list_model = _RowsModel(("Update", "Manager", "Classification", "Hosts"), self)
        self.list_table = table(self.list_model, "updateList")
        # column widths from the first 200 rows, not Qt's 1,000: the list holds up to 5,000 updates
        self.list_table.horizontalHeader().setResizeContentsPrecision(200)
        self.list_table.clicked.connect(self._list_clicked)
        left = QVBoxLayout()
        left.addWidget(self.title)
        left.addWidget(self.list_table, 1)
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
        head = QHBoxLayout()
        head.addWidget(self.spec_edit, 1)
        head.addWidget(go)
        self.summary_label = QLabel("")
        self.summary_label.setObjectName("hintText")
        self.need_model = _RowsModel(
            ("Host", "Package", "Installed", "Available", "Classification", "Why", "Seen"), self
        )
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
        right = QVBoxLayout()
        right.addLayout(head)
        right.addWidget(self.summary_label)
        right.addWidget(self.tabs, 1)
        right.addWidget(self.inventory_button)
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

    def _list_loaded(self, rows: list[UpdateSummary]) -> None:
        self.busy -= 1
        self.list_model.set_rows([(u.name, u.manager, u.classification, u.hosts) for u in rows], list(rows))
        self.list_table.resizeColumnsToContents()
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
                    u.reason,
                    local_iso(u.at),
                )
                for u in st.need
            ]
        )
        self.have_model.set_rows(
            [(u.host, u.detail, u.version_from, u.version_to, u.job_id, local_iso(u.at)) for u in st.have]
        )
        self.failed_model.set_rows([(u.host, u.job_id, local_iso(u.at), u.detail) for u in st.failed])
        for view in self.status_tables:
            # widths from the texts, headers included ("Classification" was cut to "Classificatior")
            view.resizeColumnsToContents()
        self.tabs.setTabText(0, f"Need it ({len({u.host for u in st.need})})")
        self.tabs.setTabText(1, f"Have it ({len(st.have)})")
        self.tabs.setTabText(2, f"Failed it ({len(st.failed)})")
        self.summary_label.setText(
            f"{st.spec}: {len({u.host for u in st.need})} host(s) need it, {len(st.have)} have it, "
            f"{len(st.failed)} failed it."
        )
        self.inventory_button.setEnabled(bool(st.need))
        self.loaded.emit()

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
