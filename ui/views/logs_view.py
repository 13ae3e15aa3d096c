"""Logs: every job's per-host log lines, searchable (text, host, job, time range, level) and
exportable to CSV; old lines pruned by a retention setting — never silently."""

from __future__ import annotations

import csv
import logging
from datetime import UTC
from pathlib import Path

from PySide6.QtCore import QDateTime, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import PatchdeskError
from db import database as db_database
from db import hosts as db_hosts
from db import joblogs
from db.joblogs import LogQuery, LogRow
from ui.numbers import count_text
from ui.views.update_view import _RowsModel, table
from ui.widgets.empty_state import EmptyStack, EmptyState
from ui.workers import submit

logger = logging.getLogger(__name__)

PAGE = 2000


def _search(path: str | None, db, q: LogQuery, before: int | None) -> list[LogRow]:  # type: ignore[no-untyped-def]
    if path is None:
        return joblogs.search(db, q, limit=PAGE, before_id=before)
    from db.database import open_database

    own = open_database(Path(path), migrate=False)
    try:
        return joblogs.search(own, q, limit=PAGE, before_id=before)
    finally:
        own.conn.close()


class LogsView(QWidget):
    loaded = Signal()
    pruned = Signal(int)
    #: the empty state's next step: scan every host (each host's lines land here), or add the first
    scan_requested = Signal()
    add_host_requested = Signal()

    def __init__(self, db, parent: QWidget | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.db = db
        self.db_path = db_database.database_file(db)
        self.rows: list[LogRow] = []
        self.busy = 0

        self.text_edit = QLineEdit()
        self.text_edit.setObjectName("logText")
        self.text_edit.setPlaceholderText("Search log text…")
        self.text_edit.setClearButtonEnabled(True)
        self.text_edit.returnPressed.connect(self.search)
        self.host_combo = QComboBox()
        self.host_combo.setObjectName("logHost")
        self.host_combo.setEditable(True)
        self.job_combo = QComboBox()
        self.job_combo.setObjectName("logJob")
        self.level_combo = QComboBox()
        self.level_combo.setObjectName("logLevel")
        self.level_combo.addItem("Any level", ())
        self.level_combo.addItem("Errors", ("error",))
        self.level_combo.addItem("Warnings and errors", ("warning", "error"))
        self.level_combo.addItem("Info and above", ("info", "warning", "error"))
        self.since_check = QCheckBox("From")
        self.since_edit = QDateTimeEdit(QDateTime.currentDateTime().addDays(-7))
        self.until_check = QCheckBox("to")
        self.until_edit = QDateTimeEdit(QDateTime.currentDateTime())
        for e in (self.since_edit, self.until_edit):
            e.setCalendarPopup(True)
            e.setDisplayFormat("yyyy-MM-dd HH:mm")
        self.search_button = QPushButton("Search")
        self.search_button.setObjectName("logSearch")
        self.search_button.clicked.connect(self.search)
        row1 = QHBoxLayout()
        row1.addWidget(self.text_edit, 2)
        row1.addWidget(QLabel("Host"))
        row1.addWidget(self.host_combo, 1)
        row1.addWidget(QLabel("Job"))
        row1.addWidget(self.job_combo, 1)
        row1.addWidget(self.level_combo)
        row2 = QHBoxLayout()
        row2.addWidget(self.since_check)
        row2.addWidget(self.since_edit)
        row2.addWidget(self.until_check)
        row2.addWidget(self.until_edit)
        row2.addStretch(1)
        row2.addWidget(self.search_button)

        self.model = _RowsModel(("Time (local)", "Job", "Host", "Level", "Text"), self)
        self.table = table(self.model, "logTable")
        self.empty_state = EmptyState("No log lines yet")
        self.empty_state.add_action("Scan all hosts", self.scan_requested.emit, name="emptyScan")
        self.empty_state.add_action("Clear the filters", self.clear_filters, name="emptyClear")
        self.empty_state.add_action("Add host…", self.add_host_requested.emit, name="emptyAddHost")
        self.stack = EmptyStack(self.table, self.empty_state, self._sync_empty)
        self.count_label = QLabel("")
        self.count_label.setObjectName("hintText")
        self.more_button = QPushButton("Load older lines")
        self.more_button.clicked.connect(self.load_more)
        self.more_button.setEnabled(False)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setObjectName("logExport")
        self.export_button.clicked.connect(self._export_clicked)
        self.retention_spin = QSpinBox()
        self.retention_spin.setObjectName("logRetention")
        self.retention_spin.setRange(0, 3650)
        self.retention_spin.setSpecialValueText("keep forever")
        self.retention_spin.setSuffix(" days")
        self.retention_spin.setValue(joblogs.retention_days(db) or 0)
        self.retention_spin.setToolTip("Log lines older than this are pruned at start-up and with Prune now.")
        self.retention_spin.editingFinished.connect(self._retention_changed)
        self.prune_button = QPushButton("Prune now")
        self.prune_button.setObjectName("logPrune")
        self.prune_button.clicked.connect(self.prune_now)
        self.prune_label = QLabel("")
        self.prune_label.setObjectName("pruneLabel")
        foot = QHBoxLayout()
        foot.addWidget(self.count_label)
        foot.addWidget(self.more_button)
        foot.addStretch(1)
        foot.addWidget(self.prune_label)
        foot.addWidget(QLabel("Keep logs"))
        foot.addWidget(self.retention_spin)
        foot.addWidget(self.prune_button)
        foot.addWidget(self.export_button)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.addLayout(row1)
        lay.addLayout(row2)
        lay.addWidget(self.stack, 1)
        lay.addLayout(foot)
        self.stack.sync()

    def reload_choices(self) -> None:
        host = self.host_combo.currentText()
        self.host_combo.clear()
        self.host_combo.addItem("")
        self.host_combo.addItems(joblogs.host_names(self.db))
        self.host_combo.setCurrentText(host)
        job = self.job_combo.currentData()
        self.job_combo.clear()
        self.job_combo.addItem("Any job", None)
        for jid, kind, created in joblogs.job_ids(self.db):
            self.job_combo.addItem(f"#{jid} {kind} {created[:16].replace('T', ' ')}", jid)
        idx = self.job_combo.findData(job)
        self.job_combo.setCurrentIndex(max(idx, 0))

    def filtered(self) -> bool:
        """Whether any search field narrows the lines (an empty table then means "no match")."""
        q = self.current_query()
        return any((q.text, q.host, q.job_id, q.since, q.until, q.levels))

    def _sync_empty(self) -> bool:
        """The empty state's words: nothing logged at all, or nothing matching the search."""
        if self.rows or self.busy:
            return False
        if self.filtered():
            self.empty_state.set_text(
                "No log line matches", "Widen the search: another host, job, level or time range."
            )
            self.empty_state.show_actions("Clear the filters")
        else:
            self.empty_state.set_text(
                "No log lines yet",
                "Every job writes what it did on each host here: scans, patches, verifications, "
                "rollbacks. Scan your hosts to see their first lines.",
            )
            # nothing to scan without a host: the first step is adding one
            self.empty_state.show_actions("Scan all hosts" if db_hosts.host_count(self.db) else "Add host…")
        return True

    @Slot()
    def clear_filters(self) -> None:
        self.text_edit.clear()
        self.host_combo.setCurrentText("")
        self.job_combo.setCurrentIndex(0)
        self.level_combo.setCurrentIndex(0)
        self.since_check.setChecked(False)
        self.until_check.setChecked(False)
        self.search()

    def current_query(self) -> LogQuery:
        def iso(edit: QDateTimeEdit) -> str:
            return edit.dateTime().toUTC().toPython().replace(tzinfo=UTC).isoformat(timespec="milliseconds")

        return LogQuery(
            text=self.text_edit.text().strip() or None,
            host=self.host_combo.currentText().strip() or None,
            job_id=self.job_combo.currentData(),
            since=iso(self.since_edit) if self.since_check.isChecked() else None,
            until=iso(self.until_edit) if self.until_check.isChecked() else None,
            levels=tuple(self.level_combo.currentData() or ()),
        )

    @Slot()
    def search(self) -> None:
        self.rows = []
        self._fetch(None)

    @Slot()
    def load_more(self) -> None:
        if self.rows:
            self._fetch(self.rows[-1].id)

    def _fetch(self, before: int | None) -> None:
        q = self.current_query()
        path, db = self.db_path, self.db
        self.busy += 1
        self.count_label.setText("Searching…")
        submit(
            self, lambda: _search(path, db if path is None else None, q, before), self._loaded, self._failed
        )

    def _loaded(self, rows: list[LogRow]) -> None:
        self.busy -= 1
        self.rows += rows
        self.model.set_rows(
            [(_local(r.ts), f"#{r.job_id} {r.job_kind}", r.host, r.level, r.text) for r in self.rows]
        )
        self.more_button.setEnabled(len(rows) == PAGE)
        self.count_label.setText(
            f"{count_text(len(self.rows))} line(s){' (more available)' if len(rows) == PAGE else ''}"
        )
        self.stack.sync()
        self.table.resizeColumnToContents(0)
        self.table.resizeColumnToContents(1)
        self.loaded.emit()

    def _failed(self, exc: BaseException) -> None:
        self.busy -= 1
        self.count_label.setText(f"Search failed: {exc}")

    # -- export and retention ----------------------------------------------------------------------

    @Slot()
    def _export_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export logs", "patchdesk-logs.csv", "CSV (*.csv)")
        if path:
            try:
                n = self.export_csv(Path(path))
            except PatchdeskError as exc:
                self.count_label.setText(f"The logs were not exported: {exc}")
                return
            self.count_label.setText(f"Exported {n} line(s) to {path}.")

    def export_csv(self, path: Path) -> int:
        """Every line matching the current filters (not only those loaded), oldest first; written to a
        temporary file beside ``path`` and renamed, so a failed export leaves no half file."""
        from app.reports import files

        n = 0

        def write(tmp: Path) -> None:
            nonlocal n
            with tmp.open("w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(["time_utc", "job", "job_kind", "host", "level", "text"])
                for r in joblogs.iter_all(self.db, self.current_query()):
                    text = r.text if r.text[:1] not in ("=", "+", "-", "@") else "'" + r.text
                    w.writerow([r.ts, r.job_id, r.job_kind, r.host, r.level, text])
                    n += 1

        files.stage(path, write).publish()
        return n

    def reload_settings(self) -> None:
        """The retention as stored (Tools → Settings… changed it)."""
        self.retention_spin.setValue(joblogs.retention_days(self.db) or 0)

    @Slot()
    def _retention_changed(self) -> None:
        from app.services import audit

        audit.set_log_retention(self.db, self.retention_spin.value() or None)

    @Slot()
    def prune_now(self) -> int:
        from app.services import audit

        self._retention_changed()
        days = joblogs.retention_days(self.db)
        if not days:
            self.prune_label.setText("Retention is 'keep forever': nothing pruned.")
            return 0
        n = audit.prune_logs(self.db, days)
        self.show_pruned(n, days)
        if n:
            self.search()
        return n

    def show_pruned(self, n: int, days: int) -> None:
        self.prune_label.setText(f"Pruned {n} log line(s) older than {days} days.")
        self.pruned.emit(n)


def _local(ts: str) -> str:
    from datetime import datetime

    try:
        return datetime.fromisoformat(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return ts
