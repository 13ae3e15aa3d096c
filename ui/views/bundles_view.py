"""Offline bundles: request, create (with the size estimate first), verify, apply, remove, and what
each host received. Every step runs on a pool thread with its own database connection; progress
comes back through a signal, so the window never waits on a host or a large file."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.domain.errors import PatchdeskError
from db import bundles as db_bundles
from db import database as db_database
from db import hosts as db_hosts
from ui.models.host_status import local_iso
from ui.views.update_view import _RowsModel, table
from ui.workers import submit, with_own_db

FILE_FILTER = "Patchdesk bundles (*.pdbundle);;All files (*)"
REQUEST_FILTER = "Bundle requests (*.json);;All files (*)"


class _Progress(QObject):
    """Lives on the main thread; the pool thread's callback emits, the bar follows (queued)."""

    changed = Signal(float, str)


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 1024:.0f} KiB"


class HostPicker(QDialog):
    """Choose hosts (and for a bundle: the reference host, or a request file, and classifications)."""

    def __init__(
        self, names: list[str], title: str, *, create: bool = False, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.request_file: Path | None = None
        form = QFormLayout()
        self.reference = QComboBox()
        self.reference.setObjectName("bundleReference")
        self.reference.addItems(names)
        self.hosts = QListWidget()
        self.hosts.setObjectName("bundleHosts")
        for name in names:
            item = QListWidgetItem(name)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.hosts.addItem(item)
        self.classes: dict[str, QCheckBox] = {}
        if create:
            form.addRow("Reference host (same release, reaches the repositories):", self.reference)
            form.addRow("Offline hosts:", self.hosts)
            request = QPushButton("Use a request file instead…")
            request.clicked.connect(self._pick_request)
            self.request_label = QLabel("")
            self.request_label.setObjectName("hintText")
            form.addRow(request, self.request_label)
            row = QHBoxLayout()
            for c in ("urgent", "important", "noncritical"):
                box = QCheckBox(c)
                box.setChecked(True)
                self.classes[c] = box
                row.addWidget(box)
            form.addRow("Updates:", row)
        else:
            form.addRow("Hosts:", self.hosts)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def _pick_request(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Bundle request", "", REQUEST_FILTER)
        if path:
            self.request_file = Path(path)
            self.request_label.setText(Path(path).name)

    def chosen(self) -> list[str]:
        return [
            self.hosts.item(i).text()
            for i in range(self.hosts.count())
            if self.hosts.item(i).checkState() == Qt.CheckState.Checked
        ]

    def classifications(self) -> list[str] | None:
        picked = [c for c, box in self.classes.items() if box.isChecked()]
        return None if len(picked) == len(self.classes) else picked


class BundlesView(QWidget):
    """Offline bundles, for the offline site and the connected side alike."""

    changed = Signal()

    def __init__(self, db: Any, secrets: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("bundlesView")
        self.db = db
        self.secrets = secrets
        self.db_path = db_database.database_file(db)
        self.busy = False
        self.progress_relay = _Progress(self)
        self.progress_relay.changed.connect(self._progress)

        intro = QLabel(
            "A bundle carries updates to hosts that cannot reach a repository: request the hosts' state at "
            "the offline site, create the bundle where a reference host of the same release is connected, "
            "then verify and apply it at the site. Scans, patches and rollbacks on those hosts then use it."
        )
        intro.setWordWrap(True)
        intro.setObjectName("hintText")
        self.buttons: dict[str, QPushButton] = {}
        row = QHBoxLayout()
        for key, label, slot, tip in (
            ("request", "Request…", self.request, "Write the chosen hosts' installed packages to a file"),
            ("create", "Create…", self.create, "Build a signed bundle on a connected reference host"),
            ("verify", "Verify…", self.verify, "Check a bundle's signature and every file in it"),
            ("apply", "Apply…", self.apply, "Copy to each host what it needs from a bundle"),
            ("remove", "Remove", self.remove, "Delete the selected bundle from the hosts that received it"),
        ):
            button = QPushButton(label)
            button.setObjectName(f"bundle-{key}")
            button.setToolTip(tip)
            button.clicked.connect(slot)
            self.buttons[key] = button
            row.addWidget(button)
        row.addStretch(1)
        self.bundles_model = _RowsModel(("Bundle", "Created", "Size", "For", "Applied on", "Verified"), self)
        self.bundles_table = table(self.bundles_model, "bundlesTable")
        self.bundles_table.selectionModel().selectionChanged.connect(self._selected)
        self.received_model = _RowsModel(("Host", "Bundle", "Files", "Size", "Received"), self)
        self.received_table = table(self.received_model, "bundleReceivedTable")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.bundles_table)
        box = QWidget()
        inner = QVBoxLayout(box)
        inner.setContentsMargins(0, 0, 0, 0)
        inner.addWidget(QLabel("What each host received"))
        inner.addWidget(self.received_table)
        split.addWidget(box)
        self.progress_bar = QProgressBar()
        self.progress_bar.setObjectName("bundleProgress")
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setVisible(False)
        self.status = QLabel("")
        self.status.setObjectName("bundleStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(row)
        layout.addWidget(split, 1)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status)
        self.reload()

    # -- reading -------------------------------------------------------------------------------------

    def reload(self) -> None:
        bundles = db_bundles.list_bundles(self.db)
        applied = db_bundles.applied(self.db)
        self.bundles_model.set_rows(
            [
                (
                    b.id,
                    local_iso(b.created),
                    _size(b.size),
                    ", ".join(h.name for h in b.manifest.hosts),
                    ", ".join(a.host for a in applied if a.bundle_id == b.id) or "—",
                    local_iso(b.verified_at) if b.verified_at else "not yet",
                )
                for b in bundles
            ],
            [b.id for b in bundles],
        )
        self._show_received(applied)
        self.bundles_table.resizeColumnsToContents()
        self.buttons["remove"].setEnabled(not self.busy and self._selected_id() is not None)

    def _selected_id(self) -> str | None:
        rows = self.bundles_table.selectionModel().selectedRows()
        if not rows:
            return None
        return str(self.bundles_model.payload[rows[0].row()])

    @Slot()
    def _selected(self, *_args: object) -> None:
        self._show_received(db_bundles.applied(self.db))
        self.buttons["remove"].setEnabled(not self.busy and self._selected_id() is not None)

    def _show_received(self, applied: list[db_bundles.AppliedBundle]) -> None:
        chosen = self._selected_id()
        self.received_model.set_rows(
            [
                (a.host, a.bundle_id, a.files, _size(a.bytes), local_iso(a.applied_at))
                for a in applied
                if chosen is None or a.bundle_id == chosen
            ]
        )
        self.received_table.resizeColumnsToContents()

    # -- running ---------------------------------------------------------------------------------------

    def _run(
        self, what: str, fn: Callable[[Any, Callable[[float, str], None]], Any], done: Callable[[Any], None]
    ) -> None:
        """``fn(db, progress)`` on a pool thread with its own connection; ``done(result)`` back here."""
        if self.busy:
            return
        self._set_busy(True, what)
        relay = self.progress_relay

        def progress(fraction: float, message: str) -> None:
            relay.changed.emit(fraction, message)

        def finished(result: Any) -> None:
            self._set_busy(False)
            done(result)
            self.reload()
            self.changed.emit()

        submit(
            self,
            lambda: with_own_db(self.db_path, self.db, lambda db: fn(db, progress)),
            finished,
            self._failed,
        )

    def _set_busy(self, busy: bool, what: str = "") -> None:
        self.busy = busy
        for key, button in self.buttons.items():
            button.setEnabled(not busy and (key != "remove" or self._selected_id() is not None))
        self.progress_bar.setVisible(busy)
        self.progress_bar.setValue(0)
        if busy:
            self.status.setText(what)

    @Slot(float, str)
    def _progress(self, fraction: float, message: str) -> None:
        self.progress_bar.setValue(int(max(0.0, min(1.0, fraction)) * 1000))
        if message:
            self.progress_bar.setFormat(f"{message} — %p%")

    def _failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        self.reload()
        if isinstance(exc, PatchdeskError):
            self.status.setText(str(exc))
            QMessageBox.warning(self, "Bundles", str(exc))
            return
        sys.excepthook(type(exc), exc, exc.__traceback__)

    def _host_names(self) -> list[str]:
        return [h.name for h in db_hosts.list_hosts(self.db) if h.transport.value != "winrm"]

    # -- the steps -------------------------------------------------------------------------------------

    @Slot()
    def request(self) -> None:
        picker = HostPicker(self._host_names(), "Request a bundle for…", parent=self)
        if picker.exec() != QDialog.DialogCode.Accepted or not picker.chosen():
            return
        path, _ = QFileDialog.getSaveFileName(self, "Write the request to", "request.json", REQUEST_FILTER)
        if not path:
            return
        names, secrets = picker.chosen(), self.secrets

        def work(db: Any, progress: Callable[[float, str], None]) -> tuple[list[str], dict[str, str]]:
            from app.services import bundles

            states, failed = bundles.gather(db, bundles.hosts_named(db, names, False), secrets, progress)
            if states:
                bundles.write_request(Path(path), states)
            return [s.name for s in states], failed

        def done(result: tuple[list[str], dict[str, str]]) -> None:
            written, failed = result
            lines = [f"Request for {', '.join(written)} written to {path}."] if written else []
            lines += [f"{name}: {why}" for name, why in failed.items()]
            self.status.setText("\n".join(lines))

        self._run("Reading the hosts' installed packages…", work, done)

    @Slot()
    def create(self) -> None:
        picker = HostPicker(self._host_names(), "Create a bundle", create=True, parent=self)
        if picker.exec() != QDialog.DialogCode.Accepted:
            return
        if picker.request_file is None and not picker.chosen():
            return
        reference, names, request = picker.reference.currentText(), picker.chosen(), picker.request_file
        classes, secrets = picker.classifications(), self.secrets

        def build(out: Path | None) -> Callable[[Any, Callable[[float, str], None]], Any]:
            def work(db: Any, progress: Callable[[float, str], None]) -> Any:
                from app.domain.models import Classification
                from app.services import bundles

                if request is not None:
                    states = bundles.read_request(request)
                else:
                    hosts = [h for h in bundles.hosts_named(db, names, False) if h.name != reference]
                    states, _failed = bundles.gather(db, hosts, secrets)
                chosen = [Classification(c) for c in classes] if classes else None
                return bundles.create(
                    db,
                    reference,
                    states,
                    out or Path("unused"),
                    secrets=secrets,
                    classifications=chosen,
                    progress=progress,
                    estimate_only=out is None,
                )

            return work

        def estimated(result: Any) -> None:
            count = sum(len(h.updates) for h in result.hosts)
            answer = QMessageBox.question(
                self,
                "Create a bundle",
                f"{count} update(s) for {len(result.hosts)} host(s): about {_size(result.estimate)} to "
                "download (rollback packages included). Build the bundle?",
            )
            if answer != QMessageBox.StandardButton.Yes:
                self.status.setText("Nothing was downloaded.")
                return
            path, _ = QFileDialog.getSaveFileName(self, "Write the bundle to", "site.pdbundle", FILE_FILTER)
            if path:
                self._run("Building the bundle…", build(Path(path)), built)

        def built(result: Any) -> None:
            m = result.manifest
            self.status.setText(
                f"Bundle {m.id} written to {result.path}: {len(m.files)} file(s), {_size(m.total_size)}."
            )

        self._run("Resolving what the hosts need…", build(None), estimated)

    @Slot()
    def verify(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Verify a bundle", "", FILE_FILTER)
        if not path:
            return
        secrets = self.secrets

        def work(db: Any, progress: Callable[[float, str], None]) -> Any:
            from app.services import bundle_apply

            return bundle_apply.verify(db, Path(path), secrets, progress)

        def done(m: Any) -> None:
            self.status.setText(
                f"Bundle {m.id} is intact: {len(m.files)} file(s) match the manifest signed by "
                f"{m.signer[:16]}…."
            )

        self._run("Checking the bundle…", work, done)

    @Slot()
    def apply(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Apply a bundle", "", FILE_FILTER)
        if not path:
            return
        secrets = self.secrets

        def work(db: Any, progress: Callable[[float, str], None]) -> Any:
            from app.services import bundle_apply

            return bundle_apply.apply(db, Path(path), [], all_hosts=True, secrets=secrets, progress=progress)

        self._run("Applying the bundle…", work, self._outcomes)

    @Slot()
    def remove(self) -> None:
        bundle_id = self._selected_id()
        if bundle_id is None:
            return
        answer = QMessageBox.question(
            self,
            "Remove a bundle",
            f"Delete bundle {bundle_id} from every host that received it? Its rollback packages go too: "
            "a rollback on those hosts then needs a repository or another bundle.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        secrets = self.secrets

        def work(db: Any, _progress: Callable[[float, str], None]) -> Any:
            from app.services import bundle_apply

            return bundle_apply.remove(db, bundle_id, [], secrets=secrets)

        self._run(f"Removing bundle {bundle_id}…", work, self._outcomes)

    def _outcomes(self, outcomes: list[Any]) -> None:
        self.status.setText("\n".join(f"{o.host}: {o.message}" for o in outcomes) or "No host was changed.")
