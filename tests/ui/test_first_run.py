"""The first-run assistant (issue #8): shown once on an empty inventory, keyring check, this
workstation, imports through the import dialog, and a first scan through the main window's job path.

The start-up decision is also checked end to end through ``run_gui`` in a fresh process (app.exec()
runs once per process; see tests/ui/test_errors.py), with a real database file that outlives it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from app.domain.models import HostStatus, JobKind, JobState, StepState, TransportKind
from app.secrets import SecretStore
from app.services import audit
from db import hosts as db_hosts
from db import jobs as db_jobs
from db.database import open_database
from ui.dialogs import first_run
from ui.dialogs.first_run import FirstRunDialog, maybe_open_first_run, open_first_run
from ui.dialogs.import_dialog import ImportDialog

ROOT = Path(__file__).resolve().parents[2]

#: Starts the real composition root; after the window settled, prints the visible top-level
#: widgets, optionally finishes the assistant, and quits.
_GUI_SCRIPT = textwrap.dedent(
    """
    import sys
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from app.cli import main as cli
    from ui.app import _application, run_gui

    app = _application()
    finish = sys.argv[1] == "finish"

    def report():
        shown = [w for w in QApplication.topLevelWidgets() if w.isVisible()]
        print("VISIBLE", ",".join(sorted(type(w).__name__ for w in shown)), flush=True)
        for w in shown:
            if type(w).__name__ == "FirstRunDialog" and finish:
                w.finish()
        for w in QApplication.topLevelWidgets():
            w.close()
        QTimer.singleShot(100, app.quit)

    QTimer.singleShot(1500, report)
    sys.exit(run_gui(cli.parse(sys.argv[2:])))
    """
)


def _start_gui(db_path: Path, *args: str, finish: bool = False) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PATCHDESK_GUI_SELFTEST", first_run.SUPPRESS_ENV)}
    env["QT_QPA_PLATFORM"] = "offscreen"
    proc = subprocess.run(
        [sys.executable, "-c", _GUI_SCRIPT, "finish" if finish else "look", "--db", str(db_path), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("VISIBLE"))
    return line


def test_run_gui_shows_it_on_an_empty_database_once(tmp_path):
    path = tmp_path / "fresh.sqlite3"
    first = _start_gui(path, finish=True)
    assert "FirstRunDialog" in first and "MainWindow" in first
    # second start of the same database: finished before, so only the main window
    second = _start_gui(path)
    assert "MainWindow" in second and "FirstRunDialog" not in second
    # a scripted start can turn it off
    third = _start_gui(tmp_path / "other.sqlite3", "--no-first-run")
    assert "MainWindow" in third and "FirstRunDialog" not in third


def test_decision_flag_and_dont_show_again(qtbot, window, db, db_path, monkeypatch):
    assert first_run.should_show(db)
    dlg = maybe_open_first_run(window)
    assert isinstance(dlg, FirstRunDialog) and window.active_dialog is dlg
    qtbot.waitUntil(lambda: dlg.isVisible())
    # Close without "Don't show again": still a first start next time
    qtbot.mouseClick(dlg.close_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.active_dialog is None)
    assert first_run.should_show(db)

    dlg = maybe_open_first_run(window)
    assert dlg is not None
    dlg.dont_show.setChecked(True)
    dlg.reject()
    qtbot.waitUntil(lambda: window.active_dialog is None)
    assert not first_run.should_show(db)
    # a second start reads the flag from the database file
    again = open_database(db_path)
    try:
        assert first_run.is_done(again) and not first_run.should_show(again)
    finally:
        again.conn.close()
    assert maybe_open_first_run(window) is None

    # Help → First-run assistant… opens it anyway, with the box ticked; unticking re-arms it
    window.first_run_action.trigger()
    dlg = window.active_dialog
    assert isinstance(dlg, FirstRunDialog) and dlg.dont_show.isChecked()
    dlg.dont_show.setChecked(False)
    dlg.reject()
    qtbot.waitUntil(lambda: window.active_dialog is None)
    assert first_run.should_show(db)

    monkeypatch.setenv("PATCHDESK_GUI_SELFTEST", "1")
    assert not first_run.should_show(db)
    monkeypatch.delenv("PATCHDESK_GUI_SELFTEST")
    monkeypatch.setenv(first_run.SUPPRESS_ENV, "1")
    assert not first_run.should_show(db)


def test_walk_through_every_page_and_finish(qtbot, window, db):
    dlg = open_first_run(window)
    qtbot.waitUntil(lambda: dlg.isVisible())
    db_file, logs = first_run.data_locations(db)
    assert dlg.db_path_label.text() == db_file == str(window.dashboard.db_path)
    assert dlg.log_dir_label.text() == os.environ["PATCHDESK_LOG_DIR"] == logs
    titles = []
    for _ in range(5):
        titles.append(dlg.title.text())
        if dlg.next_button.isVisible():
            qtbot.mouseClick(dlg.next_button, Qt.MouseButton.LeftButton)
    assert titles == list(first_run.PAGE_TITLES)
    assert dlg.finish_button.isVisible() and not dlg.next_button.isVisible()
    assert "No hosts were added" in dlg.scan_intro.text() and not dlg.scan_check.isVisible()
    qtbot.mouseClick(dlg.back_button, Qt.MouseButton.LeftButton)
    assert dlg.title.text() == "Import hosts"
    qtbot.mouseClick(dlg.next_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(dlg.finish_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.active_dialog is None)
    assert first_run.is_done(db) and not first_run.should_show(db)
    assert window.active_job is None  # nothing added, nothing scanned
    assert db_jobs.list_jobs(db) == []


def test_add_this_workstation(qtbot, window, db):
    dlg = open_first_run(window)
    dlg.show_page(2)
    assert dlg.local_button.isEnabled()
    qtbot.mouseClick(dlg.local_button, Qt.MouseButton.LeftButton)
    hosts = db_hosts.list_hosts(db)
    assert len(hosts) == 1
    me = hosts[0]
    assert me.transport == TransportKind.LOCAL and me.address == "localhost"
    assert me.name == first_run.local_host_name()
    assert not dlg.local_button.isEnabled()
    assert me.name in dlg.local_status.text()
    assert window.inventory.model.rowCount() == 1  # the main window reloaded behind the assistant
    assert [e.action for e in audit.entries(db)] == [audit.HOST_ADDED]
    # opened again later, it knows the workstation is there already
    dlg.reject()
    qtbot.waitUntil(lambda: window.active_dialog is None)
    dlg = open_first_run(window)
    assert not dlg.local_button.isEnabled()
    assert f"in the inventory as {me.name}" in dlg.local_status.text()
    dlg.reject()


def _import_through(qtbot, dlg: FirstRunDialog, open_it) -> ImportDialog:  # type: ignore[no-untyped-def]
    open_it()
    imp = dlg.import_dialog
    assert isinstance(imp, ImportDialog)
    qtbot.waitUntil(lambda: imp.isVisible() and not imp.loading)
    qtbot.mouseClick(imp.import_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.import_dialog is None)
    return imp


def test_import_csv_and_ssh_config(qtbot, window, db, tmp_path, monkeypatch):
    csv_file = tmp_path / "hosts.csv"
    csv_file.write_text(
        "name,address,port,user,group\nweb01,127.0.9.1,22,admin,web\ndb01,127.0.9.3,2222,root,databases\n",
        encoding="utf-8",
    )
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(
        "Host *\n  ServerAliveInterval 30\n\n"
        "Host bastion\n  HostName 127.0.2.10\n  User ops\n\n"
        "Host app1 app2\n  ProxyJump bastion\n  Port 2200\n",
        encoding="utf-8",
    )
    dlg = open_first_run(window, ssh_config=ssh_config)
    dlg.show_page(3)
    assert dlg.ssh_button.isEnabled()

    # the CSV button asks for a file, then shows the import dialog's preview
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(csv_file), ""))
    _import_through(qtbot, dlg, lambda: qtbot.mouseClick(dlg.csv_button, Qt.MouseButton.LeftButton))
    web = db_hosts.find_host(db, "web01")
    assert web is not None and web.port == 22 and web.user == "admin" and web.group == "web"
    assert db_hosts.find_host(db, "db01").port == 2222
    assert "2 host(s)" in dlg.import_status.text()

    _import_through(qtbot, dlg, lambda: qtbot.mouseClick(dlg.ssh_button, Qt.MouseButton.LeftButton))
    names = sorted(h.name for h in db_hosts.list_hosts(db))
    assert names == ["app1", "app2", "bastion", "db01", "web01"]  # the wildcard block is no host
    app1 = db_hosts.find_host(db, "app1")
    assert app1.transport == TransportKind.SSH and app1.port == 2200
    assert sorted(h.name for h in dlg.added) == names
    assert window.inventory.model.rowCount() == 5
    imports = [e for e in audit.entries(db) if e.action == audit.HOSTS_IMPORTED]
    assert len(imports) == 2

    # importing the same file again skips every name: nothing added, nothing counted twice
    again = dlg.import_file(csv_file, "csv")
    qtbot.waitUntil(lambda: not again.loading)
    assert not again.import_button.isEnabled()
    assert any("already in the inventory" in p for p in again.problem_texts())
    again.reject()
    qtbot.waitUntil(lambda: dlg.import_dialog is None)
    assert len(dlg.added) == 5

    dlg.show_page(4)
    assert dlg.scan_check.isVisible() and dlg.scan_check.isChecked()
    assert "these 5 hosts" in dlg.scan_check.text()
    assert "host key" in dlg.scan_hint.text()
    dlg.scan_check.setChecked(False)
    qtbot.mouseClick(dlg.finish_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.active_dialog is None)
    assert window.active_job is None and db_jobs.list_jobs(db) == []  # unticked: no scan


def test_ssh_button_is_off_without_a_config(qtbot, db, tmp_path):
    dlg = FirstRunDialog(db, None, ssh_config=tmp_path / "missing")
    qtbot.addWidget(dlg)
    assert not dlg.ssh_button.isEnabled()
    assert dlg.csv_button.isEnabled() and dlg.ansible_button.isEnabled()


@pytest.fixture
def fail_keyring():  # type: ignore[no-untyped-def]
    import keyring
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(previous)


def _keyring_page(qtbot, db, secrets) -> FirstRunDialog:  # type: ignore[no-untyped-def]
    dlg = FirstRunDialog(db, secrets)
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.show_page(1)
    qtbot.waitUntil(lambda: dlg.keyring_ok is not None, timeout=10000)
    return dlg


def test_fail_keyring_is_a_warning_with_what_to_do(qtbot, db, fail_keyring):
    dlg = _keyring_page(qtbot, db, SecretStore())
    assert dlg.keyring_ok is False
    text = dlg.keyring_text()
    assert "No system keyring is available" in text
    assert "apt install gnome-keyring" in text and "KeePassXC" in text
    assert "SSH key file or the SSH agent" in text
    # plain words, not keyring's backend name (#23 item 9: "fail Keyring")
    assert dlg.keyring_status.text().startswith("No usable keyring was found")
    assert "fail keyring" not in dlg.keyring_status.text().lower()
    assert dlg.keyring_warning.isVisible()
    assert "Traceback" not in text
    # Check again asks once more (same answer here)
    dlg.keyring_ok = None
    qtbot.mouseClick(dlg.keyring_recheck, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.keyring_ok is not None, timeout=10000)
    assert dlg.keyring_ok is False


def test_no_secret_store_at_all(qtbot, db):
    dlg = _keyring_page(qtbot, db, None)
    assert dlg.keyring_ok is False and "No system keyring is available" in dlg.keyring_text()


@pytest.fixture
def secret_service(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """A real, unlocked gnome-keyring on a private D-Bus bus (tests/support/keyring_service.py)."""
    from tests.support import keyring_service

    with keyring_service.running(tmp_path / "keyring") as service:
        for key, value in service.env().items():
            monkeypatch.setenv(key, value)
        yield service


@pytest.mark.keyring_service
@pytest.mark.filterwarnings(
    r"ignore:Exception ignored in. <socket\.socket .*/keyring/run/bus>"
    ":pytest.PytestUnraisableExceptionWarning"
)
def test_real_keyring_ok_then_locked(qtbot, db, secret_service):
    from keyring.backends import SecretService

    store = SecretStore(SecretService.Keyring())
    dlg = _keyring_page(qtbot, db, store)
    assert dlg.keyring_ok is True, dlg.keyring_text()
    assert "SecretService" in dlg.keyring_status.text()
    assert not dlg.keyring_warning.isVisible()

    store.set(store.new_ref("sudo", "web01"), "before-lock")
    secret_service.lock_default_collection()  # as a screen lock or a timeout would
    dlg.keyring_ok = None
    qtbot.mouseClick(dlg.keyring_recheck, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.keyring_ok is not None, timeout=10000)
    text = dlg.keyring_text()
    assert dlg.keyring_ok is False and dlg.keyring_warning.isVisible()
    assert "locked" in text and "unlock" in text
    assert "SSH key file or the SSH agent" in text
    assert "Traceback" not in text


def test_finish_scans_this_workstation_through_the_job_path(qtbot, window, db):
    dlg = open_first_run(window)
    dlg.show_page(2)
    qtbot.mouseClick(dlg.local_button, Qt.MouseButton.LeftButton)
    me = db_hosts.list_hosts(db)[0]
    dlg.show_page(4)
    assert dlg.scan_check.isChecked() and "this host" in dlg.scan_check.text()
    qtbot.mouseClick(dlg.finish_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.active_job is not None)
    handle = window.active_job
    assert [h.id for h in handle.hosts] == [me.id]
    job = db_jobs.get_job(db, handle.job_id)
    assert job is not None and job.kind == JobKind.SCAN
    assert window.job_panel.isVisible() and window.tabs.currentWidget() is window.inventory_tab
    qtbot.waitUntil(lambda: handle.done.is_set(), timeout=180_000)
    qtbot.waitUntil(lambda: db_jobs.get_job(db, handle.job_id).state == JobState.FINISHED, timeout=30_000)
    qtbot.waitUntil(lambda: not window.job_panel.is_running(), timeout=30_000)
    steps = db_jobs.job_hosts(db, handle.job_id)
    assert [s.host_id for s in steps] == [me.id]
    step = steps[0]
    fresh = db_hosts.get_host(db, me.id)
    has_pkg_manager = any(Path(d, "dpkg").exists() or Path(d, "rpm").exists() for d in ("/usr/bin", "/bin"))
    if has_pkg_manager:
        # this machine has a package manager the local transport can query: real data at once
        assert step.state == StepState.SUCCEEDED, step.error
        assert fresh.last_status == HostStatus.OK and fresh.last_scan_at is not None
        assert fresh.managers, "the scan found no package manager"
        assert fresh.os_id  # from /etc/os-release, read through the local transport
    else:
        # no package manager here: the scan records that as a sentence, not as a crash
        assert step.state in (StepState.FAILED, StepState.SUCCEEDED)
        assert "Traceback" not in (step.error or "")


def _local_page(qtbot, db, **kw) -> FirstRunDialog:  # type: ignore[no-untyped-def]
    from ui.resources import stylesheet

    dlg = FirstRunDialog(db, None, **kw)
    dlg.setStyleSheet(stylesheet())  # as the application styles it (screenshots)
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.show_page(2)
    return dlg


def test_on_windows_this_workstation_is_offered_as_a_windows_host(qtbot, db):
    dlg = _local_page(qtbot, db, platform="win32", elevated=lambda: True)
    assert dlg.local_button.isEnabled()
    assert "as a Windows host" in dlg.local_button.text()
    page = dlg.pages.currentWidget()
    intro = page.findChildren(type(dlg.local_status))[0].text()
    assert "powershell.exe" in intro and "Windows Update" in intro and "sudo" not in intro
    assert "runs as administrator" in dlg.local_elevation_text() and not dlg.local_warning.isVisible()
    dlg.resize(1280, 800)
    dlg.grab().save("/tmp/first_run_windows_elevated.png")
    qtbot.mouseClick(dlg.local_button, Qt.MouseButton.LeftButton)
    [me] = db_hosts.list_hosts(db)
    assert me.transport == TransportKind.LOCAL and me.address == "localhost"
    assert not dlg.local_button.isEnabled() and me.name in dlg.local_status.text()
    dlg.show_page(4)
    assert "this host" in dlg.scan_check.text() and "administrator" not in dlg.scan_hint.text()


def test_on_windows_without_elevation_it_says_how_to_start_patchdesk(qtbot, db):
    dlg = _local_page(qtbot, db, platform="win32", elevated=lambda: False)
    text = dlg.local_elevation_text()
    assert "not running as administrator" in text and "Run as administrator" in text
    assert dlg.local_warning.isVisible() and not dlg.local_elevation.isVisible()
    assert dlg.local_button.isEnabled()  # it can be added now; its scan says what is missing
    dlg.resize(1280, 800)
    dlg.grab().save("/tmp/first_run_windows_not_elevated.png")
    qtbot.mouseClick(dlg.local_button, Qt.MouseButton.LeftButton)
    dlg.show_page(4)
    assert "Run as administrator" in dlg.scan_hint.text()


def test_elsewhere_this_workstation_stays_a_posix_host_without_an_elevation_line(qtbot, db):
    asked: list[int] = []
    dlg = _local_page(qtbot, db, platform="linux", elevated=lambda: asked.append(1) or True)
    assert dlg.local_button.isEnabled() and "Windows" not in dlg.local_button.text()
    assert dlg.local_elevation_text() == "" and not dlg.local_warning.isVisible() and asked == []
