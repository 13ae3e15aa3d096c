"""A Windows host through the GUI: added in the host dialog (WinRM, the password into a real Secret
Service), scanned, KB5034129 shown with its MSRC severity, patched through the Patch dialog -- the
install runs as a SYSTEM task and survives a dropped connection and a restart of the host -- verified
(badge in the job panel and the History tab) and rolled back from History. The real pywinrm client
talks to the loopback WS-Management server (tests/support/wsman_server.py) over real TLS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.domain.models import HostStatus, JobKind, TransportKind
from db import hosts as db_hosts
from tests.integration.test_credentials import keyring_env  # noqa: F401  (fixture)
from tests.support.wsman_server import FakeWindows, WSManServer, fake_windows
from ui.dialogs import patch_dialog
from ui.dialogs.host_dialog import HostDialog
from ui.dialogs.patch_dialog import PatchDialog
from ui.dialogs.rollback_dialog import RollbackDialog
from ui.main_window import MainWindow
from ui.models.updates_model import COL_NAME, COL_SEVERITY
from ui.views.job_panel import COL_VERIFY as JOB_COL_VERIFY

pytestmark = [
    pytest.mark.hosts,
    pytest.mark.filterwarnings(
        r"ignore:Exception ignored in. <socket\.socket .*/keyring/run/bus>:pytest.PytestUnraisableExceptionWarning"  # noqa: E501
    ),
]

TIMEOUT_MS = 120_000
PASSWORD = "Win-Gui-Pa55-word"
CU = "KB5034129"


@pytest.fixture
def win(tmp_path: Path) -> Iterator[tuple[WSManServer, FakeWindows]]:
    with fake_windows(tmp_path, PASSWORD, task_step=0.1) as (server, fake):
        yield server, fake


@pytest.fixture
def win_window(qtbot, db, db_path, keyring_env, monkeypatch):  # type: ignore[no-untyped-def]  # noqa: F811
    """The main window with a real keyring: the Secret Service's environment applied to this process
    before anything asks keyring for a backend."""
    import keyring.backends.SecretService

    from app.jobs.runner import JobRunner
    from app.secrets import SecretStore

    for k, v in keyring_env.items():
        monkeypatch.setenv(k, v)
    store = SecretStore(keyring.backends.SecretService.Keyring())
    runner = JobRunner(db_path, secrets=store, connect_timeout=10)
    w = MainWindow(db, runner, store)
    qtbot.addWidget(w)
    w.show()
    yield w
    for h in w.jobs.values():
        h.cancel()
        h.wait(20)
    w.close()
    runner.close()


def _idle(w: MainWindow) -> bool:
    return not w.job_panel.is_running() and w.patch_action.isEnabled() and w.active_dialog is None


def _pending(w: MainWindow) -> dict[str, str]:
    um = w.detail.updates_model
    return {um.data(um.index(r, COL_NAME)): um.data(um.index(r, COL_SEVERITY)) for r in range(um.rowCount())}


def test_windows_host_from_the_gui(qtbot, win_window, db, win, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    w = win_window
    server, fake = win

    # -- add the host: WinRM with its options, the password into the keyring -------------------------
    w.add_host()
    dlg = w.active_dialog
    assert isinstance(dlg, HostDialog)
    assert not dlg.winrm_box.isVisibleTo(dlg)
    dlg.transport_combo.setCurrentIndex(dlg.transport_combo.findData(TransportKind.WINRM.value))
    assert dlg.winrm_box.isVisibleTo(dlg) and dlg.port_edit.placeholderText() == "default (5986)"
    assert not dlg.key_edit.isEnabled() and dlg.password_edit.isEnabled()
    assert "INSECURE" in dlg.insecure_check.text() and not dlg.insecure_check.isChecked()
    dlg.name_edit.setText("win01")
    dlg.address_edit.setText("127.0.0.1")
    dlg.port_edit.setText(str(server.port))
    dlg.user_edit.setText("Administrator")
    dlg.winrm_auth_combo.setCurrentIndex(dlg.winrm_auth_combo.findData("basic"))
    # Basic over plain HTTP is refused with a sentence
    dlg.winrm_scheme_combo.setCurrentIndex(dlg.winrm_scheme_combo.findData("http"))
    dlg.ok_button.click()
    assert "only safe with NTLM or Kerberos" in dlg.error_label.text()
    dlg.winrm_scheme_combo.setCurrentIndex(dlg.winrm_scheme_combo.findData("https"))
    dlg.ca_edit.setText(str(server.ca_path))
    dlg.password_edit.setText(PASSWORD)
    dlg.ok_button.click()
    qtbot.waitUntil(lambda: w.active_dialog is None, timeout=30_000)
    host = db_hosts.find_host(db, "win01")
    assert host is not None and host.transport == TransportKind.WINRM and host.credential_ref
    assert host.winrm.auth == "basic" and host.winrm.ca_trust_path == str(server.ca_path)
    assert host.winrm.cert_validation and host.winrm.scheme == "https"

    # -- scan from the GUI: KB ids and MSRC severity in the pending list ------------------------------
    w.inventory.select_host(host.id)
    w.scan_selected_action.trigger()
    qtbot.waitUntil(
        lambda: _idle(w) and db_hosts.get_host(db, host.id).last_status == HostStatus.OK, timeout=TIMEOUT_MS
    )
    w.inventory.select_host(host.id)
    qtbot.waitUntil(lambda: CU in _pending(w), timeout=10_000)
    assert _pending(w)[CU] == "Critical"
    assert "Windows Server 2022" in w.detail.subtitle.text()

    # -- patch through the Patch dialog; the host drops the connection and restarts mid-install ------
    w.patch_action.trigger()
    pdlg = w.active_dialog
    assert isinstance(pdlg, PatchDialog)
    item = pdlg.package_item(CU)
    assert item is not None and "Critical" in item.text()
    pdlg.set_packages([CU])
    qtbot.mouseClick(pdlg.preview_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: pdlg.plan_handle is None, timeout=TIMEOUT_MS)
    assert pdlg.plan_errors == {}
    top = pdlg.plan_tree.topLevelItem(0)
    assert [top.child(j).text(0) for j in range(top.childCount())] == [CU]
    assert CU not in fake.installed_kbs  # a preview changes nothing
    fake.drop_during_install = 3
    fake.reboot_during_install = True
    fake.reboot_seconds = 1.0
    monkeypatch.setattr(patch_dialog, "confirm", lambda *_a, **_k: True)
    qtbot.mouseClick(pdlg.patch_button, Qt.MouseButton.LeftButton)
    job = w.active_job
    assert job is not None and w.job_panel.what == "Patch"
    qtbot.waitUntil(lambda: _idle(w) and job.done.is_set(), timeout=TIMEOUT_MS)
    assert CU in fake.installed_kbs and fake.reboots == 1
    jm = w.job_panel.steps_model
    badge = jm.index(0, JOB_COL_VERIFY)
    assert jm.data(badge) == "✔ green", jm.data(badge, Qt.ItemDataRole.ToolTipRole)
    assert "systemd" not in jm.data(badge, Qt.ItemDataRole.ToolTipRole)

    # -- History: the change record with the KB, the badge, the result codes in the log ---------------
    w.inventory.select_host(host.id)
    qtbot.waitUntil(lambda: CU not in _pending(w), timeout=10_000)
    w.detail.tabs.setCurrentIndex(1)
    assert w.detail.select_job(job.job_id)
    entry = w.detail.selected_entry()
    assert entry.job.kind == JobKind.PATCH and entry.verdict == "green" and entry.can_roll_back
    assert [(c.name, c.kb) for c in entry.changes] == [(CU, CU)]
    assert w.detail.job_badge.text() == "✔ green"
    log = w.detail.job_log.toPlainText()
    assert f"result: {CU} ResultCode 2 (succeeded), HRESULT 0x00000000" in log
    assert "Lost contact with win01" in log and "restarted while the Windows Update installation" in log

    # -- roll it back from History: wusa through the SYSTEM task ---------------------------------------
    qtbot.mouseClick(w.detail.rollback_button, Qt.MouseButton.LeftButton)
    rdlg = w.active_dialog
    assert isinstance(rdlg, RollbackDialog)
    assert rdlg.tree.topLevelItem(0).text(0) == CU
    qtbot.mouseClick(rdlg.rollback_button, Qt.MouseButton.LeftButton)
    rollback = w.active_job
    assert rollback is not job and w.job_panel.what == "Rollback"
    qtbot.waitUntil(lambda: _idle(w) and rollback.done.is_set(), timeout=TIMEOUT_MS)
    assert fake.uninstalls == [CU] and CU not in fake.installed_kbs
    assert jm.data(jm.index(0, JOB_COL_VERIFY)) in ("✔ green", "▲ amber")
    w.inventory.select_host(host.id)
    assert w.detail.select_job(job.job_id)
    assert w.detail.selected_entry().rolled_back_by == rollback.job_id
