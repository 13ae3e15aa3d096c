"""Job panel: progress of the running job, each host's state, the live per-host log, Cancel.

It is fed batches of events by the EventBridge (already on the main thread) and only looks at
events of the job it shows. The log keeps the last ``MAX_LOG_LINES`` lines of the job in memory so
the host filter can be changed at any time; the text view itself is capped too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from PySide6.QtCore import QAbstractTableModel, QEvent, QModelIndex, QPersistentModelIndex, Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QFont, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.domain.events import (
    Event,
    HostLog,
    HostProgress,
    HostStateChanged,
    JobStateChanged,
    VerificationRecorded,
)
from app.domain.models import Host, JobState, LogLevel, StepState
from app.jobs.engine import JobHandle
from ui.models.history_model import STEP_COLOURS
from ui.resources import icon
from ui.theme import text_colour
from ui.verdicts import VERDICT_COLOURS, verdict_text, verdict_tooltip

MAX_LOG_LINES = 20000

#: The log's colours by level, following the look (ui/theme.py); INFO is the palette's own text.
LEVEL_COLOURS = {
    LogLevel.DEBUG: text_colour("#5b6372"),
    LogLevel.WARNING: text_colour("#9a4d00"),
    LogLevel.ERROR: text_colour("#b3261e"),
}


@dataclass
class _Step:
    host: Host
    state: StepState = StepState.QUEUED
    progress: float = 0.0
    message: str = ""
    verdict: str | None = None
    reasons: tuple[str, ...] = ()


COL_HOST, COL_STATE, COL_PROGRESS, COL_VERIFY, COL_DETAIL = range(5)


class JobHostsModel(QAbstractTableModel):
    HEADERS = ("Host", "State", "Progress", "Verification", "Detail")

    def __init__(self, parent=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self._steps: list[_Step] = []
        self._row_of: dict[int, int] = {}

    def set_hosts(self, hosts: Sequence[Host]) -> None:
        self.beginResetModel()
        self._steps = [_Step(h) for h in hosts]
        self._row_of = {h.id: i for i, h in enumerate(hosts) if h.id is not None}
        self.endResetModel()

    def step(self, host_id: int) -> _Step | None:
        row = self._row_of.get(host_id)
        return self._steps[row] if row is not None else None

    def changed(self, host_id: int) -> None:
        row = self._row_of.get(host_id)
        if row is not None:
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(self.HEADERS) - 1))

    def finished_count(self) -> int:
        return sum(1 for s in self._steps if s.state.finished)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._steps)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # type: ignore[no-untyped-def]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):  # type: ignore[no-untyped-def]
        if not index.isValid():
            return None
        s = self._steps[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_HOST:
                return s.host.name
            if col == COL_STATE:
                return "succeeded, verification red" if _red(s) else str(s.state)
            if col == COL_PROGRESS:
                return f"{round(s.progress * 100)} %"
            if col == COL_VERIFY:
                return verdict_text(s.verdict)
            return _clean(_detail(s))
        if role == Qt.ItemDataRole.ForegroundRole:
            if col == COL_STATE and (colour := _state_colour(s)) is not None:
                return QBrush(colour)
            if col == COL_VERIFY and s.verdict in VERDICT_COLOURS:
                return QBrush(VERDICT_COLOURS[s.verdict][0])
        if role == Qt.ItemDataRole.BackgroundRole and col == COL_VERIFY and s.verdict in VERDICT_COLOURS:
            return QBrush(VERDICT_COLOURS[s.verdict][1])
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_DETAIL and s.message:
                return _clean(_detail(s), 1000)
            if col == COL_VERIFY and s.verdict:
                return verdict_tooltip(s.verdict, s.reasons)
        if role == Qt.ItemDataRole.TextAlignmentRole and col == COL_PROGRESS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


def _red(s: _Step) -> bool:
    """A step that ran to the end whose verification is red: the job did its part, the host failed."""
    return s.state == StepState.SUCCEEDED and s.verdict == "red"


def _state_colour(s: _Step) -> QColor | None:
    if _red(s):  # the step ran, the host did not pass: never shown as green
        return VERDICT_COLOURS["red"][0]
    return STEP_COLOURS.get(s.state)


def _detail(s: _Step) -> str:
    if _red(s) and s.message == "done":
        return "verification red: " + (s.reasons[0] if s.reasons else "see the verification")
    return s.message


def _clean(text: str, limit: int = 200) -> str:
    s = " ".join("".join(c if c.isprintable() or c == "\n" else "?" for c in text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


class JobPanel(QWidget):
    cancel_requested = Signal()
    #: the hosts and log were shown (True) or folded away to the one-line head (False)
    expanded_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.handle: JobHandle | None = None
        self.job_state: JobState | None = None
        self._names: dict[int, str] = {}
        self._lines: list[tuple[int | None, float, LogLevel, str]] = []
        self._formats = {lvl: self._format(LEVEL_COLOURS.get(lvl)) for lvl in LogLevel}

        self.title = QLabel("No job running")
        self.title.setObjectName("sectionTitle")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("idle")
        self.progress.setMinimumWidth(260)
        self.cancel_button = QPushButton(icon("cancel"), "Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.setToolTip(
            "Stop the job: hosts not started yet are skipped, running ones stop soon"
        )
        self.cancel_button.clicked.connect(self._cancel)
        # Idle, the panel is one line (it took ~220 px of the inventory with nothing to show, #23
        # item 8); a job unfolds it, and the administrator can fold or unfold it at any time.
        self.details_button = QToolButton()
        self.details_button.setObjectName("jobDetailsToggle")
        self.details_button.setCheckable(True)
        self.details_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.details_button.toggled.connect(self.set_expanded)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.progress, 1)
        head.addWidget(self.cancel_button)
        head.addWidget(self.details_button)

        self.steps_model = JobHostsModel(self)
        # the hosts' table and the log (the body) are built when first needed: a job starts, the
        # panel is unfolded, or a job's events come in; idle, the panel is its one-line head (#25)
        self._body: QSplitter | None = None
        self._steps_view: QTableView | None = None
        self._host_filter: QComboBox | None = None
        self._log: QPlainTextEdit | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.setSpacing(6)
        layout.addLayout(head)
        self._expanded = True
        self.set_expanded(False)

    def _build_body(self) -> QSplitter:
        if self._body is not None:
            return self._body
        view = QTableView()
        view.setObjectName("jobHosts")
        view.setModel(self.steps_model)
        view.verticalHeader().setVisible(False)
        view.verticalHeader().setDefaultSectionSize(22)
        view.setShowGrid(False)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        view.horizontalHeader().setStretchLastSection(True)
        view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for col, width in enumerate((120, 90, 82, 95)):
            view.setColumnWidth(col, width)
        view.clicked.connect(self._step_clicked)

        host_filter = QComboBox()
        host_filter.setObjectName("logHostFilter")
        host_filter.setMinimumWidth(180)
        # Sized by a name's worth of characters, not by measuring every host's name when first shown:
        # a 1,000-host job paid for a thousand, and one 300-character name widened the panel.
        host_filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        host_filter.setMinimumContentsLength(24)
        host_filter.addItem("All hosts", None)
        host_filter.currentIndexChanged.connect(self._rerender)
        log = QPlainTextEdit()
        log.setObjectName("jobLog")
        log.setReadOnly(True)
        log.setMaximumBlockCount(MAX_LOG_LINES)
        log.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.TypeWriter)
        mono.setPointSizeF(9.0)
        log.setFont(mono)
        log_head = QHBoxLayout()
        log_label = QLabel("Log of")
        log_label.setObjectName("hintText")
        log_head.addWidget(log_label)
        log_head.addWidget(host_filter)
        log_head.addStretch(1)
        log_box = QWidget()
        log_layout = QVBoxLayout(log_box)
        log_layout.setContentsMargins(0, 0, 0, 0)
        log_layout.setSpacing(4)
        log_layout.addLayout(log_head)
        log_layout.addWidget(log, 1)

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(view)
        split.addWidget(log_box)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setSizes([460, 800])

        split.setVisible(self._expanded)
        layout = self.layout()
        assert isinstance(layout, QVBoxLayout)
        layout.addWidget(split, 1)
        self._body, self._steps_view, self._host_filter, self._log = split, view, host_filter, log
        return split

    @property
    def body(self) -> QSplitter:
        return self._build_body()

    @property
    def steps_view(self) -> QTableView:
        self._build_body()
        assert self._steps_view is not None
        return self._steps_view

    @property
    def host_filter(self) -> QComboBox:
        self._build_body()
        assert self._host_filter is not None
        return self._host_filter

    @property
    def log(self) -> QPlainTextEdit:
        self._build_body()
        assert self._log is not None
        return self._log

    @property
    def expanded(self) -> bool:
        return self._expanded

    @Slot(bool)
    def set_expanded(self, expanded: bool) -> None:
        """Show the job's hosts and log, or only the one-line head (title, progress, Cancel)."""
        blocked = self.details_button.blockSignals(True)
        self.details_button.setChecked(expanded)
        self.details_button.blockSignals(blocked)
        self.details_button.setText("Hide details" if expanded else "Show details")
        self.details_button.setArrowType(Qt.ArrowType.DownArrow if expanded else Qt.ArrowType.UpArrow)
        self.details_button.setToolTip(
            "Fold the job's hosts and log away" if expanded else "Show the job's hosts and log"
        )
        if expanded == self._expanded:
            return
        self._expanded = expanded
        if expanded or self._body is not None:
            self.body.setVisible(expanded)
        if expanded:
            self.setMaximumHeight(16777215)  # QWIDGETSIZE_MAX
        else:
            self._fold()
        self.expanded_changed.emit(expanded)

    def changeEvent(self, event: QEvent) -> None:
        # the look changed (View → Theme): new lines take its colours
        if event.type() == QEvent.Type.PaletteChange:
            self._formats = {lvl: self._format(LEVEL_COLOURS.get(lvl)) for lvl in LogLevel}
        super().changeEvent(event)
        folded = not getattr(self, "_expanded", True)  # (not set yet while the panel is being built)
        if folded and event.type() in (QEvent.Type.StyleChange, QEvent.Type.FontChange):
            # folded to its head's height, which the style sheet sets (applied once the window is
            # built, ui/theme.py styled_once_built)
            self._fold()

    def _fold(self) -> None:
        layout = self.layout()
        if layout is not None:
            layout.activate()
            self.setMaximumHeight(self.sizeHint().height())

    @staticmethod
    def _format(colour: QColor | None) -> QTextCharFormat:
        fmt = QTextCharFormat()
        if colour is not None:
            fmt.setForeground(QBrush(colour))
        return fmt

    # -- public ---------------------------------------------------------------------------------

    def start_job(self, handle: JobHandle, hosts: Sequence[Host], what: str = "Scan") -> None:
        self.handle = handle
        self.job_state = JobState.QUEUED
        self._what = what
        self._names = {h.id: h.name for h in hosts if h.id is not None}
        self._lines = []
        self.steps_model.set_hosts(hosts)
        self.host_filter.blockSignals(True)
        self.host_filter.clear()
        self.host_filter.addItem("All hosts", None)
        for h in sorted(hosts, key=lambda h: h.name.casefold()):
            self.host_filter.addItem(h.name, h.id)
        self.host_filter.blockSignals(False)
        self.log.clear()
        self.progress.setRange(0, max(1, len(hosts)))
        self._set_progress(0)
        self.progress.setFormat("%v of %m hosts finished")
        self.cancel_button.setEnabled(True)
        self._update_title()
        self.set_expanded(True)

    def is_running(self) -> bool:
        return self.handle is not None and self.job_state not in (
            JobState.FINISHED,
            JobState.CANCELLED,
            JobState.INTERRUPTED,
        )

    @property
    def what(self) -> str:
        return getattr(self, "_what", "")

    def verdict(self, host_id: int) -> tuple[str | None, tuple[str, ...]]:
        """The verification verdict and reasons reported for ``host_id`` in the shown job."""
        step = self.steps_model.step(host_id)
        return (step.verdict, step.reasons) if step else (None, ())

    def counts(self) -> dict[StepState, int]:
        out: dict[StepState, int] = {}
        for hid in self._names:
            step = self.steps_model.step(hid)
            if step:
                out[step.state] = out.get(step.state, 0) + 1
        return out

    @Slot(list)
    def on_events(self, events: list[Event]) -> None:
        if self.handle is None:
            return
        job_id = self.handle.job_id
        new_lines: list[tuple[int | None, float, LogLevel, str]] = []
        for ev in events:
            if ev.job_id != job_id:
                continue
            if isinstance(ev, HostLog):
                new_lines.append((ev.host_id, ev.ts, ev.level, ev.text))
            elif isinstance(ev, HostStateChanged):
                self._on_host_state(ev)
            elif isinstance(ev, HostProgress):
                self._on_host_progress(ev)
            elif isinstance(ev, VerificationRecorded):
                self._on_verification(ev)
            elif isinstance(ev, JobStateChanged):
                self.job_state = ev.state
        if new_lines:
            self._add_log_lines(new_lines)
        self._set_progress(self.steps_model.finished_count())
        if not self.is_running():
            self.cancel_button.setEnabled(False)
        self._update_title()

    def _on_host_state(self, ev: HostStateChanged) -> None:
        step = self.steps_model.step(ev.host_id)
        if not step:
            return
        step.state = ev.state
        if ev.state.finished:
            step.progress = 1.0 if ev.state == StepState.SUCCEEDED else step.progress
            step.message = ev.error or ("done" if ev.state == StepState.SUCCEEDED else str(ev.state))
        self.steps_model.changed(ev.host_id)

    def _on_host_progress(self, ev: HostProgress) -> None:
        step = self.steps_model.step(ev.host_id)
        if step:
            step.progress = ev.fraction
            step.message = ev.message
            self.steps_model.changed(ev.host_id)

    def _on_verification(self, ev: VerificationRecorded) -> None:
        step = self.steps_model.step(ev.host_id)
        if step:
            step.verdict = ev.verdict
            step.reasons = tuple(ev.reasons)
            self.steps_model.changed(ev.host_id)

    def _add_log_lines(self, new_lines: list[tuple[int | None, float, LogLevel, str]]) -> None:
        """Keeps the newest MAX_LOG_LINES and shows the new ones that pass the host filter."""
        self._lines.extend(new_lines)
        if len(self._lines) > MAX_LOG_LINES:
            del self._lines[: len(self._lines) - MAX_LOG_LINES]
        wanted = self.host_filter.currentData()
        self._append([ln for ln in new_lines if wanted is None or ln[0] == wanted])

    def _set_progress(self, value: int) -> None:
        """QProgressBar.setValue repaints at once, synchronously, whenever its text changes (ours
        shows "%v"), in the middle of event handling and once per finished host. The bar is drawn
        with the window's next paint instead."""
        bar = self.progress
        if bar.value() == value:
            return
        bar.setUpdatesEnabled(False)
        try:
            bar.setValue(value)
        finally:
            bar.setUpdatesEnabled(True)
        bar.update()

    def show_host_log(self, host_id: int | None) -> None:
        i = self.host_filter.findData(host_id)
        if i >= 0:
            self.host_filter.setCurrentIndex(i)

    def log_text(self) -> str:
        return self.log.toPlainText()

    # -- internals ------------------------------------------------------------------------------

    def _update_title(self) -> None:
        if self.handle is None:
            self.title.setText("No job running")
            return
        n = len(self._names)
        state = {
            JobState.QUEUED: "starting…",
            JobState.RUNNING: "running",
            JobState.FINISHED: "finished",
            JobState.CANCELLED: "cancelled",
            JobState.INTERRUPTED: "interrupted",
        }.get(self.job_state or JobState.QUEUED, "")
        if self.handle.cancel_event.is_set() and self.is_running():
            state = "cancelling…"
        c = self.counts()
        bad = c.get(StepState.FAILED, 0) + c.get(StepState.UNREACHABLE, 0)
        red = sum(1 for hid in self._names if (st := self.steps_model.step(hid)) is not None and _red(st))
        extra = (
            f" · {c.get(StepState.SUCCEEDED, 0) - red} ok"
            + (f", {red} verification red" if red else "")
            + (f", {bad} failed" if bad else "")
        )
        self.title.setText(f"Job #{self.handle.job_id}: {self._what.lower()} of {n} host(s) — {state}{extra}")

    def _prefix(self, host_id: int | None, ts: float) -> str:
        name = self._names.get(host_id, "job") if host_id is not None else "job"
        return f"{datetime.fromtimestamp(ts).strftime('%H:%M:%S')}  {name:<14} "

    def _append(self, lines: Sequence[tuple[int | None, float, LogLevel, str]]) -> None:
        if not lines:
            return
        bar = self.log.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 4
        cursor = QTextCursor(self.log.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.beginEditBlock()
        first = self.log.document().isEmpty()
        for host_id, ts, level, text in lines:
            if not first:
                cursor.insertBlock()
            first = False
            safe = "".join(c if c.isprintable() or c in "\n\t" else "?" for c in text)
            cursor.insertText(self._prefix(host_id, ts) + safe, self._formats[level])
        cursor.endEditBlock()
        if at_bottom:
            bar.setValue(bar.maximum())

    @Slot(int)
    def _rerender(self, _index: int = 0) -> None:
        wanted = self.host_filter.currentData()
        self.log.clear()
        self._append([ln for ln in self._lines if wanted is None or ln[0] == wanted])

    @Slot(QModelIndex)
    def _step_clicked(self, index: QModelIndex) -> None:
        step = self.steps_model._steps[index.row()] if index.isValid() else None
        if step is not None:
            self.show_host_log(step.host.id)

    @Slot()
    def _cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.cancel_button.setEnabled(False)
            self._update_title()
            self.cancel_requested.emit()
