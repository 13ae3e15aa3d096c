"""Drift in the host detail: the items that differ from the host's baselines, a diff of a file against
the baseline (its content is read from the host only when the diff is opened), and the fix with its
preview. Also the dashboard's "Drifted" tile.

Work that reaches a host (the diff, the fix) runs on a pool thread with its own database connection
and its own job machinery, like the CLI's; the job is recorded as any other (history, logs, audit).
"""

from __future__ import annotations

import difflib
import html
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from app.domain.baseline import BaselineItem, CheckKind, DriftItem, describe_value
from app.domain.models import Host
from db import baselines as db_baselines
from db import database as db_database
from ui.models.host_status import local_iso
from ui.theme import text_colour
from ui.views.update_view import _RowsModel, table
from ui.widgets.columns import ColumnFitter
from ui.widgets.tile import TileFace
from ui.workers import submit, with_own_db

logger = logging.getLogger(__name__)

ADDED = text_colour("#17632f")
REMOVED = text_colour("#9b1c14")

VERDICT_WORDS = {
    "no-drift": "no drift",
    "drifted": "drifted",
    "unknown": "unknown — not every item could be seen",
    "no-baseline": "no baseline assigned",
}


def differing(d: DriftItem) -> tuple[str, str]:
    """(expected, actual) of a drift item in words, only the values that differ (all of them when
    the item could not be seen)."""
    if d.status != "drifted":
        return describe_value(d.kind, d.expected), "not seen"
    keys = [k for k, v in d.expected.items() if d.actual.get(k) != v and (k in d.actual or k == "state")]
    if not keys:
        return describe_value(d.kind, d.expected), describe_value(d.kind, d.actual)
    want: dict[str, Any] = {k: d.expected[k] for k in keys}
    got: dict[str, Any] = {k: d.actual.get(k, "(absent)") for k in keys}
    if "sha256" in want:  # a digest says nothing to a reader: the diff shows what changed
        want["content"], got["content"] = "baseline content", "changed content"
        del want["sha256"], got["sha256"]
    if isinstance(want.get("options"), dict) and isinstance(got.get("options"), dict):
        opts = [k for k, v in want["options"].items() if got["options"].get(k) != v]
        want["options"] = {k: want["options"][k] for k in opts}
        got["options"] = {k: got["options"].get(k) for k in opts}
    if len(want) == 1 and not isinstance(next(iter(want.values())), dict):
        key = next(iter(want))  # one value: the column says enough, the key goes in front only if needed
        prefix = "" if key in ("version", "value", "state", "content") else f"{key} "
        return f"{prefix}{want[key]}", f"{prefix}{got[key]}"
    return describe_value(d.kind, want), describe_value(d.kind, got)


def with_runner(window: Any, db: Any, fn: Callable[[Any, Any], Any]) -> Callable[[], Any]:
    """A call for a pool thread: ``fn(own_db, runner)`` with a job runner of its own, closed after."""
    path = db_database.database_file(db)
    secrets = getattr(window, "secrets", None)

    def call() -> Any:
        from app.jobs.runner import JobRunner

        def inner(own: Any) -> Any:
            runner = JobRunner(path or ":memory:", secrets=secrets)
            try:
                return fn(own, runner)
            finally:
                runner.close()

        return with_own_db(path, db, inner)

    return call


def diff_html(baseline: str, current: str, path: str) -> str:
    """A unified diff of the baseline's text and the host's, coloured, as escaped HTML."""
    lines = difflib.unified_diff(
        baseline.splitlines(), current.splitlines(), f"{path} (baseline)", f"{path} (host now)", lineterm=""
    )
    out = []
    for line in lines:
        colour = ADDED.name() if line.startswith("+") else REMOVED.name() if line.startswith("-") else ""
        text = html.escape(line) or "&nbsp;"
        out.append(f'<span style="color:{colour}">{text}</span>' if colour else text)
    body = "<br>".join(out) or "The host's file and the baseline's are the same."
    return f'<div style="font-family: monospace; white-space: pre">{body}</div>'


class DiffDialog(QDialog):
    def __init__(self, parent: QWidget, path: str) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Diff: {path}")
        self.resize(820, 560)
        self.view = QTextEdit()
        self.view.setObjectName("driftDiff")
        self.view.setReadOnly(True)
        self.view.setPlainText(f"Reading {path} from the host…")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.view, 1)
        lay.addWidget(buttons)

    def show_diff(self, texts: tuple[str, str], path: str) -> None:
        self.view.setHtml(diff_html(texts[0], texts[1], path))

    def show_error(self, exc: BaseException) -> None:
        self.view.setPlainText(f"The diff could not be made: {exc}")


