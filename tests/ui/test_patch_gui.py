"""Patch, verify and roll back a real Debian test host from the GUI: the Patch dialog's plan preview
and confirmation, the live job panel with its verification badge, the History tab with the change
record and Roll back…, sentences for "nothing to roll back", and a main thread that never stalls."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.domain.models import HostStatus, JobKind
from db import hosts as db_hosts
from tests.ui.helpers import LatenessProbe, add_hosts, when_modal
from ui.dialogs import patch_dialog
from ui.dialogs.host_key_dialog import FirstContactDialog
from ui.dialogs.patch_dialog import PatchDialog
from ui.dialogs.rollback_dialog import RollbackDialog
from ui.main_window import MainWindow
from ui.models.history_model import COL_KIND, COL_ROLLED_BACK, COL_VERIFY
from ui.views.job_panel import COL_VERIFY as JOB_COL_VERIFY

pytestmark = pytest.mark.hosts

TIMEOUT_MS = 120_000


def _scanned(qtbot, w: MainWindow, db, hosts, key) -> list:  # type: ignore[no-untyped-def]
    """Add the hosts, scan them all, trust their keys at first contact, wait for the rescan."""
    added = add_hosts(db, hosts, key)
    w.reload_hosts()
    w.scan_all_action.trigger()
    qtbot.waitUntil(lambda: isinstance(w.active_dialog, FirstContactDialog), timeout=TIMEOUT_MS)
    w.active_dialog.trust_button.click()
    qtbot.waitUntil(
        lambda: _idle(w) and all(_fresh(db, h).last_status == HostStatus.OK for h in added),
        timeout=TIMEOUT_MS,
    )
    return added


def _fresh(db, host):  # type: ignore[no-untyped-def]
    return db_hosts.get_host(db, host.id)


def _idle(w: MainWindow) -> bool:
    """No job running and the last one's final rows re-read (the actions are enabled again)."""
    return not w.job_panel.is_running() and w.patch_action.isEnabled() and w.active_dialog is None


def _pending_names(w: MainWindow) -> set[str]:
    um = w.detail.updates_model
    return {um.data(um.index(r, 0)).split(":")[0] for r in range(um.rowCount())}


def _sentence(qtbot, trigger) -> str:  # type: ignore[no-untyped-def]
    """Run ``trigger`` that shows a message box; return its text and close it."""
    texts: list[str] = []
    seen = when_modal(QMessageBox, lambda box: (texts.append(box.text()), box.accept()))
    trigger()
    qtbot.waitUntil(lambda: bool(seen), timeout=5000)
    return texts[0]


