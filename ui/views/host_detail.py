"""Host detail pane: facts, pending updates (coloured by classification), history, last error.

The History tab lists the host's jobs with their verification badge and rollback state; selecting a
job shows its change record, its verification reasons and the host's log lines of that job (kept in
the database, so an interrupted job still shows how far it got). "Roll back…" and "Verify" only emit
signals: the main window owns starting jobs.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QAbstractTableModel, QEvent, QItemSelection, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QBrush, QFont, QGuiApplication, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTableView,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain.compliance import scan_is_stale
from app.domain.hardware import Hardware, human_bytes
from app.domain.models import ChangeAction, Host, HostStatus, JobKind
from db import database as db_database
from db import hardware as db_hardware
from db import hosts as db_hosts
from db import jobs as db_jobs
from db import tiles as db_tiles
from db import updates as db_updates
from ui.models.history_model import (
    COL_CHANGES,
    COL_ERROR,
    COL_JOB,
    COL_KIND,
    COL_ROLLED_BACK,
    COL_STARTED,
    COL_STATE,
    COL_VERIFY,
    HistoryEntry,
    HistoryTableModel,
    load_history,
)
from ui.models.host_status import STATE_COLOURS, local_iso, local_time, one_line, status_cell
from ui.models.updates_model import (
    COL_AVAILABLE,
    COL_CLASSIFICATION,
    COL_INSTALLED,
    COL_NAME,
    COL_REASON,
    COL_SEVERITY,
    COL_SOURCE,
    UpdatesTableModel,
)
from ui.resources import icon
from ui.theme import text_colour
from ui.verdicts import badge_style, verdict_text, verify_scope
from ui.views.drift_panel import DriftPanel
from ui.views.outside_changes_panel import OutsideChangesPanel
from ui.widgets.cells import CellLookDelegate
from ui.widgets.columns import ColumnFitter
from ui.widgets.empty_state import EmptyState

if TYPE_CHECKING:
    from db.connection import Database

logger = logging.getLogger(__name__)

HISTORY_LIMIT = 50
#: Most log lines of one job shown in the history's log tab (the newest ones).
HISTORY_LOG_LINES = 5000
#: A host's pending updates read at once on a click: a screenful and the 200 rows the columns are
#: measured on (ui/widgets/columns.py SAMPLE_ROWS); past these, the rest is read on a pool thread.
#: Reading all 4,000 of the biggest host's was 14-30 ms of the click on the main thread (#25).
FIRST_PAGE_ROWS = 200
#: Rows read per slice after that (~1.5 ms of the main thread each), one slice per turn of the loop.
REST_SLICE_ROWS = 500
#: The rest of the list is read once the first page has been painted (see _show_updates); if the
#: list is shown but no paint comes (the window covered), it is read after this long all the same.
REST_AFTER_PAINT_WAIT_MS = 100
#: Why Roll back / Verify are off while the main window runs a job.
WAIT_FOR_JOB = "Wait for the running job to finish."


def _set_style(widget: QWidget, sheet: str) -> None:
    """Set a widget's own style sheet only when it changes: each set re-polishes the widget under the
    application's style sheet, and a click on a host sets the status badge's and Reboot's (#25)."""
    if widget.styleSheet() != sheet:
        widget.setStyleSheet(sheet)


def _table(model: QAbstractTableModel) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setAlternatingRowColors(False)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setDefaultSectionSize(24)
    view.setShowGrid(False)
    view.setWordWrap(False)
    view.horizontalHeader().setHighlightSections(False)
    return view


CHANGE_TEXT = {
    ChangeAction.INSTALL: "new",
    ChangeAction.REMOVE: "removed",
    ChangeAction.UPGRADE: "upgrade",
    ChangeAction.DOWNGRADE: "downgrade",
    ChangeAction.REINSTALL: "reinstall",
}
MUTED_COLOUR = text_colour("#5b6372")
REBOOT_COLOUR = text_colour("#9a4d00")
CHANGE_COLOURS = {
    ChangeAction.INSTALL: text_colour("#1f4e89"),  # lighter in the dark look (ui/theme.py)
    ChangeAction.REMOVE: text_colour("#9b1c14"),
}


