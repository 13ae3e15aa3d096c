"""The History tab without real hosts: an interrupted patch shows its error and the log lines kept,
offers a rollback from its snapshot (the confirmation says what will be restored), and "nothing to
roll back" is a sentence."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.domain.models import Host, JobKind, JobState, StepState
from db import changes as db_changes
from db import hosts as db_hosts
from db import jobs as db_jobs
from db.database import now_iso
from tests.ui.helpers import when_modal
from ui.dialogs.rollback_dialog import RollbackDialog
from ui.models.history_model import COL_ERROR, COL_STATE

STOPPED = "Patchdesk stopped before this host finished."


def _interrupted_patch(db, host: Host) -> int:  # type: ignore[no-untyped-def]
    """A patch job killed mid-install: snapshot persisted, some log lines, no change record."""
    job = db_jobs.create_job(db, JobKind.PATCH, [host])
    db_jobs.set_job_state(db, job, JobState.RUNNING)
    db_jobs.set_host_state(db, job, host.id, StepState.RUNNING)
    db_changes.record_snapshot(db, job, host.id, "apt", {"pd-secfix": "1.0-1", "pd-chain-extra": None})
    db_jobs.add_log_lines(
        db,
        [
            (
                job,
                host.id,
                now_iso(),
                "info",
                "Plan: 2 package(s): pd-secfix 1.0-1→1.0-2, pd-chain-extra -→1.0-1",
            ),
            (job, host.id, now_iso(), "info", "Unpacking pd-secfix (1.0-2) over (1.0-1) ..."),
        ],
    )
    db_jobs.set_host_state(db, job, host.id, StepState.INTERRUPTED, STOPPED)
    db_jobs.set_job_state(db, job, JobState.INTERRUPTED)
    return job


def test_interrupted_patch_shows_error_log_and_rolls_back_from_its_snapshot(qtbot, window, db):
    w = window
    host = db_hosts.add_host(db, Host(name="web01", address="127.0.9.5"))
    job = _interrupted_patch(db, host)
    w.reload_hosts()
    w.show_inventory()  # the dashboard is the home tab; the host detail lives on the inventory tab
    w.inventory.select_host(host.id)
    w.detail.tabs.setCurrentIndex(1)
    hm = w.detail.history_model
    assert hm.rowCount() == 1
    assert hm.data(hm.index(0, COL_STATE)) == "interrupted"
    assert hm.data(hm.index(0, COL_ERROR)) == STOPPED
    assert w.detail.select_job(job)
    assert w.detail.job_error.isVisible() and w.detail.job_error.text() == STOPPED
    log = w.detail.job_log.toPlainText()
    assert "Unpacking pd-secfix (1.0-2) over (1.0-1)" in log and log.count("\n") == 1
    assert w.detail.job_tabs.tabText(2) == "Log (2)"
    assert w.detail.selected_entry().can_roll_back
    assert w.detail.rollback_button.isEnabled() and w.detail.verify_button.isEnabled()

    qtbot.mouseClick(w.detail.rollback_button, Qt.MouseButton.LeftButton)
    dlg = w.active_dialog
    assert isinstance(dlg, RollbackDialog)
    rows = [
        tuple(dlg.tree.topLevelItem(i).text(c) for c in range(4)) for i in range(dlg.tree.topLevelItemCount())
    ]
    assert "interrupted" in rows[0][0]
    assert rows[1:] == [
        ("pd-chain-extra", "?", "removed", "remove if installed"),
        ("pd-secfix", "?", "1.0-1", "restore"),
    ]
    dlg.reject()
    qtbot.waitUntil(lambda: w.active_dialog is None)
    assert w.active_job is None  # cancelled: nothing started


def test_nothing_to_roll_back_is_a_sentence(qtbot, window, db):
    w = window
    host = db_hosts.add_host(db, Host(name="db01", address="127.0.9.9"))
    w.reload_hosts()
    w.inventory.select_host(host.id)
    assert w.rollback_action.isEnabled()
    texts: list[str] = []
    seen = when_modal(QMessageBox, lambda box: (texts.append(box.text()), box.accept()))
    w.rollback_action.trigger()
    qtbot.waitUntil(lambda: bool(seen))
    assert texts == ["db01 has no patch to roll back."]
    assert w.active_job is None
    w.detail.tabs.setCurrentIndex(1)
    assert w.detail.history_model.rowCount() == 0
    assert not w.detail.rollback_button.isEnabled()


def test_history_model_cells_for_every_role(qapp):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    from PySide6.QtGui import QBrush

    from app.domain.models import Job, JobHost
    from ui.models.history_model import HEADERS, HistoryEntry, HistoryTableModel

    t0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    patch = HistoryEntry(
        Job(7, JobKind.PATCH, JobState.FINISHED, started_at=t0),
        JobHost(7, 1, "web01", StepState.FAILED, error="dpkg\nfailed"),
        (),
        db_changes.VerificationRow(9, 1, 7, "amber", ("a reason",), "x"),
        12,
        True,
    )
    scan = HistoryEntry(
        Job(8, JobKind.SCAN, JobState.FINISHED),
        JobHost(8, 1, "web01", StepState.SKIPPED),
        (),
        None,
        None,
        False,
    )
    hm = HistoryTableModel()
    hm.set_rows([patch, scan])
    roles = (
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.ForegroundRole,
        Qt.ItemDataRole.BackgroundRole,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.TextAlignmentRole,
        Qt.ItemDataRole.EditRole,
    )

    def cell(row: int, col: int, role: Qt.ItemDataRole) -> object:
        value = hm.data(hm.index(row, col), role)
        return value.color().name() if isinstance(value, QBrush) else value

    table = [[[cell(r, c, role) for role in roles] for c in range(len(HEADERS))] for r in range(2)]
    right = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    assert table[0][:2] == [["#7", None, None, None, None, None], ["patch", None, None, None, None, None]]
    assert table[0][2] == ["failed", "#9b1c14", None, None, None, None]
    assert table[0][3][0] and table[0][3][1:] == [None] * 5  # the local start time
    assert table[0][4:] == [
        ["0", None, None, None, right, None],
        ["▲ amber", "#8a4b00", "#fff0d4", table[0][5][3], None, None],
        ["by job #12", "#5b6372", None, None, None, None],
        [table[0][7][0], None, None, table[0][7][3], None, None],
    ]
    assert "a reason" in table[0][5][3] and "dpkg" in table[0][7][0] and "\n" not in table[0][7][0]
    assert table[1] == [
        ["#8", None, None, None, None, None],
        ["scan", None, None, None, None, None],
        ["skipped", None, None, None, None, None],
        ["", None, None, None, None, None],
        ["", None, None, None, right, None],
        ["", None, None, None, None, None],
        ["", None, None, None, None, None],
        ["", None, None, None, None, None],
    ]
    assert hm.data(hm.index(5, 0)) is None


def test_no_runner_hint_does_not_claim_a_running_job(qtbot, db):  # type: ignore[no-untyped-def]
    """A window without a job runner said "Wait for the running job to finish." under a patch it could
    roll back, while no job ran and none ever could: it says why Roll back is off instead."""
    from ui.main_window import MainWindow

    host = db_hosts.add_host(db, Host(name="web02", address="127.0.9.6"))
    job = _interrupted_patch(db, host)
    w = MainWindow(db, runner=None, secrets=None)
    qtbot.addWidget(w)
    w.show()
    w.show_inventory()
    w.inventory.select_host(host.id)
    w.detail.tabs.setCurrentIndex(1)
    assert w.detail.select_job(job)
    assert not w.detail.rollback_button.isEnabled()
    hint = w.detail.history_hint.text()
    assert "running job" not in hint
    assert "cannot start jobs" in hint