def test_patch_preview_verify_and_roll_back_from_the_gui(qtbot, window, db, hosts, host_pool, monkeypatch):
    w = window
    added = _scanned(qtbot, w, db, hosts, host_pool.client_key)
    (host, other), (target, second) = added[:2], hosts[:2]
    probe = LatenessProbe()
    probe.start()

    # -- Verify a host never patched: compares with its last scan, amber, never red (#17) ------------
    w.inventory.select_host(host.id)
    assert w.verify_action.isEnabled()
    assert "compares with the last scan of " in w.verify_action.toolTip(), w.verify_action.toolTip()
    w.verify_action.trigger()
    unpatched = w.active_job
    assert unpatched is not None and w.job_panel.what == "Verify"
    qtbot.waitUntil(lambda: _idle(w) and unpatched.done.is_set(), timeout=TIMEOUT_MS)
    verdict, reasons = w.job_panel.verdict(host.id)
    assert verdict == "amber", reasons
    assert reasons[0].startswith("nothing patched since the last scan; 2 security update(s) still pending")

    # -- Patch… on two selected hosts: choose pd-secfix, preview, confirm ---------------------------
    w.inventory.select_ids({host.id, other.id})
    w.patch_action.trigger()
    dlg = w.active_dialog
    assert isinstance(dlg, PatchDialog)
    assert sorted(h.id for h in dlg.hosts) == sorted([host.id, other.id])
    assert not dlg.patch_button.isEnabled()  # only after a preview
    assert dlg.package_item("pd-secfix") is not None
    assert dlg.package_item("pd-chain-extra") is None  # new packages come in as dependencies only
    dlg.package_item("pd-secfix").setCheckState(Qt.CheckState.Checked)
    assert "1 package(s) on 2 host(s)" in dlg.choice_label.text()
    qtbot.mouseClick(dlg.preview_button, Qt.MouseButton.LeftButton)
    assert dlg.plan_handle is not None and not dlg.preview_button.isEnabled()
    qtbot.waitUntil(lambda: dlg.plan_handle is None, timeout=TIMEOUT_MS)
    assert dlg.plan_errors == {}
    tree = dlg.plan_tree
    assert tree.topLevelItemCount() == 2
    for i in range(2):
        top = tree.topLevelItem(i)
        assert top.text(3).startswith("1 change(s)")
        assert [
            (top.child(j).text(0), top.child(j).text(1), top.child(j).text(2))
            for j in range(top.childCount())
        ] == [("pd-secfix", "1.0-1", "1.0-2")]
    assert target.installed_version("pd-secfix") == "1.0-1"  # a preview changes nothing
    assert dlg.patch_button.isEnabled()
    # a different choice invalidates the preview; the same choice ticked differently does not
    dlg.class_checks[patch_dialog.Classification.NONCRITICAL].setChecked(True)
    assert dlg.patch_button.isEnabled()
    dlg.package_item("pd-regular").setCheckState(Qt.CheckState.Checked)
    assert not dlg.patch_button.isEnabled() and "preview again" in dlg.status_label.text()
    dlg.package_item("pd-regular").setCheckState(Qt.CheckState.Unchecked)
    assert dlg.patch_button.isEnabled()

    asked: list[str] = []
    monkeypatch.setattr(patch_dialog, "confirm", lambda _p, _t, text, _y="OK": asked.append(text) or True)
    qtbot.mouseClick(dlg.patch_button, Qt.MouseButton.LeftButton)
    assert asked == ["Install 2 changes on 2 hosts?"]
    job = w.active_job
    assert job is not None and w.job_panel.what == "Patch" and w.active_dialog is None
    qtbot.waitUntil(lambda: _idle(w) and job.done.is_set(), timeout=TIMEOUT_MS)
    patch_job = job.job_id

    # the job panel's per-host rows carry the green badge with the reasons as tooltip
    jm = w.job_panel.steps_model
    for r in range(2):
        badge = jm.index(r, JOB_COL_VERIFY)
        assert jm.data(badge) == "✔ green"
        tip = jm.data(badge, Qt.ItemDataRole.ToolTipRole)
        assert "Verification green" in tip and "not available" in tip
    for h in (target, second):
        assert h.installed_version("pd-secfix") == "1.0-2"
        assert h.installed_version("pd-regular") == "2.0-1"  # only what was chosen
    assert hosts[2].installed_version("pd-secfix") == "1.0-1"  # not selected, not touched

    # -- History of one host: the patch job, its change record, badge and log ------------------------
    w.inventory.select_host(host.id)
    qtbot.waitUntil(lambda: "pd-secfix" not in _pending_names(w), timeout=10_000)
    w.detail.tabs.setCurrentIndex(1)
    hm = w.detail.history_model
    assert w.detail.select_job(patch_job)
    entry = w.detail.selected_entry()
    assert entry.job.kind == JobKind.PATCH and entry.verdict == "green" and entry.can_roll_back
    cv = w.detail.change_view
    assert [
        (cv.topLevelItem(i).text(0), cv.topLevelItem(i).text(1), cv.topLevelItem(i).text(2))
        for i in range(cv.topLevelItemCount())
    ] == [("pd-secfix", "1.0-1", "1.0-2")]
    assert w.detail.job_badge.text() == "✔ green" and w.detail.job_badge.isVisible()
    assert "changed package(s) at the intended version" in w.detail.job_reasons.text()
    assert "pd-secfix" in w.detail.job_log.toPlainText()
    assert w.detail.rollback_button.isEnabled()

    if os.environ.get("PATCHDESK_SCREENSHOT"):
        # the patch job of two hosts live in the job panel, one host's History with its change record
        w.resize(1280, 800)
        qtbot.wait(300)
        w.grab().save(os.environ["PATCHDESK_SCREENSHOT"])

    # -- Verify from the History tab ----------------------------------------------------------------
    assert "compares with the last patch of " in w.detail.verify_button.toolTip()
    qtbot.mouseClick(w.detail.verify_button, Qt.MouseButton.LeftButton)
    verify = w.active_job
    assert verify is not job and w.job_panel.what == "Verify"
    qtbot.waitUntil(lambda: _idle(w) and verify.done.is_set(), timeout=TIMEOUT_MS)
    assert jm.data(jm.index(0, JOB_COL_VERIFY)) == "✔ green"

    # -- Roll back… the patch job on this host from its History --------------------------------------
    assert w.detail.select_job(patch_job)
    qtbot.mouseClick(w.detail.rollback_button, Qt.MouseButton.LeftButton)
    rdlg = w.active_dialog
    assert isinstance(rdlg, RollbackDialog)
    assert rdlg.hosts() == [host] or [h.id for h in rdlg.hosts()] == [host.id]
    item = rdlg.tree.topLevelItem(0)
    assert (item.text(0), item.text(1), item.text(2), item.text(3)) == (
        "pd-secfix",
        "1.0-2",
        "1.0-1",
        "restore",
    )
    qtbot.mouseClick(rdlg.rollback_button, Qt.MouseButton.LeftButton)
    rollback = w.active_job
    assert rollback is not verify and w.job_panel.what == "Rollback"
    qtbot.waitUntil(lambda: _idle(w) and rollback.done.is_set(), timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: "pd-secfix" in _pending_names(w), timeout=10_000)
    assert target.installed_version("pd-secfix") == "1.0-1"
    assert second.installed_version("pd-secfix") == "1.0-2"  # the other host is left alone
    assert jm.data(jm.index(0, JOB_COL_VERIFY)) == "✔ green"

    # newest first: the rollback job with its green badge; the patch job says who rolled it back
    assert hm.data(hm.index(0, COL_KIND)) == "rollback"
    assert hm.data(hm.index(0, COL_VERIFY)) == "✔ green"
    row = hm.row_of(patch_job)
    assert hm.data(hm.index(row, COL_ROLLED_BACK)) == f"by job #{rollback.job_id}"
    assert w.detail.select_job(patch_job)
    assert not w.detail.rollback_button.isEnabled()
    assert "Already rolled back" in w.detail.history_hint.text()

    # -- Roll back… from the inventory for both hosts: only the one still patched is listed -----------
    w.inventory.select_ids({host.id, other.id})
    w.rollback_action.trigger()
    rdlg = w.active_dialog
    assert isinstance(rdlg, RollbackDialog)
    assert [h.id for h in rdlg.hosts()] == [other.id]
    assert rdlg.skipped_label.text() == f"{target.name} has no patch to roll back."
    qtbot.mouseClick(rdlg.rollback_button, Qt.MouseButton.LeftButton)
    multi = w.active_job
    assert multi is not rollback and [h.id for h in multi.hosts] == [other.id]
    qtbot.waitUntil(lambda: _idle(w) and multi.done.is_set(), timeout=TIMEOUT_MS)
    assert second.installed_version("pd-secfix") == "1.0-1"
    probe.stop()

    # -- nothing to roll back: sentences, no job ----------------------------------------------------
    text = _sentence(qtbot, lambda: w.rollback_job(_fresh(db, host), patch_job))
    assert text == f"Job {patch_job} on {target.name} was already rolled back by job {rollback.job_id}."
    w.inventory.select_host(host.id)
    text = _sentence(qtbot, w.rollback_action.trigger)
    assert text == f"{target.name} has no patch to roll back."
    assert w.active_job is multi  # nothing started

    assert probe.worst < 0.5, f"main thread stalled for {probe.worst * 1000:.0f} ms"
