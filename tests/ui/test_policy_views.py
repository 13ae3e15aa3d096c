"""The policy face of the GUI (pytest-qt, offscreen, real SQLite files): the Advisories view, the
Schedule view with window plans and approvals, classification reasons, and the console's scheduler."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtCore import Qt

from app.domain.maintenance_windows import MaintenanceWindow, Occurrence, next_windows
from app.domain.models import Classification, PendingUpdate, Ring, UpdateKind
from app.domain.rollout import RolloutState
from app.services import audit
from app.services.classification import reclassify_all
from app.services.maintenance_windows import window_plan
from db import advisories as db_adv
from db import hosts as db_hosts
from db import locks as db_locks
from db import maintenance_windows as db_windows
from db import rollouts as db_rollouts
from db import scans as db_scans
from db.database import open_database
from tests.support import policy_data
from tests.support.policy_data import DATA, REGULAR, SECFIX, add_scanned
from ui.main_window import MainWindow
from ui.models.updates_model import COL_CLASSIFICATION, COL_NAME, COL_REASON
from ui.views import advisories_view as av
from ui.views import schedule_view as sv

FIRMWARE = PendingUpdate("fwupd", "UEFI dbx", "371", "217", kind=UpdateKind.FIRMWARE, source="LVFS")
DRIVER = PendingUpdate("fwupd", "Thunderbolt controller", "41.1", "40.0", kind=UpdateKind.DRIVER)
URGENT_REASON = "urgent: CVE-2099-0001 is in CISA KEV (due 2026-12-15)"


def import_samples(db) -> None:  # type: ignore[no-untyped-def]
    policy_data.import_samples(db)
    reclassify_all(db)


def _window(qtbot, db, **kw) -> MainWindow:  # type: ignore[no-untyped-def]
    w = MainWindow(db, **kw)
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    return w


def _column(model, col: int) -> list[str]:  # type: ignore[no-untyped-def]
    return [model.index(r, col).data() for r in range(model.rowCount())]


def _row(model, key_col: int, key: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    for r in range(model.rowCount()):
        if model.index(r, key_col).data() == key:
            return {
                model.headerData(c, Qt.Orientation.Horizontal): model.index(r, c).data()
                for c in range(model.columnCount())
            }
    raise AssertionError(f"{key} not shown; shown: {_column(model, key_col)}")


@pytest.fixture
def fleet(db):  # type: ignore[no-untyped-def]
    """t1 (test ring) and p1 (production) need pd-secfix; KEV and OSV data imported."""
    add_scanned(db, "t1", Ring.TEST, (SECFIX, REGULAR))
    add_scanned(db, "p1", Ring.PRODUCTION, (SECFIX,))
    add_scanned(db, "w1", Ring.PRODUCTION, (REGULAR,), group="web")
    import_samples(db)
    return db


# -- advisories -----------------------------------------------------------------------------------------


def test_advisories_view_lists_kev_due_dates_and_the_hosts_that_need_one(qtbot, fleet) -> None:  # type: ignore[no-untyped-def]
    w = _window(qtbot, fleet)
    view = w.advisories_view
    with qtbot.waitSignal(view.loaded, timeout=10000):
        w.tabs.setCurrentWidget(view)
    dsa = _row(view.proxy, av.COL_ID, "DSA-9901-1")
    assert dsa["KEV"] == "yes" and dsa["KEV due"] == "2026-12-15"
    assert dsa["CVEs"] == "CVE-2099-0001, CVE-2099-0002"
    assert dsa["Hosts"] == "2" and dsa["Status"] == "2 host(s) need it"
    log4j = _row(view.proxy, av.COL_ID, "CVE-2021-44228")
    assert (log4j["KEV"], log4j["KEV due"], log4j["Hosts"]) == ("yes", "2021-12-24", "0")
    # the same numbers as the repository says, every row
    expected = {r.id: r.affected_hosts for r in db_adv.list_advisories(fleet, relevant_only=False)}
    assert {
        i: int(n)
        for i, n in zip(_column(view.proxy, av.COL_ID), _column(view.proxy, av.COL_HOSTS), strict=True)
    } == expected
    assert not view.empty_label.isVisible()

    # the filter box
    view.filter_edit.setText("log4j")
    assert _column(view.proxy, av.COL_ID) == ["CVE-2021-44228"]
    view.filter_edit.clear()
    view.relevant_check.setChecked(True)
    assert _column(view.proxy, av.COL_ID) == ["DSA-9901-1"]
    view.relevant_check.setChecked(False)

    # selecting one shows which hosts need it, with the classification and why
    with qtbot.waitSignal(view.hosts_loaded, timeout=10000):
        assert view.select("DSA-9901-1")
    assert _column(view.hosts_model, 0) == ["p1", "t1"]
    assert _column(view.hosts_model, av.HCOL_CLASS) == ["urgent", "urgent"]
    assert _column(view.hosts_model, av.HCOL_WHY) == [URGENT_REASON, URGENT_REASON]
    assert "2 host(s) need it: p1, t1." in view.detail_text.text()
    assert "CVE-2099-0001 is in CISA KEV (added 2026-12-01, due 2026-12-15)" in view.detail_text.text()
    assert view.inventory_button.isEnabled()
    qtbot.mouseClick(view.inventory_button, Qt.MouseButton.LeftButton)
    assert w.tabs.currentWidget() is w.inventory_tab
    shown = {w.inventory.model.index(r, 0).data() for r in range(w.inventory.model.rowCount())}
    assert shown == {"p1", "t1"}

    # an entry no host needs says so
    w.tabs.setCurrentWidget(view)
    with qtbot.waitSignal(view.hosts_loaded, timeout=10000):
        assert view.select("CVE-2021-44228")
    assert view.hosts_model.rowCount() == 0
    assert "No host needs it" in view.detail_text.text() and not view.inventory_button.isEnabled()


def test_import_from_file_reclassifies_and_offline_refresh_says_so(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    t1 = add_scanned(db, "t1", Ring.TEST, (SECFIX, REGULAR))
    assert (t1.pending_urgent, t1.pending_important) == (0, 1)
    w = _window(qtbot, db)
    view = w.advisories_view
    with qtbot.waitSignal(view.loaded, timeout=10000):
        w.tabs.setCurrentWidget(view)
    assert view.model.rowCount() == 0 and view.empty_label.isVisible()
    assert "Import advisories" in view.empty_label.text()

    with qtbot.waitSignals([view.data_changed, view.loaded], timeout=20000):
        view.import_paths([DATA / "kev_synthetic.json", DATA / "osv-debian12"])
    assert (
        "Imported 2 KEV entries and 2 advisories; 1 pending update(s) changed class."
        in view.status_label.text()
    )
    assert "1 urgent update(s) pending" in view.status_label.text()
    assert not view.empty_label.isVisible() and not view.error_label.isVisible()
    assert "DSA-9901-1" in _column(view.proxy, av.COL_ID)
    fresh = db_hosts.get_host(db, t1.id)  # type: ignore[arg-type]
    assert (fresh.pending_urgent, fresh.pending_important) == (1, 0)
    assert {u.name: u.reason for u in db_scans.pending_for_host(db, t1.id)}["pd-secfix"] == URGENT_REASON  # type: ignore[arg-type]
    qtbot.waitUntil(lambda: w.inventory.model.hosts()[0].pending_urgent == 1, timeout=5000)

    # a broken file: one sentence, nothing imported
    with qtbot.waitSignal(view.loaded, timeout=10000, raising=False):
        view.import_paths([DATA / "malformed_truncated.json"])
    qtbot.waitUntil(lambda: view.error_label.isVisible(), timeout=10000)
    assert "malformed_truncated.json" in view.error_label.text()
    assert db_adv.generation(db) == 1

    # offline: the core's plain message, never a traceback
    view.refresh_online(kev_url="http://127.0.0.1:9/kev.json", timeout=3)
    qtbot.waitUntil(lambda: view.busy == 0 and view.refresh_button.isEnabled(), timeout=20000)
    text = view.error_label.text()
    assert view.error_label.isVisible()
    assert text.startswith("offline — cannot reach 127.0.0.1") and "Import a file instead" in text
    assert "Traceback" not in text and view.status_label.text() == "Nothing was imported."
    assert db_adv.generation(db) == 1


# -- schedule, plans, approvals ----------------------------------------------------------------------------


def test_calendar_shows_the_next_windows_with_their_plan_and_exports_ics(qtbot, fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    nightly = db_windows.add_window(
        fleet,
        MaintenanceWindow(
            "nightly",
            "FREQ=DAILY;BYHOUR=2;BYMINUTE=0",
            timedelta(hours=2),
            "Europe/Berlin",
            datetime(2026, 1, 1),
            ("lab",),
        ),
    )
    db_windows.add_window(
        fleet,
        MaintenanceWindow(
            "weekend",
            "FREQ=WEEKLY;BYDAY=SA;BYHOUR=22",
            timedelta(hours=4),
            "UTC",
            datetime(2026, 1, 1),
            ("empty",),
        ),
    )
    w = _window(qtbot, fleet)
    view = w.schedule_view
    with qtbot.waitSignal(view.loaded, timeout=10000):
        w.tabs.setCurrentWidget(view)
    snap = view.snapshot
    assert snap is not None
    expected = next_windows(db_windows.list_windows(fleet), snap.now, sv.UPCOMING)
    assert view.occ_model.rowCount() == sv.UPCOMING == len(expected)
    shown: list[Occurrence] = [o for o in view.occ_model.payload if isinstance(o, Occurrence)]
    assert [(o.window.name, o.start) for o in shown] == [(o.window.name, o.start) for o in expected]
    first = expected[0]
    assert (
        view.occ_model.text(0, 0) == first.local_start().strftime("%a %Y-%m-%d %H:%M") + f" {first.window.tz}"
    )
    assert not view.windows_hint.isVisible()

    # what each opening will patch: nightly covers lab (t1 and p1), weekend covers no host
    texts = {o.window.name: view.occ_model.text(i, 4) for i, o in enumerate(shown)}
    assert texts["nightly"] == "2 host(s), 3 pending update(s)"
    assert texts["weekend"] == "nothing pending"
    row = next(i for i, o in enumerate(shown) if o.window.name == "nightly")
    view.occ_table.selectRow(row)
    plan = window_plan(fleet, nightly)
    assert _column(view.plan_model, 0) == [h.name for h in plan.hosts] == ["p1", "t1"]
    assert _column(view.plan_model, 2) == ["1", "1"]  # urgent: pd-secfix on both
    assert _column(view.plan_model, 4) == ["0", "1"]  # non-critical: pd-regular on t1
    assert _column(view.plan_model, 5) == ["~10 min", "~10 min"]
    assert view.plan_title.text().startswith("What nightly will patch on ")

    out = tmp_path / "windows.ics"
    n = view.export_ics(out)
    text = out.read_bytes().decode("utf-8")
    assert text.startswith("BEGIN:VCALENDAR\r\n") and text.count("BEGIN:VEVENT") == n
    # 90 days: about 90 nightly openings and 12 or 13 Saturdays
    assert 100 <= n <= 105
    unfolded = text.replace("\r\n ", "")
    assert "Will patch (as far as promotion allows): p1 (production)" in unfolded.replace("\\", "")


def test_approving_a_firmware_update_in_the_gui_changes_it_and_is_audited(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    add_scanned(db, "t1", Ring.TEST, (FIRMWARE, DRIVER, REGULAR))
    w = _window(qtbot, db)
    view = w.schedule_view
    with qtbot.waitSignal(view.loaded, timeout=10000):
        w.tabs.setCurrentWidget(view)
    fw_key, drv_key = "fwupd:UEFI dbx=371", "fwupd:Thunderbolt controller=41.1"
    # only firmware and drivers wait for a decision; the apt update is promoted by soak and verification
    assert sorted(_column(view.rollout_proxy, sv.RCOL_KEY)) == sorted([fw_key, drv_key])
    assert set(_column(view.rollout_proxy, sv.RCOL_APPROVAL)) == {"needs approval"}
    assert "2 waiting" in view.tabs.tabText(0)
    assert not view.approve_button.isEnabled()  # nothing selected yet

    assert view.select_rollout(fw_key)
    view.note_edit.setText("tested on the lab NUC")
    with qtbot.waitSignal(view.loaded, timeout=10000):
        qtbot.mouseClick(view.approve_button, Qt.MouseButton.LeftButton)
    r = db_rollouts.get_rollout(db, fw_key)
    assert r is not None
    assert (r.state, r.ring, r.explicit_approval, r.note) == (
        RolloutState.APPROVED,
        Ring.PRODUCTION,
        True,
        "tested on the lab NUC",
    )
    assert r.allows(Ring.PRODUCTION)
    history = db_rollouts.rollout_history(db, fw_key)
    assert history[-1]["state"] == "approved" and history[-1]["actor"] == audit.actor()
    entry = audit.entries(db, limit=5)[0]
    assert (entry.action, entry.target, entry.actor) == (audit.APPROVAL, fw_key, audit.actor())
    assert entry.details["decision"] == "approved" and entry.details["kind"] == "firmware"
    assert entry.details["note"] == "tested on the lab NUC"
    assert audit.verify(db).ok
    # it no longer waits; the other one still does
    assert _column(view.rollout_proxy, sv.RCOL_KEY) == [drv_key]
    assert view.decision_label.text() == f"Approved {fw_key} (tested on the lab NUC)."

    # defer the driver for a week: still waiting (deferred firmware/drivers still need a decision)
    assert view.select_rollout(drv_key)
    view.defer_combo.setCurrentIndex(1)
    with qtbot.waitSignal(view.loaded, timeout=10000):
        qtbot.mouseClick(view.defer_button, Qt.MouseButton.LeftButton)
    d = db_rollouts.get_rollout(db, drv_key)
    assert d is not None and d.state == RolloutState.DEFERRED and d.deferred_until is not None
    assert timedelta(days=6, hours=23) < d.deferred_until - datetime.now(UTC) <= timedelta(days=7)
    assert _row(view.rollout_proxy, sv.RCOL_KEY, drv_key)["State"].startswith("deferred until ")

    # decline it: nothing waits any more, and the hint says so
    assert view.select_rollout(drv_key)
    with qtbot.waitSignal(view.loaded, timeout=10000):
        qtbot.mouseClick(view.decline_button, Qt.MouseButton.LeftButton)
    assert db_rollouts.get_rollout(db, drv_key).state == RolloutState.DECLINED  # type: ignore[union-attr]
    assert view.rollout_proxy.rowCount() == 0 and view.rollouts_hint.text() == sv.NO_APPROVALS_HINT
    decisions = [
        (e.target, e.details["decision"]) for e in audit.entries(db, limit=10) if e.action == audit.APPROVAL
    ]
    assert decisions == [(drv_key, "declined"), (drv_key, "deferred"), (fw_key, "approved")]

    # all rollouts: the apt update too, with its ring and state
    view.waiting_check.setChecked(False)
    states = dict(
        zip(_column(view.rollout_proxy, sv.RCOL_KEY), _column(view.rollout_proxy, sv.RCOL_STATE), strict=True)
    )
    assert states == {fw_key: "approved", drv_key: "declined", "apt:pd-regular=2.1-1": "new"}


def test_classification_reason_is_shown_for_an_urgent_update(qtbot, fleet) -> None:  # type: ignore[no-untyped-def]
    w = _window(qtbot, fleet)
    t1 = next(h for h in db_hosts.list_hosts(fleet) if h.name == "t1")
    w.show_inventory()
    assert t1.id is not None
    w.inventory.select_host(t1.id)
    qtbot.waitUntil(lambda: w.detail.host is not None and w.detail.host.name == "t1", timeout=5000)
    model = w.detail.updates_model
    row = _column(model, COL_NAME).index("pd-secfix")
    assert model.index(row, COL_CLASSIFICATION).data() == str(Classification.URGENT)
    assert model.index(row, COL_REASON).data() == URGENT_REASON
    assert f"urgent: {URGENT_REASON}" in model.index(row, COL_CLASSIFICATION).data(
        Qt.ItemDataRole.ToolTipRole
    )
    assert not w.detail.updates_view.isColumnHidden(COL_REASON)
    assert w.detail.updates_view.horizontalHeader().visualIndex(COL_REASON) == 3  # in sight, not past Source

    # the per-update view says why, for every host that needs it
    w.show_update("pd-secfix")
    view = w.updates_view
    qtbot.waitUntil(lambda: view.status is not None and view.busy == 0, timeout=10000)
    need = view.need_model
    headers = [need.headerData(c, Qt.Orientation.Horizontal) for c in range(need.columnCount())]
    why = headers.index("Why")
    assert {need.index(r, 0).data() for r in range(need.rowCount())} == {"p1", "t1"}
    assert {need.index(r, why).data() for r in range(need.rowCount())} == {URGENT_REASON}
    assert need.index(0, why).data(Qt.ItemDataRole.ToolTipRole) == URGENT_REASON


# -- the scheduler while the console is open ------------------------------------------------------------


def test_console_scheduler_runs_due_work_off_the_main_thread_and_respects_the_lock(  # type: ignore[no-untyped-def]
    qtbot, db, db_path
) -> None:
    from app.jobs.runner import JobRunner

    off = _window(qtbot, db)
    assert not off.scheduler_enabled and not off.scheduler.timer.isActive()
    off.close()

    runner = JobRunner(db_path, secrets=None, connect_timeout=5)
    try:
        w = _window(qtbot, db, runner=runner, scheduler=True)
        assert w.scheduler_enabled and w.scheduler.timer.isActive() and w.scheduler.timer.interval() == 60_000
        w.run_due_now()
        qtbot.waitUntil(lambda: len(w.due_reports) == 1, timeout=20000)
        report = w.due_reports[0]
        assert report.locked_by is None and not report.dry_run  # type: ignore[attr-defined]
        assert "nothing due" in w.schedule_view.scheduler_label.text()

        # `patchdesk run-due` (another connection, another owner) holds the lock: the console stays out
        other = open_database(db_path)
        try:
            assert (
                db_locks.acquire_lock(other, "scheduler", "patchdesk run-due", timedelta(minutes=5)) is None
            )
            w.run_due_now()
            qtbot.waitUntil(lambda: len(w.due_reports) == 2, timeout=20000)
            assert w.due_reports[1].locked_by.startswith("patchdesk run-due")  # type: ignore[attr-defined]
            assert "another scheduler is running due work" in w.schedule_view.scheduler_label.text()
        finally:
            db_locks.release_lock(other, "scheduler")
            other.conn.close()
        w.close()
    finally:
        runner.close()


def test_closing_hides_to_the_tray_while_scheduling_and_quit_really_quits(  # type: ignore[no-untyped-def]
    qtbot, db, db_path, monkeypatch
) -> None:
    from PySide6.QtWidgets import QApplication, QSystemTrayIcon

    from app.jobs.runner import JobRunner

    quits: list[bool] = []
    monkeypatch.setattr(QApplication, "quit", lambda: quits.append(True))
    runner = JobRunner(db_path, secrets=None, connect_timeout=5)
    try:
        w = _window(qtbot, db, runner=runner, scheduler=True)
        if w.tray is None:  # offscreen has no system tray: give the window one, as a desktop would
            w.tray = QSystemTrayIcon(w)
        w.close()  # the window's close button
        assert not w.isVisible() and not w._closed and w.scheduler.timer.isActive()
        assert quits == []
        w.show_from_tray()
        assert w.isVisible()
        w.quit_action.trigger()  # File → Quit
        assert w._closed and not w.scheduler.timer.isActive() and quits == [True]
    finally:
        runner.close()
