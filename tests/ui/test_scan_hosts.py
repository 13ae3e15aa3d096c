"""Scanning real Debian test hosts from the GUI: first contact, live job panel, final counts, detail,
a changed host key, and main-thread responsiveness while the scan runs."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from app.domain.models import HostStatus
from db import hosts as db_hosts
from tests.ui.helpers import LatenessProbe
from tests.ui.helpers import add_hosts as _add_hosts
from ui.dialogs.host_key_dialog import ChangedKeyDialog, FirstContactDialog
from ui.main_window import MainWindow
from ui.models import updates_model
from ui.models.hosts_model import COL_IMPORTANT, COL_NONCRITICAL, COL_STATUS, COL_URGENT

pytestmark = pytest.mark.hosts

SCAN_TIMEOUT_MS = 60_000
#: Noncritical updates every fresh test host has: pd-regular, pd-chain, pd-chain-lib, pd-chain-extra, pd-conf.
NONCRITICAL = 5


def _all_scanned_ok(w: MainWindow, n: int) -> bool:
    shown = w.inventory.model.hosts()
    return (
        len(shown) == n
        and not w.job_panel.is_running()
        and all(h.last_status == HostStatus.OK and h.pending_important == 2 for h in shown)
    )


def test_scan_all_with_first_contact(qtbot, window, db, hosts, host_pool):
    w = window
    added = _add_hosts(db, hosts, host_pool.client_key)
    w.reload_hosts()
    probe = LatenessProbe()
    probe.start()

    w.scan_all_action.trigger()
    first_job = w.active_job
    assert first_job is not None and w.job_panel.is_running()
    assert not w.scan_all_action.isEnabled()  # one job at a time

    # Nothing is trusted yet: every host stops at first contact and the dialog lists them all.
    qtbot.waitUntil(lambda: isinstance(w.active_dialog, FirstContactDialog), timeout=SCAN_TIMEOUT_MS)
    dlg = w.active_dialog
    assert sorted(o.host.name for o in dlg.offers) == sorted(h.name for h in hosts)
    by_name = {h.name: h for h in hosts}
    for o in dlg.offers:
        assert o.fingerprint.startswith("SHA256:")
        if o.keytype == "ssh-ed25519":
            assert o.fingerprint == by_name[o.host.name].host_key_fingerprint()
    # rows show the failure, coloured, with the reason as tooltip
    model = w.inventory.model
    row = model.row_of(added[0].id)
    assert model.data(model.index(row, COL_STATUS)) == "scan failed"
    assert "host key" in model.data(model.index(row, COL_STATUS), Qt.ItemDataRole.ToolTipRole).lower()

    qtbot.mouseClick(dlg.trust_button, Qt.MouseButton.LeftButton)
    # trusted -> a rescan starts by itself
    qtbot.waitUntil(lambda: w.active_job is not first_job, timeout=5000)
    assert {k.host_id for h in added for k in db_hosts.host_keys(db, h.id)} == {h.id for h in added}
    qtbot.waitUntil(lambda: _all_scanned_ok(w, len(hosts)), timeout=SCAN_TIMEOUT_MS)
    probe.stop()

    shown = w.inventory.model
    for r in range(shown.rowCount()):
        assert shown.data(shown.index(r, COL_URGENT)) == "0"
        assert shown.data(shown.index(r, COL_IMPORTANT)) == "2"
        assert shown.data(shown.index(r, COL_NONCRITICAL)) == str(NONCRITICAL)
        assert shown.data(shown.index(r, COL_STATUS)).startswith("non-compliant")  # 2 important pending

    # job panel: every host finished, the log has each host's lines
    assert w.job_panel.progress.value() == w.job_panel.progress.maximum() == len(hosts)
    log = w.job_panel.log_text()
    for h in hosts:
        assert h.name in log
    assert "pending update(s)" in log
    w.job_panel.show_host_log(added[1].id)
    filtered = w.job_panel.log_text().splitlines()
    assert filtered and all(added[1].name in line for line in filtered)

    # detail pane of one host: pd-secfix 1.0-1 -> 1.0-2, important, orange row
    w.inventory.select_host(added[0].id)
    assert w.detail.host is not None and w.detail.host.id == added[0].id
    um = w.detail.updates_model
    rows = {um.data(um.index(r, 0)).split(":")[0]: r for r in range(um.rowCount())}
    assert "pd-secfix" in rows and "pd-reboot" in rows and "pd-current" not in rows
    r = rows["pd-secfix"]
    assert um.data(um.index(r, updates_model.COL_INSTALLED)) == "1.0-1"
    assert um.data(um.index(r, updates_model.COL_AVAILABLE)) == "1.0-2"
    assert um.data(um.index(r, updates_model.COL_CLASSIFICATION)) == "important"
    assert um.data(um.index(r, 0), Qt.ItemDataRole.BackgroundRole).color() == QColor("#fff0db")
    assert um.data(um.index(rows["pd-chain-extra"], updates_model.COL_INSTALLED)) == "(new)"
    assert w.detail.history_model.rowCount() == 2  # the first-contact failure and the good rescan
    assert "Pending updates (7)" == w.detail.tabs.tabText(0)
    assert "4 hosts" in w.summary_label.text() and "8 important" in w.summary_label.text()

    if os.environ.get("PATCHDESK_SCREENSHOT"):
        w.resize(1280, 800)
        qtbot.wait(200)
        w.grab().save(os.environ["PATCHDESK_SCREENSHOT"])

    # a freeze check, not a benchmark
    assert probe.worst < 0.5, f"main thread stalled for {probe.worst * 1000:.0f} ms during the scan"


def test_changed_host_key_needs_explicit_verification(qtbot, window, db, hosts, host_pool):
    w = window
    target = hosts[0]
    (host,) = _add_hosts(db, [target], host_pool.client_key)
    w.reload_hosts()
    w.inventory.select_host(host.id)
    w.scan_selected_action.trigger()
    qtbot.waitUntil(lambda: isinstance(w.active_dialog, FirstContactDialog), timeout=SCAN_TIMEOUT_MS)
    w.active_dialog.trust_button.click()
    # Scan comes back once the job is over *and* written (its rows may show a moment earlier)
    qtbot.waitUntil(
        lambda: _all_scanned_ok(w, 1) and w.scan_selected_action.isEnabled(), timeout=SCAN_TIMEOUT_MS
    )
    old = target.host_key_fingerprint()

    new = target.change_host_key()
    # The first scan's connection is kept for a minute and stays with the server process it verified
    # (app/transports/pool.py); the changed key shows at the next login, here at once.
    w.runner.clear_connections()
    w.scan_selected_action.trigger()
    qtbot.waitUntil(lambda: isinstance(w.active_dialog, ChangedKeyDialog), timeout=SCAN_TIMEOUT_MS)
    dlg = w.active_dialog
    assert "possible interception" in dlg.message.text()
    assert dlg.old_label.text() == dlg.offer.old_fingerprint and dlg.new_label.text() == dlg.offer.fingerprint
    assert dlg.offer.old_fingerprint and dlg.offer.fingerprint
    if dlg.offer.keytype == "ssh-ed25519":
        assert (dlg.offer.old_fingerprint, dlg.offer.fingerprint) == (old, new)
    accepted_fp = dlg.offer.fingerprint
    assert not dlg.accept_button.isEnabled()
    dlg.accept()  # Enter on the dialog: refused until verified
    assert dlg.isVisible()
    dlg.verified.setChecked(True)
    assert dlg.accept_button.isEnabled()
    qtbot.mouseClick(dlg.accept_button, Qt.MouseButton.LeftButton)
    first = w.active_job
    qtbot.waitUntil(lambda: w.active_job is not first, timeout=5000)
    qtbot.waitUntil(lambda: _all_scanned_ok(w, 1), timeout=SCAN_TIMEOUT_MS)
    keys = db_hosts.host_keys(db, host.id)
    assert len(keys) == 1 and keys[0].fingerprint == accepted_fp  # replace=True dropped the old key


def test_a_job_started_before_the_worker_is_up_leaves_the_window_live(qtbot, db, db_path, hosts, host_pool):
    """The first second after launch the job worker is still starting: the Scan click returns at once,
    the window says what it waits for and starts nothing else, and the job begins when the worker
    answers."""
    from app.jobs.worker import WorkerJobRunner

    runner = WorkerJobRunner(db_path, keyring=False, connect_timeout=10)
    w = MainWindow(db, runner)
    qtbot.addWidget(w)
    w.show()
    try:
        (host,) = _add_hosts(db, hosts[:1], host_pool.client_key)
        w.reload_hosts()
        w.inventory.select_host(host.id)
        assert not runner.ready()
        probe = LatenessProbe()
        probe.start()
        w.scan_selected_action.trigger()
        assert w.active_job is None and w.starting == "Scan"
        assert "waiting for the job worker" in w.statusBar().currentMessage()
        assert not w.scan_all_action.isEnabled() and not w.patch_action.isEnabled()
        w.scan_all_action.trigger()  # a second start meanwhile is refused, not queued
        qtbot.waitUntil(lambda: w.active_job is not None, timeout=SCAN_TIMEOUT_MS)
        assert w.starting is None and runner.ready()
        qtbot.waitUntil(lambda: isinstance(w.active_dialog, FirstContactDialog), timeout=SCAN_TIMEOUT_MS)
        w.active_dialog.trust_button.click()
        qtbot.waitUntil(lambda: _all_scanned_ok(w, 1), timeout=SCAN_TIMEOUT_MS)
        assert len({j.job_id for j in w.jobs.values()}) == 2  # the scan and its rescan after trust, no third
        assert probe.worst < 0.5, f"main thread stalled for {probe.worst * 1000:.0f} ms"
        # with the worker up, the next start is on the spot again
        handle = w.start_scan([host])
        assert handle is not None and w.active_job is handle
        qtbot.waitUntil(lambda: not w.job_panel.is_running(), timeout=SCAN_TIMEOUT_MS)
    finally:
        for h in w.jobs.values():
            h.cancel()
            h.wait(20)
        w.close()
        runner.close()


def test_a_worker_that_cannot_start_is_a_sentence(qtbot, db, tmp_path, monkeypatch):
    """A worker that fails to come up (here: its database path is a directory) ends the wait with a
    plain error; nothing is left half-started."""
    from app.domain.models import Host
    from app.jobs.worker import WorkerJobRunner

    shown: list[str] = []
    monkeypatch.setattr(
        "ui.jobs_controller.show_known_error", lambda parent, exc, title="Patchdesk": shown.append(str(exc))
    )
    runner = WorkerJobRunner(tmp_path, keyring=False)
    w = MainWindow(db, runner)
    qtbot.addWidget(w)
    w.show()
    try:
        host = db_hosts.add_host(db, Host(name="web1", address="127.0.0.1", user="admin"))
        w.reload_hosts()
        assert w.start_scan([host]) is None and w.starting == "Scan"
        qtbot.waitUntil(lambda: bool(shown), timeout=SCAN_TIMEOUT_MS)
        assert "job worker could not start" in shown[0] and "Traceback" not in shown[0]
        assert w.starting is None and w.active_job is None and w.scan_all_action.isEnabled()
    finally:
        w.close()
        runner.close()
