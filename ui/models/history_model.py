"""A host's job history (db.jobs.host_history) with what each job changed and how it verified.

Mirrors ``patchdesk history``: per job the host's step state, the number of changes in its change
record, the newest verification that judged it (db.changes.verification_for) and the job that rolled
it back. ``load_history`` reads everything on the caller's (main) thread: a few small indexed queries
per row, for at most ``limit`` rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush

from app.domain.models import Job, JobHost, JobKind, PackageChange, StepState
from db import changes as db_changes
from db import jobs as db_jobs
from ui.models.host_status import local_time, one_line
from ui.theme import text_colour
from ui.verdicts import VERDICT_COLOURS, verdict_text, verdict_tooltip

MUTED = text_colour("#5b6372")
STEP_COLOURS = {
    StepState.SUCCEEDED: text_colour("#17632f"),
    StepState.FAILED: text_colour("#9b1c14"),
    StepState.UNREACHABLE: text_colour("#8a4b00"),
    StepState.INTERRUPTED: text_colour("#8a4b00"),
    StepState.CANCELLED: text_colour("#5b6372"),
    StepState.RUNNING: text_colour("#1f4e89"),
}

COL_JOB = 0
COL_KIND = 1
COL_STATE = 2
COL_STARTED = 3
COL_CHANGES = 4
COL_VERIFY = 5
COL_ROLLED_BACK = 6
COL_ERROR = 7
HEADERS = ("Job", "Kind", "State", "Started", "Changes", "Verified", "Rolled back", "Error")


@dataclass(frozen=True)
class HistoryEntry:
    job: Job
    step: JobHost
    changes: tuple[PackageChange, ...]
    verification: db_changes.VerificationRow | None
    rolled_back_by: int | None
    has_snapshot: bool

    @property
    def can_roll_back(self) -> bool:
        """The same rule as db.changes.last_patch_job: a patch that changed something (or was
        interrupted after its snapshot) and is not rolled back yet."""
        if self.job.kind != JobKind.PATCH or self.rolled_back_by is not None:
            return False
        return bool(self.changes) or (self.step.state == StepState.INTERRUPTED and self.has_snapshot)

    @property
    def verdict(self) -> str | None:
        return self.verification.verdict if self.verification else None


def load_history(db, host_id: int, limit: int) -> list[HistoryEntry]:  # type: ignore[no-untyped-def]
    out = []
    for job, step in db_jobs.host_history(db, host_id, limit):
        kind = job.kind
        if kind == JobKind.PLAN:  # a preview changed nothing; the Patch dialog showed its outcome
            continue
        changes: tuple[PackageChange, ...] = ()
        snapshot = False
        rolled = None
        if kind in (JobKind.PATCH, JobKind.ROLLBACK):
            changes = tuple(db_changes.changes(db, job.id, host_id))
            snapshot = bool(db_changes.snapshot_manager(db, job.id, host_id))
            rolled = db_changes.rolled_back_by(db, job.id, host_id) if kind == JobKind.PATCH else None
        verification = (
            db_changes.verification_for(db, job.id, host_id)
            if kind in (JobKind.PATCH, JobKind.ROLLBACK, JobKind.VERIFY)
            else None
        )
        out.append(HistoryEntry(job, step, changes, verification, rolled, snapshot))
    return out


class HistoryTableModel(QAbstractTableModel):
    HEADERS = HEADERS

    def __init__(self, parent=None) -> None:  # type: ignore[no-untyped-def]
        super().__init__(parent)
        self._rows: list[HistoryEntry] = []

    def set_rows(self, rows: Sequence[HistoryEntry]) -> None:
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def entry_at(self, row: int) -> HistoryEntry | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, job_id: int) -> int | None:
        for i, e in enumerate(self._rows):
            if e.job.id == job_id:
                return i
        return None

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):  # type: ignore[no-untyped-def]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):  # type: ignore[no-untyped-def]
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        e = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(e, col)
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._foreground(e, col)
        if role == Qt.ItemDataRole.BackgroundRole:
            return self._background(e, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(e, col)
        if role == Qt.ItemDataRole.TextAlignmentRole and col == COL_CHANGES:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _display(e: HistoryEntry, col: int) -> str:
        job, step = e.job, e.step
        if col == COL_JOB:
            return f"#{job.id}"
        if col == COL_KIND:
            return str(job.kind)
        if col == COL_STATE:
            return str(step.state)
        if col == COL_STARTED:
            return local_time(step.started_at or job.started_at)
        if col == COL_CHANGES:
            return str(len(e.changes)) if job.kind in (JobKind.PATCH, JobKind.ROLLBACK) else ""
        if col == COL_VERIFY:
            return verdict_text(e.verdict)
        if col == COL_ROLLED_BACK:
            return f"by job #{e.rolled_back_by}" if e.rolled_back_by else ""
        return one_line(step.error, 160)

    @staticmethod
    def _foreground(e: HistoryEntry, col: int) -> QBrush | None:
        if col == COL_STATE and e.step.state in STEP_COLOURS:
            return QBrush(STEP_COLOURS[e.step.state])
        if col == COL_VERIFY and e.verdict in VERDICT_COLOURS:
            return QBrush(VERDICT_COLOURS[e.verdict][0])
        if col == COL_ROLLED_BACK and e.rolled_back_by:
            return QBrush(MUTED)
        return None

    @staticmethod
    def _background(e: HistoryEntry, col: int) -> QBrush | None:
        if col == COL_VERIFY and e.verdict in VERDICT_COLOURS:
            return QBrush(VERDICT_COLOURS[e.verdict][1])
        return None

    @staticmethod
    def _tooltip(e: HistoryEntry, col: int) -> str | None:
        if col == COL_ERROR and e.step.error:
            return one_line(e.step.error, 1000)
        if col == COL_VERIFY and e.verification is not None:
            return verdict_tooltip(e.verification.verdict, e.verification.reasons)
        return None
