"""Alerts are easy to miss without a tray (#23 item 7): a bell in the status bar counts the alerts
nobody acknowledged, and its list keeps every alert (time, hosts, text) until acknowledged."""

from __future__ import annotations

from app.domain.models import Host, JobKind, JobState, StepState
from app.jobs.engine import JobHandle
from app.services import alerts as app_alerts
from db import hosts as db_hosts
from db import jobs as db_jobs
from ui.dialogs.alerts_dialog import AlertsDialog
from ui.main_window import MainWindow


def _window(qtbot, db) -> MainWindow:  # type: ignore[no-untyped-def]
    w = MainWindow(db, runner=None, secrets=None)
    qtbot.addWidget(w)
    w.show()
    return w


def _failed_job(db) -> JobHandle:  # type: ignore[no-untyped-def]
    hosts = [db_hosts.add_host(db, Host(name=f"web{i}", address=f"web{i}.example.invalid")) for i in (1, 2)]
    job = db_jobs.create_job(db, JobKind.SCAN, hosts)
    for h in hosts:
        assert h.id is not None
        db_jobs.set_host_state(db, job, h.id, StepState.RUNNING)
        db_jobs.set_host_state(db, job, h.id, StepState.FAILED, "connection refused")
    db_jobs.set_job_state(db, job, JobState.RUNNING)
    db_jobs.set_job_state(db, job, JobState.FINISHED)
    return JobHandle(job, hosts)


def test_a_finished_job_s_alert_stays_until_acknowledged(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    w = _window(qtbot, db)
    assert w.alerts.button.text() == "" and w.alerts.count == 0
    assert w.alerts.button.isVisibleTo(w)
    handle = _failed_job(db)
    w.tray_control.raise_alerts(handle)  # what the end of a job does
    assert w.alerts.count == 1 and w.alerts.button.text() == "1 alert"
    # the 15-second status-bar line is long gone: the list still has it
    w.statusBar().clearMessage()
    w.alerts.button.click()
    dlg = w.active_dialog
    assert isinstance(dlg, AlertsDialog)
    assert dlg.model.rowCount() == 1
    time, text, hosts, status = dlg.model.rows[0]
    assert "failed on 2 host(s)" in str(text) and hosts == "web1, web2" and status == "new"
    assert time  # local time
    dlg.table.selectRow(0)
    assert "did not succeed on web1, web2" in dlg.detail.text()
    assert dlg.acknowledge_selected() == 1
    assert w.alerts.count == 0 and w.alerts.button.text() == ""
    assert dlg.stack.showing_empty  # "No alerts", not a blank table
    dlg.show_seen.setChecked(True)
    assert dlg.model.rowCount() == 1 and str(dlg.model.rows[0][3]).startswith("seen ")
    dlg.reject()


def test_acknowledge_all(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    alerts = [
        app_alerts.Alert(app_alerts.AlertKind.URGENT_UPDATE, f"Patchdesk: {n} urgent update(s) appeared", "x")
        for n in range(1, 4)
    ]
    app_alerts.record(db, alerts)
    w = _window(qtbot, db)
    assert w.alerts.button.text() == "3 alerts"  # counted at start-up too
    dlg = w.show_alerts()
    assert isinstance(dlg, AlertsDialog) and dlg.model.rowCount() == 3
    assert not dlg.ack_button.isEnabled() and dlg.ack_all_button.isEnabled()
    dlg.ack_all_button.click()
    assert w.alerts.count == 0 and app_alerts.open_count(db) == 0
    assert not dlg.ack_all_button.isEnabled()
    dlg.reject()
