"""Import hosts from a CSV, Ansible INI/YAML or OpenSSH config file, with a preview first.

The preview lists the hosts that will be added and every problem with its line number, so the user
can fix the file before importing. Import adds the good hosts; names already in the inventory are
reported (with their line) and skipped, never overwritten. The hosts are added through
app.services.inventory, which writes one audit entry naming ``source`` (who imported).
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QBrush
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import PatchdeskError
from app.domain.models import Host
from app.importers.base import ImportResult
from app.importers.detect import read_inventory
from app.services import inventory
from db import hosts as db_hosts
from db.database import database_file
from db.settings import policy_settings
from ui.theme import text_colour
from ui.workers import submit, with_own_db

FORMATS = [
    ("Detect automatically", None),
    ("CSV", "csv"),
    ("Ansible INI", "ansible-ini"),
    ("Ansible YAML", "ansible-yaml"),
    ("OpenSSH config", "ssh-config"),
]
FORMAT_NAMES = {
    "csv": "CSV",
    "ansible-ini": "Ansible INI",
    "ansible-yaml": "Ansible YAML",
    "ssh-config": "OpenSSH config",
}
FILE_FILTER = "Inventories (*.csv *.ini *.yml *.yaml *.cfg *.txt config hosts);;All files (*)"


#: Rows the preview shows: a table of 100,000 rows would take the window seconds to build.
PREVIEW_ROWS = 1000


class ImportDialog(QDialog):
    def __init__(self, db, parent: QWidget | None = None, *, source: str = "import dialog") -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.db = db
        self.source = source
        self.result: ImportResult | None = None
        self.added: list[Host] = []
        self.problems: list[str] = []
        self._to_add: list[Host] = []
        self.loading = False
        self.importing = False
        self._generation = 0  # which reload an answer belongs to: a newer file wins
        self.setWindowTitle("Import hosts")
        self.resize(820, 560)

        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("CSV, Ansible inventory (INI or YAML) or ~/.ssh/config")
        self.path_edit.returnPressed.connect(self.reload)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.format_combo = QComboBox()
        for label, value in FORMATS:
            self.format_combo.addItem(label, value)
        self.format_combo.currentIndexChanged.connect(self.reload)
        top = QHBoxLayout()
        top.addWidget(QLabel("File:"))
        top.addWidget(self.path_edit, 1)
        top.addWidget(browse)
        top.addWidget(QLabel("Format:"))
        top.addWidget(self.format_combo)

        self.summary = QLabel("Choose a file to see what will be imported.")
        self.summary.setObjectName("sectionTitle")
        self.preview = QTableWidget(0, 6)
        self.preview.setObjectName("importPreview")
        self.preview.setHorizontalHeaderLabels(["Name", "Address", "Port", "User", "Group", "Line"])
        self.preview.verticalHeader().setVisible(False)
        self.preview.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.preview.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.preview.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.problems_label = QLabel("Problems")
        self.problems_label.setObjectName("sectionTitle")
        self.problem_list = QListWidget()
        self.problem_list.setObjectName("importProblems")
        self.problem_list.setMaximumHeight(150)

        self.buttons = QDialogButtonBox()
        self.import_button = self.buttons.addButton("Import", QDialogButtonBox.ButtonRole.AcceptRole)
        self.import_button.setObjectName("importButton")
        self.import_button.setEnabled(False)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.do_import)
        self.buttons.rejected.connect(self._close)

        layout = QVBoxLayout(self)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.summary)
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.problems_label)
        layout.addWidget(self.problem_list)
        layout.addWidget(self.buttons)
        self._show_problems([])

    # -- loading --------------------------------------------------------------------------------

    @Slot()
    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose an inventory file", str(Path.home()), FILE_FILTER)
        if path:
            self.load_file(Path(path))

    def load_file(self, path: Path) -> None:
        self.path_edit.setText(str(path))
        self.reload()

    @Slot()
    def reload(self) -> None:
        """Read the file on a pool thread (a large inventory takes seconds to parse); the answer
        fills the preview on the main thread."""
        text = self.path_edit.text().strip()
        self.result = None
        self.preview.setRowCount(0)
        self._to_add = []
        self.import_button.setEnabled(False)
        self._generation += 1
        if not text:
            self.loading = False
            return
        generation = self._generation
        path = Path(text).expanduser()
        fmt = self.format_combo.currentData()
        cap = policy_settings(self.db).import_max_hosts
        self.loading = True
        self.summary.setText(f"Reading {path.name}…")
        self._show_problems([])

        def read() -> ImportResult:  # pool thread: the file only, never the database
            return read_inventory(path, fmt, max_hosts=cap)

        submit(
            self,
            read,
            lambda result: self._read(generation, result),
            lambda exc: self._read_failed(generation, exc),
        )

    def _read_failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        self.loading = False
        if not isinstance(exc, PatchdeskError):
            sys.excepthook(type(exc), exc, exc.__traceback__)  # a bug: the crash dialog
            return
        self.summary.setText("This file cannot be imported.")
        self._show_problems([str(exc)])

    def _read(self, generation: int, result: ImportResult) -> None:
        if generation != self._generation:
            return  # a newer file or format was chosen meanwhile
        self.loading = False
        self.result = result
        existing = {h.name.casefold() for h in db_hosts.list_hosts(self.db)}
        problems = [str(p) for p in result.problems]
        good = []
        for h in result.hosts:
            if h.name.casefold() in existing:
                problems.append(
                    f"line {result.lines.get(h.name, 0)}: {h.name} is already in the inventory; skipped."
                )
            else:
                good.append(h)
        shown = good[:PREVIEW_ROWS]
        self.preview.setRowCount(len(shown))
        for row, h in enumerate(shown):
            for col, value in enumerate(
                (
                    h.name,
                    h.address,
                    str(h.port or ""),
                    h.user or "",
                    h.group or "",
                    str(result.lines.get(h.name, "")),
                )
            ):
                item = QTableWidgetItem(value)
                if col in (2, 5):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.preview.setItem(row, col, item)
        self._to_add = good
        fmt = FORMAT_NAMES.get(result.format, result.format)
        more = f" (the first {len(shown):,} shown)" if len(good) > len(shown) else ""
        self.summary.setText(
            f"{len(good):,} host(s) will be added from this {fmt} file{more}"
            + (f"; {len(problems)} problem(s) below." if problems else ".")
        )
        self._show_problems(problems)
        self.import_button.setEnabled(bool(good))

    def _show_problems(self, problems: list[str]) -> None:
        self.problems = problems
        self.problem_list.clear()
        for p in problems[:PREVIEW_ROWS]:
            item = QListWidgetItem(p)
            item.setForeground(QBrush(text_colour("#9b1c14")))
            self.problem_list.addItem(item)
        if len(problems) > PREVIEW_ROWS:
            self.problem_list.addItem(QListWidgetItem(f"… and {len(problems) - PREVIEW_ROWS:,} more."))
        self.problems_label.setText(f"Problems ({len(problems):,})" if problems else "Problems: none")
        self.problem_list.setVisible(bool(problems))

    def problem_texts(self) -> list[str]:
        return [self.problem_list.item(i).text() for i in range(self.problem_list.count())]

    # -- importing ------------------------------------------------------------------------------

    @Slot()
    def do_import(self) -> None:
        """Add the good hosts through the inventory service on a connection of the pool thread's own
        (100,000 hosts take seconds); the dialog waits, the window does not."""
        if self.result is None or self.importing:
            return
        self.importing = True
        self.import_button.setEnabled(False)
        self.close_button.setEnabled(False)
        self.summary.setText(f"Importing {len(self._to_add):,} host(s)…")
        path, db = database_file(self.db), self.db
        hosts, source, lines = list(self._to_add), self.source, self.result.lines

        def work() -> inventory.ImportOutcome:
            return with_own_db(path, db, lambda d: inventory.import_hosts(d, hosts, source, lines=lines))

        if path is None:  # an in-memory database has one connection, on this thread
            self._imported(work())
        else:
            submit(self, work, self._imported, self._import_failed)

    def _imported(self, outcome: inventory.ImportOutcome) -> None:
        self.importing = False
        self.close_button.setEnabled(True)
        added = outcome.added
        problems = list(self.problems) + outcome.problems
        self.added.extend(added)
        self.summary.setText(f"Imported {len(added):,} host(s).")
        self._show_problems(problems)
        self.preview.setRowCount(0)
        self.close_button.setText("Close")
        if not problems:
            self.accept()

    def _import_failed(self, exc: BaseException) -> None:
        self.importing = False
        self.close_button.setEnabled(True)
        if not isinstance(exc, PatchdeskError):
            sys.excepthook(type(exc), exc, exc.__traceback__)
            return
        # one transaction: nothing was added, and the file can be imported again
        self.summary.setText("Nothing was imported.")
        self._show_problems([str(exc)])
        self.import_button.setEnabled(bool(self._to_add))

    @Slot()
    def _close(self) -> None:
        if self.added:
            self.accept()  # the inventory changed: the main window reloads on accepted
        else:
            self.reject()