class FixDialog(QDialog):
    """The preview of a fix: what will be done, what cannot be; Fix runs it."""

    def __init__(
        self, parent: QWidget, host: Host, actions: list[str], refused: list[str], window_note: str
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Fix drift on {host.name}")
        self.resize(640, 360)
        text = ["<b>Patchdesk will:</b>"] + [f"• {html.escape(a)}" for a in actions or ["nothing"]]
        if refused:
            text += ["", "<b>Not fixed automatically:</b>"] + [f"• {html.escape(r)}" for r in refused]
        text += ["", "What is replaced is kept first, so the fix can be rolled back."]
        if window_note:
            text += [f"<span style='color:{REMOVED.name()}'>{html.escape(window_note)}</span>"]
        self.label = QLabel("<br>".join(text))
        self.label.setObjectName("fixPreview")
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.fix_button = buttons.addButton(
            "Fix now" if not window_note else "Fix outside the window", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.fix_button.setEnabled(bool(actions))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.label)
        lay.addStretch(1)
        lay.addWidget(buttons)


class DriftPanel(QWidget):
    """The host detail's Drift tab."""

    #: the host's drift changed (a fix ran): the window refreshes what shows it
    changed = Signal()

    def __init__(self, db: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.db = db
        self.host: Host | None = None
        self.items: list[DriftItem] = []
        self._has_baseline = False
        self.verdict = QLabel()
        self.verdict.setObjectName("driftVerdict")
        self.verdict.setWordWrap(True)
        self.model = _RowsModel(("Item", "Target", "Expected", "Actual", "Since"), self)
        self.table = table(self.model, "driftTable")
        self.table.doubleClicked.connect(lambda _i: self.open_diff())
        # every column inside the pane (it scrolled sideways at 1280x800): target, expected and actual
        # give up width and elide in the middle (versions differ at their end: …deb12u5 / …deb12u6)
        self.fitter = ColumnFitter(self.table, (1, 2, 3))
        self.diff_button = QPushButton("Show diff…")
        self.diff_button.setObjectName("driftDiffButton")
        self.diff_button.setToolTip("Read the file from the host now and compare it with the baseline's copy")
        self.diff_button.clicked.connect(self.open_diff)
        self.fix_button = QPushButton("Fix…")
        self.fix_button.setObjectName("driftFixButton")
        self.fix_button.setToolTip("Preview, then restore the drifted items from the baseline")
        self.fix_button.clicked.connect(self.fix)
        self.check_button = QPushButton("Check now")
        self.check_button.setObjectName("driftCheckButton")
        self.check_button.setToolTip("Check this host against its baselines now (one command on the host)")
        self.check_button.clicked.connect(self.check_now)
        self.undo_button = QPushButton("Roll back fix…")
        self.undo_button.setObjectName("driftUndoButton")
        self.undo_button.setToolTip("Put back what the last fix on this host replaced")
        self.undo_button.clicked.connect(self.undo)
        self.status = QLabel()
        self.status.setObjectName("hintText")
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.addWidget(self.check_button)
        buttons.addWidget(self.diff_button)
        buttons.addWidget(self.fix_button)
        buttons.addWidget(self.undo_button)
        buttons.addWidget(self.status, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.verdict)
        lay.addWidget(self.table, 1)
        lay.addLayout(buttons)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._update_buttons())

    def tab_title(self) -> str:
        return f"Drift ({len([i for i in self.items if i.status == 'drifted'])})" if self.items else "Drift"

    def show_host(self, host: Host | None) -> None:
        self.host = host
        if host is None or host.id is None:
            self.items = []
            self.model.set_rows([])
            self.verdict.setText("")
            return
        hd = db_baselines.host_drift(self.db, host)
        self._has_baseline = bool(hd.baselines)
        self.items = [*hd.drift, *hd.unknown]
        checked = local_iso(hd.checked_at) if hd.checked_at else "never"
        names = ", ".join(hd.baselines) or "none"
        self.verdict.setText(
            f"<b>{VERDICT_WORDS[str(hd.verdict)]}</b> · baselines: {names} · checked: {checked}"
        )
        rows: list[tuple[object, ...]] = []
        for d in self.items:
            expected, actual = differing(d)
            since = local_iso(d.since) if d.since else ""
            rows.append((d.kind, d.target, expected, actual, since))
        self.model.set_rows(rows, list(self.items))
        self._update_buttons()

    def selected(self) -> DriftItem | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.items[rows[0].row()] if rows[0].row() < len(self.items) else None

    def _update_buttons(self) -> None:
        host = self.host
        self.check_button.setEnabled(host is not None and bool(self.items or self._has_baseline))
        fixed = (
            host is not None
            and host.id is not None
            and bool(db_baselines.remediations(self.db, host_id=host.id))
        )
        self.undo_button.setEnabled(fixed)
        d = self.selected()
        self.diff_button.setEnabled(
            d is not None and d.kind == CheckKind.FILE and bool(d.expected.get("sha256"))
        )
        self.fix_button.setEnabled(any(i.status == "drifted" for i in self.items))

    @Slot()
    def open_diff(self) -> None:
        d, host = self.selected(), self.host
        if d is None or host is None or d.kind != CheckKind.FILE or not d.expected.get("sha256"):
            return
        from app.services import baselines

        dialog = DiffDialog(self, d.target)
        item = BaselineItem(d.id, d.kind, d.target, d.expected)
        call = with_runner(
            self.window(), self.db, lambda own, runner: baselines.file_diff(own, runner, host, item)
        )
        submit(dialog, call, lambda texts: dialog.show_diff(texts, d.target), dialog.show_error)
        dialog.open()

    @Slot()
    def fix(self) -> None:
        host = self.host
        if host is None:
            return
        from app.services import baselines

        chosen = self.selected()
        ids = [chosen.id] if chosen is not None and chosen.status == "drifted" else []
        preview = baselines.preview(self.db, host, ids)
        refusal = baselines.window_refusal(self.db, host) or ""
        dialog = FixDialog(self, host, list(preview.actions), list(preview.refused), refusal)
        dialog.accepted.connect(lambda: self._run_fix(host, ids, bool(refusal)))
        dialog.open()

    def _run_fix(self, host: Host, ids: list[int], outside: bool) -> None:
        from app.services import baselines

        self.status.setText(f"Fixing {host.name}…")
        self.fix_button.setEnabled(False)
        call = with_runner(
            self.window(),
            self.db,
            lambda own, runner: baselines.fix(own, runner, [host], ids, outside_window=outside),
        )
        submit(self, call, self._fixed, self._failed)

    @Slot()
    def check_now(self) -> None:
        host = self.host
        if host is None:
            return
        from app.services import baselines

        self.status.setText(f"Checking {host.name}…")
        self.check_button.setEnabled(False)
        call = with_runner(self.window(), self.db, lambda own, runner: baselines.check(own, runner, [host]))
        submit(self, call, self._checked, self._failed)

    def _checked(self, job_id: Any) -> None:
        self.status.setText(f"Checked (job {job_id}).")
        self.show_host(self.host)
        self.changed.emit()

    @Slot()
    def undo(self) -> None:
        host = self.host
        if host is None or host.id is None:
            return
        from app.services import baselines

        fixes = db_baselines.remediations(self.db, host_id=host.id)
        what = "\n".join(f"• {r.kind} {r.target}" for r in fixes if r.state == "applied")
        answer = QMessageBox.question(
            self,
            "Roll back the fix",
            f"Put back what fix job {fixes[0].job_id} replaced on {host.name}?\n{what}",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.status.setText(f"Rolling back the fix on {host.name}…")
        call = with_runner(
            self.window(), self.db, lambda own, runner: baselines.rollback(own, runner, [host])
        )
        submit(self, call, self._fixed, self._failed)

    def _fixed(self, run: Any) -> None:
        errors = "; ".join(f"{k}: {v}" for k, v in run.errors.items())
        self.status.setText(f"Job {run.job_id}: " + (errors or "done, items checked again."))
        self.show_host(self.host)
        self.changed.emit()

    def _failed(self, exc: BaseException) -> None:
        self.status.setText(f"The fix did not run: {exc}")
        self._update_buttons()


class DriftTile(TileFace):
    """The dashboard's "Drifted" tile: hosts whose configuration differs from a baseline."""

    #: host ids and a label: show these hosts in the inventory
    hosts_requested = Signal(list, str)

    def __init__(self, db: Any, parent: QWidget | None = None) -> None:
        super().__init__("drifted", "Drifted", parent)
        self.db = db
        self.path = db_database.database_file(db)  # read now: the pool threads open their own
        self.ids: list[int] = []  # "-" until counted (TileFace): never a 0 nobody has counted
        self.setToolTip("Hosts whose configuration differs from a baseline.\nClick to show these hosts.")
        self.clicked.connect(lambda: self.hosts_requested.emit(list(self.ids), "Drifted"))

    def refresh(self) -> None:
        """Recount on a pool thread with its own connection (the dashboard's rule: never the main
        thread's, and a late answer after the window closed touches no closed connection)."""
        path, db = self.path, self.db
        submit(self, lambda: with_own_db(path, db, db_baselines.drift_summary), self._show, self._failed)

    def _failed(self, exc: BaseException) -> None:
        logger.warning("drift tile not refreshed: %s", exc)

    def _show(self, summary: tuple[dict[str, int], list[int]]) -> None:
        counts, self.ids = summary
        n = counts.get("drifted", 0)
        self.number.setText(str(n))
        unknown = counts.get("unknown", 0)
        self.sub.setText(f"{unknown} not fully seen" if unknown else "")
        self.setProperty("level", "red" if n else ("unknown" if unknown else ""))
        for w in (self, self.number, self.caption, self.sub):
            w.style().unpolish(w)
            w.style().polish(w)
