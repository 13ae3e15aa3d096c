"""Advisories: the vendor bulletins and CISA KEV entries Patchdesk knows, and which hosts need each.

The list and the affected hosts are read on a pool thread with their own connection (a KEV catalog is
over a thousand rows). "Import advisories…" reads a KEV catalog, an OSV file or a folder of OSV files
through the same service as ``patchdesk advisories import``; "Refresh online" fetches the feeds and,
on an offline site, says so in a sentence ("offline — … import a file instead"), never a traceback.
Both re-classify the pending updates, so the window reloads its hosts afterwards (``data_changed``).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelection, QSortFilterProxyModel, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.domain.advisories import KevEntry
from app.domain.errors import PatchdeskError
from db import advisories as db_adv
from db import database as db_database
from db.advisories import AdvisoryRow, AffectedHost
from ui.models.rows_model import SORT_ROLE, Cell, RowsModel
from ui.widgets.empty_state import EmptyStack, EmptyState
from ui.workers import submit, with_own_db

logger = logging.getLogger(__name__)

COL_ID, COL_SEVERITY, COL_CVES, COL_KEV, COL_DUE, COL_HOSTS, COL_STATUS, COL_SUMMARY = range(8)
HEADERS = ("Advisory", "Severity", "CVEs", "KEV", "KEV due", "Hosts", "Status", "Summary")
HOST_HEADERS = ("Host", "Ring", "Package", "Installed", "Available", "Classification", "Why")
HCOL_CLASS, HCOL_WHY = 5, 6

CLASS_COLOURS = {"urgent": "#9b1c14", "important": "#9a4d00", "noncritical": "#3a4252"}
SEVERITY_COLOURS = {"critical": "#9b1c14", "high": "#9a4d00"}
EMPTY_HINT = (
    "No advisory data yet. Import a CISA KEV catalog (known_exploited_vulnerabilities.json), an OSV "
    "file or a folder of OSV files with “Import advisories…”, or use “Refresh online” when this "
    "workstation has internet. Pending updates are then classified against them."
)


@dataclass(frozen=True)
class Snapshot:
    rows: list[AdvisoryRow]
    kev: dict[str, KevEntry]
    last_import: dict[str, Any] | None


def _snapshot(db: Any) -> Snapshot:
    return Snapshot(
        db_adv.list_advisories(db, relevant_only=False, limit=5000),
        {k.cve: k for k in db_adv.kev_entries(db)},
        db_adv.last_import(db),
    )


def _table(model: Any, name: str) -> QTableView:
    t = QTableView()
    t.setObjectName(name)
    t.setModel(model)
    t.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    t.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    t.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    t.setAlternatingRowColors(True)
    t.setShowGrid(False)
    t.setWordWrap(False)
    t.verticalHeader().setVisible(False)
    t.verticalHeader().setDefaultSectionSize(24)
    t.horizontalHeader().setStretchLastSection(True)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    t.horizontalHeader().setHighlightSections(False)
    return t


def _hint(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setObjectName("hintText")
    label.setWordWrap(True)
    return label


class AdvisoriesView(QWidget):
    #: the list was (re)loaded
    loaded = Signal()
    #: the affected hosts of the selected advisory were loaded
    hosts_loaded = Signal()
    #: an import or refresh stored new data (pending updates may have changed class)
    data_changed = Signal()
    #: host ids and a label: show these hosts in the inventory
    hosts_requested = Signal(list, str)

    def __init__(self, db, parent: QWidget | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.db = db
        self.db_path = db_database.database_file(db)
        self.snapshot: Snapshot | None = None
        self.affected: list[AffectedHost] = []
        self.current_id: str | None = None
        self.busy = 0
        self._generation = 0
        self._loaded_once = False
        self.last_message = ""  # the outcome of the last import or refresh
        self._pending_message = ""

        self.filter_edit = QLineEdit()
        self.filter_edit.setObjectName("advisoryFilter")
        self.filter_edit.setPlaceholderText("Filter by advisory, CVE, package or summary…")
        self.filter_edit.setClearButtonEnabled(True)
        self.relevant_check = QCheckBox("Only what my hosts need")
        self.relevant_check.setObjectName("advisoryRelevant")
        self.relevant_check.toggled.connect(self._apply_rows)
        self.import_button = QPushButton("Import advisories…")
        self.import_button.setObjectName("advisoryImport")
        self.import_button.setToolTip("Read a CISA KEV catalog, an OSV file or a folder of OSV files")
        menu = QMenu(self.import_button)
        menu.addAction("KEV catalog or OSV file…", self._choose_file)
        menu.addAction("Folder of OSV files…", self._choose_folder)
        self.import_button.setMenu(menu)
        self.refresh_button = QPushButton("Refresh online")
        self.refresh_button.setObjectName("advisoryRefresh")
        self.refresh_button.setToolTip(
            "Fetch the CISA KEV feed and OSV.dev advisories for the pending packages (needs internet)"
        )
        self.refresh_button.clicked.connect(self.refresh_online)
        head = QHBoxLayout()
        head.addWidget(self.filter_edit, 1)
        head.addWidget(self.relevant_check)
        head.addSpacing(8)
        head.addWidget(self.import_button)
        head.addWidget(self.refresh_button)

        self.status_label = _hint()
        self.status_label.setObjectName("advisoryStatus")
        self.error_label = QLabel()
        self.error_label.setObjectName("errorText")
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setVisible(False)
        # no advisory data at all: the shared empty state, with the two ways to get some
        self.empty_state = EmptyState("No advisory data yet", EMPTY_HINT)
        self.empty_state.add_action("Import a file…", self._choose_file, name="emptyImportAdvisories")
        self.empty_state.add_action("Refresh online", self.refresh_online, name="emptyRefreshOnline")
        self.empty_label = self.empty_state.text
        self.empty_label.setObjectName("advisoryEmpty")

        self.model = RowsModel(HEADERS, self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(-1)
        self.filter_edit.textChanged.connect(self.proxy.setFilterFixedString)
        self.table = _table(self.proxy, "advisoryTable")
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # the database's order: needed first
        for col, width in (
            (COL_ID, 150),
            (COL_SEVERITY, 80),  # a bold "Severity" and the header padding
            (COL_CVES, 230),
            (COL_KEV, 44),
            (COL_DUE, 86),
            (COL_HOSTS, 58),
            (COL_STATUS, 130),
        ):
            self.table.setColumnWidth(col, width)
        self.table.selectionModel().selectionChanged.connect(self._selected)

        top = QWidget()
        top_lay = QVBoxLayout(top)
        top_lay.setContentsMargins(0, 0, 0, 0)
        self.table_stack = EmptyStack(
            self.table, self.empty_state, lambda: self.snapshot is not None and not self.snapshot.rows
        )
        top_lay.addWidget(self.table_stack, 1)

        self.detail_title = QLabel("Which hosts need it")
        self.detail_title.setObjectName("sectionTitle")
        self.detail_text = _hint("Select an advisory to see which hosts need it.")
        self.detail_text.setObjectName("advisoryDetail")
        self.detail_text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hosts_model = RowsModel(HOST_HEADERS, self)
        self.hosts_table = _table(self.hosts_model, "advisoryHosts")
        for col, width in ((0, 130), (1, 80), (2, 130), (3, 100), (4, 100), (HCOL_CLASS, 112)):
            self.hosts_table.setColumnWidth(col, width)
        self.inventory_button = QPushButton("Show these hosts in the inventory")
        self.inventory_button.setObjectName("advisoryToInventory")
        self.inventory_button.setEnabled(False)
        self.inventory_button.clicked.connect(self._to_inventory)
        foot = QHBoxLayout()
        foot.addStretch(1)
        foot.addWidget(self.inventory_button)
        bottom = QWidget()
        bottom_lay = QVBoxLayout(bottom)
        bottom_lay.setContentsMargins(0, 4, 0, 0)
        bottom_lay.addWidget(self.detail_title)
        bottom_lay.addWidget(self.detail_text)
        bottom_lay.addWidget(self.hosts_table, 1)
        bottom_lay.addLayout(foot)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setChildrenCollapsible(False)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.addLayout(head)
        lay.addWidget(self.error_label)
        lay.addWidget(self.status_label)
        lay.addWidget(split, 1)

    # -- loading ----------------------------------------------------------------------------------

    def ensure_loaded(self) -> None:
        """The first time the tab is shown (later: after imports, or ``reload``)."""
        if not self._loaded_once:
            self.reload()

    @Slot()
    def reload(self) -> None:
        self._loaded_once = True
        self.busy += 1
        self.status_label.setText("Loading advisories…")
        path, db = self.db_path, self.db
        submit(self, lambda: with_own_db(path, db, _snapshot), self._show, self._load_failed)

    def _load_failed(self, exc: BaseException) -> None:
        self.busy -= 1
        self.status_label.setText(f"The advisories could not be loaded: {exc}")
        logger.warning("advisories not loaded: %s", exc)

    def _show(self, snap: Snapshot) -> None:
        self.busy -= 1
        self.snapshot = snap
        self._apply_rows()
        last = snap.last_import
        needed = sum(1 for r in snap.rows if r.affected_hosts)
        if last is None:
            self.status_label.setText("No advisories imported yet.")
        else:
            self.status_label.setText(
                f"{len(snap.rows)} advisories and KEV entries, {needed} needed by at least one host; "
                f"{len(snap.kev)} CVEs in the KEV catalog. "
                f"Last import {str(last['at'])[:16].replace('T', ' ')} UTC."
            )
        if self._pending_message:
            self.status_label.setText(self._pending_message + "  " + self.status_label.text())
            self._pending_message = ""
        self.loaded.emit()
        if self.current_id is not None:
            self.select(self.current_id)

    @Slot()
    def _apply_rows(self) -> None:
        snap = self.snapshot
        rows = [] if snap is None else list(snap.rows)
        if self.relevant_check.isChecked():
            rows = [r for r in rows if r.affected_hosts]
        kev = snap.kev if snap is not None else {}
        self.model.set_rows([self._cells(r, kev) for r in rows], rows)
        self.table_stack.sync()

    @staticmethod
    def _cells(r: AdvisoryRow, kev: dict[str, KevEntry]) -> tuple[Cell, ...]:
        in_kev = [kev[c] for c in r.cves if c in kev]
        cves = ", ".join(r.cves[:3]) + (f" (+{len(r.cves) - 3})" if len(r.cves) > 3 else "")
        due = r.kev_due or min((k.due_date for k in in_kev if k.due_date), default="")
        kev_tip = "\n".join(
            f"{k.cve}: added {k.date_added}, due {k.due_date or '—'}"
            + (f"; ransomware use: {k.ransomware}" if k.ransomware and k.ransomware != "Unknown" else "")
            for k in in_kev
        )
        severity = (r.severity or "").lower()
        return (
            Cell(r.id, r.id.casefold(), f"{r.id} ({r.source})"),
            Cell(r.severity or "", severity, colour=SEVERITY_COLOURS.get(severity)),
            Cell(cves, ", ".join(r.cves), "\n".join(r.cves[:40])),
            Cell("yes" if in_kev else "no", int(bool(in_kev)), kev_tip, "#9b1c14" if in_kev else None),
            Cell(due or "—", due or "9999", kev_tip),
            Cell(str(r.affected_hosts), r.affected_hosts),
            Cell(r.status, r.affected_hosts, colour=None if r.affected_hosts else "#6b7280"),
            Cell(r.summary, r.summary.casefold(), r.summary),
        )

    # -- one advisory -----------------------------------------------------------------------------

    def row_of(self, advisory_id: str) -> int:
        """The proxy row showing ``advisory_id`` (-1 when filtered out or unknown)."""
        for row in range(self.proxy.rowCount()):
            if self.proxy.index(row, COL_ID).data() == advisory_id:
                return row
        return -1

    def select(self, advisory_id: str) -> bool:
        row = self.row_of(advisory_id)
        if row < 0:
            return False
        self.table.selectRow(row)
        self.table.scrollTo(self.proxy.index(row, 0))
        return True

    @Slot(QItemSelection, QItemSelection)
    def _selected(self, *_args: object) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return
        item = self.model.item(self.proxy.mapToSource(rows[0]).row())
        if isinstance(item, AdvisoryRow):
            self.show_hosts_of(item)

    def show_hosts_of(self, adv: AdvisoryRow) -> None:
        self.current_id = adv.id
        self._generation += 1
        gen = self._generation
        self.detail_title.setText(f"Which hosts need {adv.id}")
        self.detail_text.setText(self._describe(adv) + "\nLooking for hosts…")
        self.busy += 1
        path, db, key = self.db_path, self.db, adv.id
        submit(
            self,
            lambda: with_own_db(path, db, lambda d: db_adv.affected_hosts(d, key)),
            lambda found: self._hosts_shown(gen, adv, found),
            self._load_failed,
        )

    def _describe(self, adv: AdvisoryRow) -> str:
        kev = self.snapshot.kev if self.snapshot else {}
        parts = [adv.summary or adv.id]
        if adv.packages:
            parts.append("Packages: " + ", ".join(adv.packages[:8]))
        for c in adv.cves:
            k = kev.get(c)
            if k is not None:
                action = f" Required action: {k.required_action}" if k.required_action else ""
                parts.append(f"{c} is in CISA KEV (added {k.date_added}, due {k.due_date or '—'}).{action}")
        return "\n".join(p[:400] for p in parts[:6])

    def _hosts_shown(self, gen: int, adv: AdvisoryRow, found: list[AffectedHost]) -> None:
        self.busy -= 1
        if gen != self._generation:
            return  # another advisory was selected meanwhile
        self.affected = found
        self.hosts_model.set_rows(
            [
                (
                    Cell(a.host_name),
                    Cell(a.ring),
                    Cell(a.package),
                    Cell(a.installed or "(new)"),
                    Cell(a.available),
                    Cell(
                        a.classification,
                        a.classification,
                        a.reason,
                        CLASS_COLOURS.get(a.classification),
                    ),
                    Cell(a.reason, a.reason, a.reason),
                )
                for a in found
            ],
            found,
        )
        names = sorted({a.host_name for a in found}, key=str.casefold)
        summary = (
            f"{len(names)} host(s) need it: {', '.join(names[:10])}{'…' if len(names) > 10 else ''}."
            if names
            else "No host needs it: no pending update is linked to it."
        )
        self.detail_text.setText(self._describe(adv) + "\n" + summary)
        self.inventory_button.setEnabled(bool(found))
        self.hosts_loaded.emit()

    @Slot()
    def _to_inventory(self) -> None:
        if not self.affected or self.current_id is None:
            return
        ids = sorted({a.host_id for a in self.affected})
        self.hosts_requested.emit(ids, f"need {self.current_id}")

    # -- import and refresh -----------------------------------------------------------------------

    @Slot()
    def _choose_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Import advisories", "", "Advisory files (*.json);;All files (*)"
        )
        if path:
            self.import_paths([Path(path)])

    @Slot()
    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Import a folder of OSV files")
        if path:
            self.import_paths([Path(path)])

    def import_paths(self, paths: list[Path]) -> None:
        """Import on a pool thread (its own connection); the outcome is a sentence either way."""
        from app.services import advisories as service

        names = ", ".join(p.name for p in paths)
        self._run_import(f"Importing {names}…", lambda d: service.import_paths(d, paths))

    @Slot()
    def refresh_online(self, *, kev_url: str | None = None, timeout: float = 8.0) -> None:
        """Fetch the feeds; offline, the message says to import a file instead."""
        from app.services import advisories as service

        def work(d: Any) -> Any:
            return service.store(d, service.fetch_online(d, kev_url=kev_url, timeout=timeout))

        self._run_import("Fetching the CISA KEV feed and OSV.dev advisories…", work)

    def _run_import(self, text: str, work: Callable[[Any], Any]) -> None:
        self.error_label.setVisible(False)
        self.status_label.setText(text)
        self.import_button.setEnabled(False)
        self.refresh_button.setEnabled(False)
        self.busy += 1
        path, db = self.db_path, self.db
        submit(self, lambda: with_own_db(path, db, work), self._imported, self._import_failed)

    def _imported(self, outcome: Any) -> None:
        self.busy -= 1
        self.import_button.setEnabled(True)
        self.refresh_button.setEnabled(True)
        text = outcome.sentence()
        if outcome.urgent_pending:
            text += f" {outcome.urgent_pending} urgent update(s) pending."
        self.last_message = self._pending_message = text
        self.data_changed.emit()
        self.reload()

    def _import_failed(self, exc: BaseException) -> None:
        self.busy -= 1
        self.import_button.setEnabled(True)
        self.refresh_button.setEnabled(True)
        if isinstance(exc, PatchdeskError):
            self.last_message = str(exc)
            self.error_label.setText(str(exc))
            self.error_label.setVisible(True)
            self.status_label.setText("Nothing was imported.")
            logger.warning("advisory import: %s", exc)
            return
        self.status_label.setText("The import failed.")
        sys.excepthook(type(exc), exc, exc.__traceback__)  # a bug: the crash dialog