def change_item(
    name: str, from_v: str | None, to_v: str | None, action: ChangeAction, label: str | None = None
) -> QTreeWidgetItem:
    """One package row (package, from, to, change) as the plan preview and the history show it."""
    item = QTreeWidgetItem(
        [
            one_line(name, 120),
            one_line(from_v, 60) or "—",
            one_line(to_v, 60) or "—",
            label or CHANGE_TEXT[action],
        ]
    )
    colour = CHANGE_COLOURS.get(action)
    if colour is not None:
        item.setForeground(3, QBrush(colour))
        bold = QFont()
        bold.setBold(True)
        item.setFont(3, bold)
    return item


def hardware_text(hw: Hardware | None, updated: str | None = None) -> str:
    """The Hardware tab's text: what the last scan read, "not known" for what the host did not tell."""
    if hw is None:
        return "Not read yet: the next scan reads the hardware inventory."

    def v(value: object) -> str:
        return one_line(str(value), 200) if value not in (None, "") else "not known"

    firmware = " ".join(p for p in (hw.bios_vendor, hw.bios_version) if p)
    lines = [
        f"Manufacturer: {v(hw.manufacturer)}",
        f"Model: {v(hw.model)}",
        f"Serial number: {v(hw.serial)}",
        f"BIOS/UEFI: {v(firmware)}" + (f", {one_line(hw.bios_date, 40)}" if hw.bios_date else ""),
        f"CPU: {v(hw.cpu_model)}" + (f" ({hw.cpu_count} logical)" if hw.cpu_count else ""),
        f"Memory: {human_bytes(hw.memory_bytes) if hw.memory_bytes else 'not known'}",
    ]
    disks = [
        f"  {one_line(d.name, 60)}: {human_bytes(d.size_bytes) if d.size_bytes else 'size not known'}"
        + (f", {one_line(d.model, 80)}" if d.model else "")
        + (f", serial {one_line(d.serial, 60)}" if d.serial else "")
        for d in hw.disks
    ]
    lines.append("Disks:" if disks else "Disks: not known")
    lines.extend(disks)
    if updated:
        lines.append(f"\nAs read by the scan of {local_iso(updated)}.")
    return "\n".join(lines)


def change_tree(headers: tuple[str, ...] = ("Package", "From", "To", "Change")) -> QTreeWidget:
    tree = QTreeWidget()
    tree.setHeaderLabels(list(headers))
    tree.setRootIsDecorated(False)
    tree.setUniformRowHeights(True)
    tree.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    tree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    for col, width in enumerate((170, 90, 90)):
        tree.setColumnWidth(col, width)
    return tree


def _plain_text(root: QWidget) -> None:
    """Every label under ``root`` shows its text as text: names, versions, errors and notes come from
    hosts, and Qt's automatic format would render markup in them (an <img> even loads a file)."""
    for label in root.findChildren(QLabel):
        label.setTextFormat(Qt.TextFormat.PlainText)


