"""The Baselines tab: the baselines, their items (add, edit, remove), capture from a golden host,
assignment to hosts and groups, and per baseline each assigned host's drift verdict.

Edits go through app/services/baselines.py (audited, with the baseline's own history); a capture reaches
the golden host on a pool thread (ui/views/drift_panel.py: with_runner).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.domain.baseline import Baseline, BaselineItem, describe_value
from app.domain.errors import PatchdeskError
from db import baselines as db_baselines
from db import hosts as db_hosts
from ui.models.host_status import local_iso
from ui.views.drift_panel import VERDICT_WORDS, with_runner
from ui.views.update_view import _RowsModel, table
from ui.widgets.columns import ColumnFitter
from ui.workers import submit

logger = logging.getLogger(__name__)

#: The item kinds the Add dialog offers, with the form its text takes (app/services/baselines.py).
ADD_KINDS = (
    ("package", "NAME, NAME=VERSION, NAME>=VERSION or !NAME (absent)"),
    ("file", "PATH (must exist) or !PATH (must not)"),
    ("file-option", "PATH:KEY=VALUE (e.g. /etc/ssh/sshd_config:PermitRootLogin=no)"),
    ("service", "NAME (enabled and running) or !NAME (stopped and disabled)"),
    ("sysctl", "KEY=VALUE (e.g. net.ipv4.ip_forward=0)"),
    ("user", "NAME or !NAME"),
    ("group", "NAME or !NAME"),
    ("port", "tcp/22 (listening) or !tcp/23 (closed)"),
    ("registry", "HKLM\\KEY|NAME=DWord:1 (or String:…), or !HKLM\\KEY|NAME (absent)"),
    ("win-service", "NAME=Automatic,running (or Manual/Disabled, stopped)"),
    ("program", "DISPLAY NAME, NAME>=VERSION or !NAME"),
    ("local-group", "GROUP:MEMBER (e.g. Administrators:HOST\\admin)"),
    ("firewall", "Domain|Private|Public=on or =off"),
)


class CaptureDialog(QDialog):
    def __init__(self, parent: QWidget, hosts: list[str]) -> None:
        super().__init__(parent)
        self.setWindowTitle("Capture a baseline from a host")
        self.name = QLineEdit()
        self.name.setObjectName("captureName")
        self.host = QComboBox()
        self.host.setObjectName("captureHost")
        self.host.addItems(hosts)
        self.files = QLineEdit("/etc/ssh/sshd_config")
        self.files.setObjectName("captureFiles")
        self.files.setPlaceholderText("comma-separated paths: content, owner, group and mode")
        self.packages = QLineEdit("all")
        self.packages.setObjectName("capturePackages")
        self.packages.setPlaceholderText("all, or comma-separated names (empty: none)")
        self.services = QLineEdit()
        self.services.setObjectName("captureServices")
        self.services.setPlaceholderText("comma-separated service names (empty: none)")
        form = QFormLayout()
        form.addRow("Name", self.name)
        form.addRow("Golden host", self.host)
        form.addRow("Files", self.files)
        form.addRow("Packages", self.packages)
        form.addRow("Services", self.services)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Capture")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addWidget(buttons)

    def request(self) -> Any:
        from app.jobs.drift import CaptureRequest

        def split(text: str) -> tuple[str, ...]:
            return tuple(p.strip() for p in text.split(",") if p.strip())

        packages = split(self.packages.text())
        return CaptureRequest(
            split(self.files.text()),
            (("*",) if packages == ("all",) else packages) if packages else None,
            split(self.services.text()),
        )


class BaselinesView(QWidget):
    #: a baseline changed (the dashboard's tile and the host detail re-read)
    changed = Signal()

    def __init__(self, db: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.baselines: list[Baseline] = []
        self.names = QListWidget()
        self.names.setObjectName("baselinesList")
        self.names.currentRowChanged.connect(lambda _r: self.show_current())
        new_button = QPushButton("New…")
        new_button.setObjectName("baselineNew")
        new_button.clicked.connect(self.new_baseline)
        self.capture_button = QPushButton("Capture from host…")
        self.capture_button.setObjectName("baselineCapture")
        self.capture_button.clicked.connect(self.capture)
        delete_button = QPushButton("Delete")
        delete_button.setObjectName("baselineDelete")
        delete_button.clicked.connect(self.delete)
        left = QVBoxLayout()
        title = QLabel("Baselines")
        title.setObjectName("sectionTitle")
        left.addWidget(title)
        left.addWidget(self.names, 1)
        for b in (new_button, self.capture_button, delete_button):
            left.addWidget(b)
        left_box = QWidget()
        left_box.setLayout(left)

        self.header = QLabel("Create a baseline, or capture one from a host you trust.")
        self.header.setObjectName("baselineHeader")
        self.header.setWordWrap(True)
        self.items_model = _RowsModel(("ID", "Kind", "Target", "Expected"), self)
        self.items_table = table(self.items_model, "baselineItems")
        # widths by what the columns hold (fixed ones cut the drift words while Checked stood half empty)
        self.items_fit = ColumnFitter(self.items_table, (2, 3), cap=420)
        self.items_table.doubleClicked.connect(lambda _i: self.edit_item())
        item_buttons = QHBoxLayout()
        for text, name, slot in (
            ("Add item…", "baselineAddItem", self.add_item),
            ("Edit…", "baselineEditItem", self.edit_item),
            ("Remove", "baselineRemoveItem", self.remove_item),
            ("Assign…", "baselineAssign", self.assign),
        ):
            b = QPushButton(text)
            b.setObjectName(name)
            b.clicked.connect(slot)
            item_buttons.addWidget(b)
        item_buttons.addStretch(1)
        self.hosts_model = _RowsModel(("Host", "Drift", "Drifted items", "Checked"), self)
        self.hosts_table = table(self.hosts_model, "baselineHosts")
        self.hosts_fit = ColumnFitter(self.hosts_table, (0, 2), cap=320)
        self.status = QLabel()
        self.status.setObjectName("hintText")
        self.status.setWordWrap(True)
        right = QVBoxLayout()
        right.addWidget(self.header)
        right.addWidget(self.items_table, 3)
        right.addLayout(item_buttons)
        hosts_title = QLabel("Assigned hosts")
        hosts_title.setObjectName("sectionTitle")
        right.addWidget(hosts_title)
        right.addWidget(self.hosts_table, 2)
        right.addWidget(self.status)
        right_box = QWidget()
        right_box.setLayout(right)
        split = QSplitter()
        split.addWidget(left_box)
        split.addWidget(right_box)
        split.setStretchFactor(1, 3)
        split.setSizes([260, 1000])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.addWidget(split)
        self.reload()

    # -- reading ----------------------------------------------------------------------------------

    def reload(self, keep: str | None = None) -> None:
        current = keep or self.current_name()
        self.baselines = db_baselines.list_baselines(self.db)
        self.names.blockSignals(True)
        self.names.clear()
        self.names.addItems([b.name for b in self.baselines])
        self.names.blockSignals(False)
        row = next(
            (i for i, b in enumerate(self.baselines) if b.name == current), 0 if self.baselines else -1
        )
        self.names.setCurrentRow(row)
        self.show_current()

    def current_name(self) -> str | None:
        item = self.names.currentItem()
        return item.text() if item is not None else None

    def current(self) -> Baseline | None:
        name = self.current_name()
        return next((b for b in self.baselines if b.name == name), None)

    def show_current(self) -> None:
        b = self.current()
        if b is None:
            self.items_model.set_rows([])
            self.hosts_model.set_rows([])
            self.header.setText("Create a baseline, or capture one from a host you trust.")
            return
        hosts, groups = db_baselines.assignments(self.db, b.name)
        self.header.setText(
            f"<b>{b.name}</b> · {len(b.items)} item(s) · hosts: {', '.join(hosts) or '—'} · "
            f"groups: {', '.join(groups) or '—'}"
        )
        rows: list[tuple[object, ...]] = [
            (i.id, i.kind, i.target, describe_value(i.kind, i.expected)) for i in b.items
        ]
        self.items_model.set_rows(rows, list(b.items))
        self._show_hosts(b)

    def _show_hosts(self, b: Baseline) -> None:
        mine = {i.id for i in b.items}
        rows: list[tuple[object, ...]] = []
        for host in db_hosts.list_hosts(self.db):
            if b.name not in {x.name for x in db_baselines.baselines_for_host(self.db, host)}:
                continue
            hd = db_baselines.host_drift(self.db, host)
            drifted = [f"{d.kind} {d.target}" for d in hd.drift if d.id in mine]
            unseen = [d for d in hd.unknown if d.id in mine]
            word = "drifted" if drifted else ("unknown" if unseen or hd.checked_at is None else "no-drift")
            rows.append((host.name, VERDICT_WORDS[word], ", ".join(drifted), local_iso(hd.checked_at or "")))
        self.hosts_model.set_rows(rows)

    def selected_item(self) -> BaselineItem | None:
        rows = self.items_table.selectionModel().selectedRows()
        b = self.current()
        if not rows or b is None or rows[0].row() >= len(b.items):
            return None
        return b.items[rows[0].row()]

    # -- editing ----------------------------------------------------------------------------------

    def _do(self, what: str, fn: Any) -> bool:
        try:
            fn()
        except (PatchdeskError, ValueError) as exc:
            QMessageBox.warning(self, "Patchdesk", f"{what}: {exc}")
            return False
        self.changed.emit()
        return True

    @Slot()
    def new_baseline(self) -> None:
        from app.services import baselines

        name, ok = QInputDialog.getText(self, "New baseline", "Name:")
        if ok and name.strip() and self._do("Not created", lambda: baselines.create(self.db, name.strip())):
            self.reload(name.strip())

    @Slot()
    def delete(self) -> None:
        from app.services import baselines

        name = self.current_name()
        if name is None:
            return
        answer = QMessageBox.question(
            self, "Delete baseline", f"Delete the baseline {name}? Its history stays."
        )
        if answer == QMessageBox.StandardButton.Yes and self._do(
            "Not deleted", lambda: baselines.delete(self.db, name)
        ):
            self.reload()

    @Slot()
    def add_item(self) -> None:
        from app.services import baselines

        name = self.current_name()
        if name is None:
            return
        labels = [f"{k}: {form}" for k, form in ADD_KINDS]
        choice, ok = QInputDialog.getItem(self, "Add item", "Kind:", labels, 0, False)
        if not ok:
            return
        kind = ADD_KINDS[labels.index(choice)][0]
        spec, ok = QInputDialog.getText(self, "Add item", f"{kind}:")
        if ok and spec.strip():

            def add() -> None:
                baselines.add_items(self.db, name, [baselines.parse_item(kind, spec)])

            if self._do("Not added", add):
                self.reload(name)

    @Slot()
    def edit_item(self) -> None:
        from app.services import baselines

        name, item = self.current_name(), self.selected_item()
        if name is None or item is None:
            return
        text, ok = QInputDialog.getMultiLineText(
            self, f"Edit {item.kind} {item.target}", "Expected (JSON):", json.dumps(item.expected, indent=2)
        )
        if not ok:
            return

        def save() -> None:
            try:
                expected = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not JSON ({exc.msg})") from None
            if not isinstance(expected, dict):
                raise ValueError("write a JSON object")
            baselines.set_expected(self.db, name, item, expected)

        if self._do("Not saved", save):
            self.reload(name)

    @Slot()
    def remove_item(self) -> None:
        from app.services import baselines

        name, item = self.current_name(), self.selected_item()
        if name is not None and item is not None:
            if self._do("Not removed", lambda: baselines.remove_items(self.db, name, [item.id])):
                self.reload(name)

    @Slot()
    def assign(self) -> None:
        from app.services import baselines

        name = self.current_name()
        if name is None:
            return
        dialog = QDialog(self)
        dialog.setWindowTitle(f"Assign {name}")
        hosts = QLineEdit()
        hosts.setPlaceholderText("comma-separated host names")
        group = QComboBox()
        group.addItem("(no group)", None)
        for g in db_hosts.list_groups(self.db):
            group.addItem(g, g)
        form = QFormLayout()
        form.addRow("Hosts", hosts)
        form.addRow("Group", group)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(dialog.accept)
        buttons.rejected.connect(dialog.reject)
        lay = QVBoxLayout(dialog)
        lay.addLayout(form)
        lay.addWidget(buttons)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return
        names = [h.strip() for h in hosts.text().split(",") if h.strip()]
        groups = [group.currentData()] if group.currentData() else []
        if self._do("Not assigned", lambda: baselines.assign(self.db, name, hosts=names, groups=groups)):
            self.reload(name)

    @Slot()
    def capture(self) -> None:
        from app.services import baselines

        hosts = db_hosts.list_hosts(self.db)
        if not hosts:
            QMessageBox.information(self, "Patchdesk", "Add a host first: a baseline is captured from one.")
            return
        dialog = CaptureDialog(self, [h.name for h in hosts])
        if dialog.exec() != QDialog.DialogCode.Accepted or not dialog.name.text().strip():
            return
        name = dialog.name.text().strip()
        host = hosts[dialog.host.currentIndex()]
        request = dialog.request()
        self.status.setText(f"Capturing {name} from {host.name}…")
        self.capture_button.setEnabled(False)
        call = with_runner(
            self.window(), self.db, lambda own, runner: baselines.capture(own, runner, name, host, request)
        )
        submit(self, call, lambda outcome: self._captured(name, outcome), self._capture_failed)

    def _captured(self, name: str, outcome: Any) -> None:
        self.capture_button.setEnabled(True)
        problems = "; ".join(outcome.problems[:5])
        self.status.setText(
            f"Captured {name}: {len(outcome.baseline.items)} item(s)."
            + (f" Not captured: {problems}" if problems else "")
        )
        self.reload(name)
        self.changed.emit()

    def _capture_failed(self, exc: BaseException) -> None:
        self.capture_button.setEnabled(True)
        self.status.setText(f"Nothing was captured: {exc}")
