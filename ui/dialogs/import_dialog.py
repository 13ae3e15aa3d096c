"""Import hosts from a CSV, Ansible INI/YAML or OpenSSH config file, with a preview first.

The preview lists the hosts that will be added and every problem with its line number, so the user
can fix the file before importing. Import adds the good hosts; names already in the inventory are
reported (with their line) and skipped, never overwritten. The hosts are added through
app.services.inventory, which writes one audit entry naming ``source`` (who imported).
"""

from __future__ import annotations

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
from db.settings import policy_settings
from ui.theme import text_colour

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


class ImportDialog(QDialog):
    def __init__(self, db, parent: QWidget | None = None, *, source: str = "import dialog") -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.db = db
        self.source = source
        self.result: ImportResult | None = None
        self.added: list[Host] = []
        self.problems: list[str] = []
        self._to_add: list[Host] = []
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
        text = self.path_edit.text().strip()
        self.result = None
        self.preview.setRowCount(0)
        self._to_add = []
        self.import_button.setEnabled(False)
        if not text:
            return
        try:
            self.result = read_inventory(
                Path(text).expanduser(),
                self.format_combo.currentData(),
                max_hosts=policy_settings(self.db).import_max_hosts,
            )
        except PatchdeskError as exc:
            self.summary.setText("This file cannot be imported.")
            self._show_problems([str(exc)])
            return
        existing = {h.name.casefold() for h in db_hosts.list_hosts(self.db)}
        problems = [str(p) for p in self.result.problems]
        good = []
        for h in self.result.hosts:
            if h.name.casefold() in existing:
                problems.append(
                    f"line {self.result.lines.get(h.name, 0)}: {h.name} is already in the inventory; skipped."
                )
            else:
                good.append(h)
        self.preview.setRowCount(len(good))
        for row, h in enumerate(good):
            for col, value in enumerate(
                (
                    h.name,
                    h.address,
                    str(h.port or ""),
                    h.user or "",
                    h.group or "",
                    str(self.result.lines.get(h.name, "")),
                )
            ):
                item = QTableWidgetItem(value)
                if col in (2, 5):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.preview.setItem(row, col, item)
        self._to_add = good
        fmt = FORMAT_NAMES.get(self.result.format, self.result.format)
        self.summary.setText(
            f"{len(good)} host(s) will be added from this {fmt} file"
            + (f"; {len(problems)} problem(s) below." if problems else ".")
        )
        self._show_problems(problems)
        self.import_button.setEnabled(bool(good))

    def _show_problems(self, problems: list[str]) -> None:
        self.problems = problems
        self.problem_list.clear()
        for p in problems:
            item = QListWidgetItem(p)
            item.setForeground(QBrush(text_colour("#9b1c14")))
            self.problem_list.addItem(item)
        self.problems_label.setText(f"Problems ({len(problems)})" if problems else "Problems: none")
        self.problem_list.setVisible(bool(problems))

    def problem_texts(self) -> list[str]:
        return [self.problem_list.item(i).text() for i in range(self.problem_list.count())]

    # -- importing ------------------------------------------------------------------------------

    @Slot()
    def do_import(self) -> None:
        if self.result is None:
            return
        outcome = inventory.import_hosts(self.db, self._to_add, self.source, lines=self.result.lines)
        added = outcome.added
        problems = list(self.problems) + outcome.problems
        self.added.extend(added)
        self.summary.setText(f"Imported {len(added)} host(s).")
        self._show_problems(problems)
        self.preview.setRowCount(0)
        self.import_button.setEnabled(False)
        self.close_button.setText("Close")
        if not problems:
            self.accept()

    @Slot()
    def _close(self) -> None:
        if self.added:
            self.accept()  # the inventory changed: the main window reloads on accepted
        else:
            self.reject()