class HostDetailView(QWidget):
    """Shows one host; ``show_host(None)`` shows a hint instead."""

    #: (host, job id): the administrator asked to roll back that patch job on that host
    rollback_requested = Signal(object, int)
    #: (host): verify the host against its last patch, or its last scan when nothing was patched since
    verify_requested = Signal(object)
    #: the empty state's next step when the inventory has no host at all
    add_host_requested = Signal()
    #: (internal) the first page of a host's list has been painted: queued, so its slot runs once the
    #: paint pass is over (a timer started during it would fire in the same pass, before the window
    #: is on screen)
    _first_page_painted = Signal()

    def __init__(self, db, parent: QWidget | None = None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self.db = db
        self.host: Host | None = None
        # the shown host's pending updates still being read (see _show_updates), on a connection
        # of the view's own to the database file
        self._reader: db_updates.PendingReader | None = None
        self._rest_timer = QTimer(self)
        self._rest_timer.setSingleShot(True)
        self._rest_timer.timeout.connect(self._read_slice)
        # watching the list's first paint after a click (see _show_updates)
        self._awaiting_paint = False
        self._first_page_painted.connect(self._read_after_paint, Qt.ConnectionType.QueuedConnection)
        self._read_db: Database | None = None
        self._db_file: str | None = None
        self._db_file_known = False
        self._body_warm = self._warm_wanted = False  # see _warm_body
        self._actions_allowed = True
        self._why_not = ""

        self.title = QLabel("No host selected")
        self.title.setObjectName("paneTitle")
        self.subtitle = QLabel()
        self.subtitle.setObjectName("hintText")
        self.subtitle.setWordWrap(True)
        self.subtitle.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status = QLabel()
        self.status.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.status.setMinimumWidth(90)
        titles = QVBoxLayout()
        titles.setSpacing(2)
        titles.addWidget(self.title)
        titles.addWidget(self.subtitle)
        head = QHBoxLayout()
        head.addLayout(titles, 1)
        head.addWidget(self.status, 0, Qt.AlignmentFlag.AlignTop)

        self.facts: dict[str, QLabel] = {}
        left, right = QFormLayout(), QFormLayout()
        for form in (left, right):
            form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
            form.setHorizontalSpacing(10)
            form.setVerticalSpacing(4)
        for form, keys in (
            (left, ("Transport", "User", "Group", "Ring", "Criticality")),
            (right, ("Pending", "Last scan", "Reboot", "Managers", "Kernel")),
        ):
            for key in keys:
                value = QLabel()
                # Copied by its context menu, not selected by the mouse: a selectable label keeps a
                # text document that every click on a host laid out again (~1.5 ms for ten, #25).
                copy = QAction("Copy", value)
                copy.triggered.connect(lambda _=False, v=value: QGuiApplication.clipboard().setText(v.text()))
                value.addAction(copy)
                value.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
                value.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
                value.setWordWrap(True)
                self.facts[key] = value
                label = QLabel(key + ":")
                label.setObjectName("hintText")
                form.addRow(label, value)
        facts_box = QHBoxLayout()
        facts_box.addLayout(left, 1)
        facts_box.addSpacing(12)
        facts_box.addLayout(right, 1)

        self.error = QLabel()
        self.error.setObjectName("errorText")
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.setVisible(False)

        # what limited the last scan (an empty or stale index it could not refresh, an unknown index
        # age): the reason the host reads "unknown" although the scan succeeded
        self.scan_notes = QLabel()
        self.scan_notes.setObjectName("warningText")
        self.scan_notes.setWordWrap(True)
        self.scan_notes.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.scan_notes.setVisible(False)

        self.updates_model = UpdatesTableModel(self)
        self.updates_view = _table(self.updates_model)
        self.updates_view.setItemDelegate(CellLookDelegate(self.updates_model, self.updates_view))
        self.updates_view.setObjectName("pendingUpdates")
        hdr = self.updates_view.horizontalHeader()
        # Column widths from the first 200 rows, not Qt's 1,000: on a host with thousands of pending
        # updates, measuring them all would slow every click on it.
        hdr.setResizeContentsPrecision(200)
        hdr.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hdr.setStretchLastSection(True)
        for col, width in (
            (COL_NAME, 130),
            (COL_INSTALLED, 75),
            (COL_AVAILABLE, 75),
            (COL_CLASSIFICATION, 100),
            (COL_SOURCE, 190),
        ):
            self.updates_view.setColumnWidth(col, width)
        # classification next to the package: it is what the admin reads first
        hdr.moveSection(hdr.visualIndex(COL_CLASSIFICATION), 1)
        # the vendor's severity (MSRC for Windows KBs) right after our classification
        hdr.moveSection(hdr.visualIndex(COL_SEVERITY), 2)
        # and why it got that classification, before the versions: the reason is what makes it urgent
        hdr.moveSection(hdr.visualIndex(COL_REASON), 3)
        self.updates_view.setColumnWidth(COL_REASON, 240)
        # every column inside the pane: names, versions, reasons and sources elide, tooltips are whole
        self.updates_fit = ColumnFitter(
            self.updates_view, (COL_NAME, COL_INSTALLED, COL_AVAILABLE, COL_REASON, COL_SOURCE)
        )
        self._build_history()

        self.hardware = QLabel()
        self.hardware.setObjectName("hardwareText")
        self.hardware.setWordWrap(True)
        self.hardware.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.hardware.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hardware.setContentsMargins(8, 8, 8, 8)

        self.tabs = QTabWidget()
        self.tabs.addTab(self.updates_view, "Pending updates")
        self.tabs.addTab(self.history_page, "History")
        self.drift_panel = DriftPanel(db, self)
        self.tabs.addTab(self.drift_panel, "Drift")
        self.outside = OutsideChangesPanel(db)
        self.tabs.addTab(self.outside, "Outside Patchdesk")
        self.tabs.addTab(self.hardware, "Hardware")

        self.placeholder = EmptyState("Select a host")
        self.placeholder.add_action("Add host…", self.add_host_requested.emit, name="emptyAddHost")

        self.body = QWidget()
        body = QVBoxLayout(self.body)
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(8)
        body.addLayout(facts_box)
        body.addWidget(self.error)
        body.addWidget(self.scan_notes)
        body.addWidget(self.tabs, 1)

        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setStyleSheet("color: palette(mid);")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(8)
        layout.addLayout(head)
        layout.addWidget(line)
        layout.addWidget(self.placeholder, 1)
        layout.addWidget(self.body, 1)
        _plain_text(self)
        self.show_host(None)

    def _build_history(self) -> None:
        self.history_model = HistoryTableModel(self)
        self.history_view = _table(self.history_model)
        self.history_view.setObjectName("hostHistory")
        self.history_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.history_view.horizontalHeader().setStretchLastSection(True)
        for col, width in (
            (COL_JOB, 48),
            (COL_KIND, 64),
            (COL_STATE, 84),
            (COL_STARTED, 118),
            (COL_CHANGES, 62),
            (COL_VERIFY, 92),
            (COL_ROLLED_BACK, 92),
        ):
            self.history_view.setColumnWidth(col, width)
        self.history_view.selectionModel().selectionChanged.connect(self._history_selected)
        self.history_fit = ColumnFitter(
            self.history_view, (COL_STARTED, COL_CHANGES, COL_ROLLED_BACK, COL_ERROR)
        )

        self.rollback_button = QPushButton(icon("rollback"), "Roll back…")
        self.rollback_button.setObjectName("rollbackButton")
        self.rollback_button.setToolTip(
            "Restore every package this patch job changed on the host to its version before the job"
        )
        self.rollback_button.clicked.connect(self._rollback_clicked)
        self.verify_button = QPushButton(icon("verify"), "Verify")
        self.verify_button.setToolTip(
            "Rescan the host and check its health against its last patch (green / amber / red)"
        )
        self.verify_button.clicked.connect(self._verify_clicked)
        self.history_hint = QLabel()
        self.history_hint.setObjectName("hintText")
        self.history_hint.setWordWrap(True)
        buttons = QHBoxLayout()
        buttons.setSpacing(6)
        buttons.addWidget(self.rollback_button)
        buttons.addWidget(self.verify_button)
        buttons.addWidget(self.history_hint, 1)

        self.job_summary = QLabel()
        self.job_summary.setObjectName("sectionTitle")
        self.job_summary.setWordWrap(True)
        self.job_summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.job_badge = QLabel()
        self.job_badge.setObjectName("verdictBadge")
        self.job_badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        summary = QHBoxLayout()
        summary.addWidget(self.job_summary, 1)
        summary.addWidget(self.job_badge, 0, Qt.AlignmentFlag.AlignTop)
        self.job_reasons = QLabel()
        self.job_reasons.setWordWrap(True)
        self.job_reasons.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.job_reasons.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.job_reasons.setContentsMargins(6, 4, 6, 4)
        reasons_scroll = QScrollArea()
        reasons_scroll.setWidgetResizable(True)
        reasons_scroll.setFrameShape(QFrame.Shape.NoFrame)
        reasons_scroll.setWidget(self.job_reasons)
        self.job_error = QLabel()
        self.job_error.setObjectName("errorText")
        self.job_error.setWordWrap(True)
        self.job_error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.change_view = change_tree()
        self.change_view.setObjectName("jobChanges")
        self.job_log = QPlainTextEdit()
        self.job_log.setObjectName("historyLog")
        self.job_log.setReadOnly(True)
        self.job_log.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.job_log.setMaximumBlockCount(HISTORY_LOG_LINES)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.TypeWriter)
        mono.setPointSizeF(9.0)
        self.job_log.setFont(mono)
        self.job_tabs = QTabWidget()
        self.job_tabs.setDocumentMode(True)
        self.job_tabs.addTab(self.change_view, "Changes")
        self.job_tabs.addTab(reasons_scroll, "Verification")
        self.job_tabs.addTab(self.job_log, "Log")

        self.job_detail = QWidget()
        jd = QVBoxLayout(self.job_detail)
        jd.setContentsMargins(0, 4, 0, 0)
        jd.setSpacing(4)
        jd.addLayout(summary)
        jd.addWidget(self.job_error)
        jd.addWidget(self.job_tabs, 1)

        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.history_view)
        split.addWidget(self.job_detail)
        split.setChildrenCollapsible(False)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([190, 150])
        self.history_split = split

        self.history_page = QWidget()
        page = QVBoxLayout(self.history_page)
        page.setContentsMargins(6, 6, 6, 6)
        page.setSpacing(6)
        page.addLayout(buttons)
        page.addWidget(split, 1)
        _plain_text(self.history_page)
        self._show_entry(None)

    def set_actions_allowed(self, allowed: bool, why_not: str = WAIT_FOR_JOB) -> None:
        """Roll back / Verify start jobs: the main window forbids them while a job runs, or always when
        it has no job runner; ``why_not`` is the hint that says which."""
        self._actions_allowed = allowed
        self._why_not = why_not
        self._update_history_buttons()

    def selected_entry(self) -> HistoryEntry | None:
        rows = self.history_view.selectionModel().selectedRows()
        return self.history_model.entry_at(rows[0].row()) if rows else None

    def select_job(self, job_id: int) -> bool:
        row = self.history_model.row_of(job_id)
        if row is None:
            return False
        self.history_view.selectRow(row)
        return True

    def refresh(self) -> None:
        """Re-read the shown host from the database (keeps the selected history job)."""
        self.show_host(self.host)

    def _reload_history(self, host_id: int | None, keep: int | None) -> None:
        entries = load_history(self.db, host_id, HISTORY_LIMIT) if host_id is not None else []
        self.history_model.set_rows(entries)
        if not entries:
            self._show_entry(None)
        elif keep is None or not self.select_job(keep):
            self.history_view.selectRow(0)
        self.tabs.setTabText(1, f"History ({len(entries)})" if entries else "History")
        # the error is also shown under the job; its column only when a job here has one
        self.history_view.horizontalHeader().setSectionHidden(
            COL_ERROR, not any(e.step.error for e in entries)
        )
        self.history_fit.fit()

    @Slot(QItemSelection, QItemSelection)
    def _history_selected(self, _sel: QItemSelection, _desel: QItemSelection) -> None:
        self._show_entry(self.selected_entry())

    def _show_entry(self, e: HistoryEntry | None) -> None:
        self.change_view.clear()
        self.job_log.clear()
        # the job's part stays in place (only emptied), so the splitter above it never jumps
        self.job_tabs.setEnabled(e is not None)
        if e is None:
            self.job_summary.setText(
                "Select a job above to see what it changed." if self.history_model.rowCount() else ""
            )
            self.job_badge.setText("")
            self.job_badge.setStyleSheet("")
            self.job_badge.setVisible(False)
            self.job_error.setVisible(False)
            self.job_reasons.setText("")
            for i, title in enumerate(("Changes", "Verification", "Log")):
                self.job_tabs.setTabText(i, title)
            self._update_history_buttons()
            return
        job, step = e.job, e.step
        parts = [f"Job #{job.id}: {job.kind}", str(step.state)]
        if step.started_at or job.started_at:
            parts.append(local_time(step.started_at or job.started_at))
        if e.rolled_back_by:
            parts.append(f"rolled back by job #{e.rolled_back_by}")
        self.job_summary.setText(" · ".join(parts))
        self.job_badge.setText(verdict_text(e.verdict))
        self.job_badge.setStyleSheet(badge_style(e.verdict))
        self.job_badge.setVisible(e.verdict is not None)
        if e.verification is not None:
            self.job_badge.setToolTip(f"Checked {e.verification.checked_at[:19].replace('T', ' ')} UTC")
            self.job_reasons.setText(
                f"Verification {e.verification.verdict}:\n"
                + "\n".join("• " + one_line(r, 300) for r in e.verification.reasons)
            )
        else:
            self.job_reasons.setText("This job has no verification.")
        self.job_tabs.setTabEnabled(1, e.verification is not None)
        self.job_error.setText(one_line(step.error, 2000))
        self.job_error.setVisible(bool(step.error))
        for c in e.changes:
            self.change_view.addTopLevelItem(change_item(c.name, c.from_version, c.to_version, c.action))
        if not e.changes:
            what = {
                JobKind.PATCH: "No change recorded for this host.",
                JobKind.ROLLBACK: "Nothing was restored on this host.",
            }.get(job.kind, f"A {job.kind} job changes no packages.")
            placeholder = QTreeWidgetItem([what])
            placeholder.setForeground(0, QBrush(MUTED_COLOUR))
            placeholder.setFirstColumnSpanned(True)
            self.change_view.addTopLevelItem(placeholder)
        self.job_tabs.setTabText(0, f"Changes ({len(e.changes)})")
        self._show_log(job.id)
        self._update_history_buttons()

    def _show_log(self, job_id: int) -> None:
        if self.host is None or self.host.id is None:
            return
        lines = db_jobs.log_lines(self.db, job_id, self.host.id)[-HISTORY_LOG_LINES:]
        text = "\n".join(
            f"{ln.ts.astimezone().strftime('%H:%M:%S')}  {ln.level!s:<7} "
            + "".join(c if c.isprintable() or c == "\t" else "?" for c in ln.text)
            for _id, ln in lines
        )
        self.job_log.setPlainText(text or "(no log lines were kept for this host)")
        self.job_tabs.setTabText(2, f"Log ({len(lines)})")

    def _update_history_buttons(self) -> None:
        e = self.selected_entry() if self.host is not None else None
        can = e is not None and e.can_roll_back
        self.rollback_button.setEnabled(self._actions_allowed and can)
        verifiable, verify_tip = verify_scope(self.db, [self.host] if self.host is not None else [])
        self.verify_button.setEnabled(self._actions_allowed and verifiable)
        self.verify_button.setToolTip(verify_tip)
        if e is None:
            hint = ""
        elif e.rolled_back_by:
            hint = f"Already rolled back by job #{e.rolled_back_by}."
        elif e.job.kind != JobKind.PATCH:
            hint = "Select a patch job to roll it back."
        elif not can:
            hint = "This job changed nothing here: nothing to roll back."
        elif not self._actions_allowed:
            hint = self._why_not
        else:
            hint = ""
        self.history_hint.setText(hint)

    @Slot()
    def _rollback_clicked(self) -> None:
        e = self.selected_entry()
        if self.host is not None and e is not None:
            self.rollback_requested.emit(self.host, e.job.id)

    @Slot()
    def _verify_clicked(self) -> None:
        if self.host is not None:
            self.verify_requested.emit(self.host)

    def _show_scan_notes(self, host: Host) -> None:
        notes = [one_line(n, 500) for n in (host.scan_notes or ())[:5]]
        if host.scan_complete is False and notes:
            self.scan_notes.setText("The last scan could not vouch for everything:\n• " + "\n• ".join(notes))
        elif notes:
            self.scan_notes.setText("\n".join(notes))
        self.scan_notes.setVisible(bool(notes))

    def _show_updates(self, host_id: int) -> None:
        """The host's pending updates, built row by row as they are shown: the first page read at
        once, the rest in slices between the window's events, from one statement (one reading) on a
        connection of the view's own that never writes (an open statement holds its reading)."""
        self._stop_reading()
        db = self._reading_db()
        if db is None:  # an in-memory database: no other connection sees it; read it whole
            self.updates_model.set_updates(db_updates.pending_rows(self.db, host_id))
            self._lay_out_now()
            self._title_updates()
            return
        reader = db_updates.PendingReader(db, host_id)
        reader.read(FIRST_PAGE_ROWS)
        self.updates_model.set_updates(reader.rows)
        self._lay_out_now()
        self._title_updates()
        if reader.done:
            return
        self._reader = reader
        viewport = self.updates_view.viewport()
        if viewport.isVisible():
            # The rest's first slice sorts the host's whole list (5-9 ms for 4,000 rows): after the
            # first page is on screen, not before it, so the click shows the host at once and the
            # tab says "loading…" until the rest is listed (#25).
            if not self._awaiting_paint:
                self._awaiting_paint = True
                viewport.installEventFilter(self)
            self._rest_timer.start(REST_AFTER_PAINT_WAIT_MS)
        else:
            self._rest_timer.start(0)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if self._awaiting_paint and event.type() == QEvent.Type.Paint:
            self._stop_awaiting_paint()
            self._first_page_painted.emit()
        return False

    @Slot()
    def _read_after_paint(self) -> None:
        if self._reader is not None and not self._awaiting_paint:
            self._rest_timer.start(0)

    def _stop_awaiting_paint(self) -> None:
        if self._awaiting_paint:
            self._awaiting_paint = False
            self.updates_view.viewport().removeEventFilter(self)

    def _lay_out_now(self) -> None:
        """Lay the new list out before it is painted: a reset leaves the view's layout to a 0-ms timer,
        which fired after the click's paint and painted the whole list a second time (7 ms on a click
        on the 4,000-update host, #25)."""
        if self.updates_view.isVisible():
            self.updates_view.executeDelayedItemsLayout()

    def prewarm(self) -> None:
        """Ready the first click in idle time (the window calls it once start-up is done): the reading
        connection opened, with SQLite's schema read and the list's statements prepared by a read
        of no host, and the detail's widgets polished. The first click on a host otherwise paid
        for all of it (#25)."""
        if self._read_db is not None:
            return  # a click came first and did it
        db = self._reading_db()
        if db is not None:
            reader = db_updates.PendingReader(db, -1)
            try:
                reader.read(FIRST_PAGE_ROWS)
            finally:
                reader.close()
        self.body.ensurePolished()
        self._warm_wanted = True
        self._warm_body()

    def _warm_body(self) -> None:
        """Show the detail's body once and hide it again, unseen (no paint runs in between), so that
        the first click on a host does not pay for its first show and layout (~2.5 ms, #25). Hidden
        views can only be shown when the view is: then at its first show."""
        if self._body_warm or self.host is not None:
            return
        if not self.isVisible():
            return  # showEvent calls back
        self._body_warm = True
        self.placeholder.setVisible(False)
        self.body.setVisible(True)
        self.layout().activate()
        self.body.setVisible(False)
        self.placeholder.setVisible(True)
        self.layout().activate()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._warm_wanted and not self._body_warm:  # prewarmed while out of sight
            QTimer.singleShot(0, self, self._warm_body)

    def _reading_db(self) -> Database | None:
        if not self._db_file_known:
            self._db_file, self._db_file_known = db_database.database_file(self.db), True
        if self._db_file is None:
            return None
        if self._read_db is None:
            # closed with the view (by its collection: a close from a finalizer would run on whichever
            # thread collects, and sqlite3 refuses a connection's close from another thread)
            self._read_db = db_database.open_database(self._db_file, migrate=False)
        return self._read_db

    def _stop_reading(self) -> None:
        self._rest_timer.stop()
        self._stop_awaiting_paint()
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    @Slot()
    def _read_slice(self) -> None:
        self._stop_awaiting_paint()  # painted, or waited for long enough
        reader = self._reader
        if reader is None:
            return
        try:
            self.updates_model.read_more(reader, REST_SLICE_ROWS)
        except Exception as exc:  # the database went away meanwhile: the list says it is partial
            self._stop_reading()
            logger.warning("could not read the rest of a host's pending updates: %s", exc)
            self._title_updates(failed=one_line(str(exc), 300) or type(exc).__name__)
            return
        if reader.done:
            self._reader = None
            self._title_updates()
        else:
            self._rest_timer.start(0)

    def _title_updates(self, failed: str = "") -> None:
        """The Pending updates tab's title: how many, and whether the list is still partial."""
        m = self.updates_model
        shown, total = m.rowCount(), m.total()
        if m.is_complete():
            text, tip = f"Pending updates ({total})", ""
        elif failed:
            text = f"Pending updates ({shown} of {total})"
            tip = f"Only the first {shown} of the {total} pending updates could be read: {failed}"
        else:
            text = f"Pending updates ({total}, loading…)"
            tip = f"The first {shown} of the {total} pending updates are shown; the rest are being read."
        self.tabs.setTabText(0, text)
        self.tabs.setTabToolTip(0, tip)

    def _show_placeholder(self) -> None:
        """Nothing selected: say how to select one, or, with no host at all, how to add one."""
        if db_hosts.host_count(self.db) == 0:
            self.title.setText("Host details")  # the empty state below says what to do
            self.placeholder.set_text(
                "No hosts yet — Add host",
                "Add a host (or import a list) to see its facts, pending updates and history here.",
            )
            self.placeholder.show_actions("Add host…")
        else:
            self.title.setText("No host selected")
            self.placeholder.set_text(
                "Select a host",
                "Click a host in the inventory to see its facts, pending updates and history.",
            )
            self.placeholder.show_actions()

    def show_host(self, host: Host | None) -> None:
        """Show ``host`` (re-reading its pending updates and history from the database)."""
        previous, self.host = self.host, host
        self.placeholder.setVisible(host is None)
        self.body.setVisible(host is not None)
        if host is None:
            self._show_placeholder()
            self.subtitle.setText("")
            self.status.setText("")
            _set_style(self.status, "")
            self._stop_reading()
            self.updates_model.set_updates([])
            self._reload_history(None, None)
            self.drift_panel.show_host(None)
            self.outside.show_host(None)
            return
        self.title.setText(one_line(host.name, 80))
        # the same words and colour as the inventory's Status column (one query for the last job)
        last = db_jobs.last_jobs(self.db, [host.id]).get(host.id or 0) if host.id is not None else None
        days = db_tiles.stale_days(self.db)
        cell = status_cell(host, last, stale_days=days)
        fg, bg = STATE_COLOURS[cell.level]
        self.status.setText(cell.text)
        self.status.setToolTip(cell.tooltip)
        _set_style(
            self.status,
            f"color: {fg.name()}; background: {bg.name()}; border: 1px solid {fg.name()};"
            "border-radius: 9px; padding: 2px 10px; font-weight: 600;",
        )
        where = host.address + (f":{host.port}" if host.port else "")
        self.subtitle.setText(where + " · " + (one_line(host.os_name, 80) or "OS unknown until scanned"))
        f = self.facts
        f["Transport"].setText(str(host.transport) + (" (sudo)" if host.use_sudo else ""))
        f["User"].setText(host.user or "(default)")
        f["Group"].setText(host.group or "—")
        f["Ring"].setText(str(host.ring))
        f["Criticality"].setText(str(host.criticality))
        f["Kernel"].setText(one_line(host.kernel, 80) or "—")
        f["Managers"].setText(", ".join(host.managers) or "—")
        f["Last scan"].setText(local_time(host.last_scan_at) or "never")
        f["Reboot"].setText("required" if host.reboot_required else "not required")
        _set_style(
            f["Reboot"], f"color: {REBOOT_COLOUR.name()}; font-weight: 600;" if host.reboot_required else ""
        )
        if host.last_status == HostStatus.NEVER:
            f["Pending"].setText("—")
        elif host.last_status != HostStatus.OK:  # what an older scan found is no "up to date"
            counts = f"{host.pending_urgent} urgent, {host.pending_important} important, "
            counts += f"{host.pending_noncritical} non-critical"
            f["Pending"].setText(f"unknown — the last scan did not succeed (before: {counts})")
        else:
            parts = [
                f"{n} {what}"
                for n, what in (
                    (host.pending_urgent, "urgent"),
                    (host.pending_important, "important"),
                    (host.pending_noncritical, "non-critical"),
                )
                if n
            ]
            text = ", ".join(parts) or "none — up to date"
            found = ", ".join(parts) or "none"
            if scan_is_stale(host.last_scan_at, days):
                text = f"unknown — the last scan is stale (it found: {found})"
            elif host.scan_complete is False:
                text = f"unknown — incomplete scan (it found: {found})"
            f["Pending"].setText(text)
        if host.index_updated is not None:
            f["Last scan"].setText(
                f["Last scan"].text() + f" (package index from {local_time(host.index_updated)})"
            )
        self._show_scan_notes(host)
        if host.last_error:
            self.error.setText("Last error: " + one_line(host.last_error, 2000))
            self.error.setVisible(True)
        else:
            self.error.setVisible(False)
        assert host.id is not None
        self.hardware.setText(
            hardware_text(
                db_hardware.hardware_for(self.db, host.id), db_hardware.updated_at(self.db, host.id)
            )
        )
        self._show_updates(host.id)
        self.tabs.setTabText(
            self.tabs.indexOf(self.outside), f"Outside Patchdesk ({self.outside.show_host(host.id)})"
        )
        keep = None
        if previous is not None and previous.id == host.id:
            e = self.selected_entry()
            keep = e.job.id if e is not None else None
        self._reload_history(host.id, keep)
        self.drift_panel.show_host(host)
        self.tabs.setTabText(self.tabs.indexOf(self.drift_panel), self.drift_panel.tab_title())
