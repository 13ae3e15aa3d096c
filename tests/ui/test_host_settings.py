"""The host dialog's change settings and "Test connection"; tags in the inventory (issue #20 item 1)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt

from app.domain.models import Host, RebootPolicy, TransportKind
from app.services import audit
from db import hosts as db_hosts
from tests.support.wsman_server import start_fake_windows
from ui.dialogs.host_dialog import HostDialog
from ui.main_window import MainWindow
from ui.models.hosts_model import COL_GROUP, COL_NAME


def test_change_settings_load_save_and_audit(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    h = db_hosts.add_host(
        db,
        Host(name="web1", address="127.0.9.1", tags=("dmz",), services=("nginx",), pre_command="true"),
    )
    dlg = HostDialog(db, host=h)
    qtbot.addWidget(dlg)
    box = dlg.change_box
    assert box.tags_edit.text() == "dmz" and box.services_edit.text() == "nginx"
    assert box.pre_edit.text() == "true" and box.reboot_combo.currentData() == "if-needed"
    box.tags_edit.setText("dmz, linux")
    box.services_edit.setText("nginx, postgresql@15-main")
    box.reboot_combo.setCurrentIndex(box.reboot_combo.findData("never"))
    box.pre_edit.setText("")
    box.post_edit.setText("systemctl start app")
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    saved = db_hosts.get_host(db, h.id)
    assert saved.tags == ("dmz", "linux") and saved.services == ("nginx", "postgresql@15-main")
    assert saved.reboot_policy == RebootPolicy.NEVER
    assert saved.pre_command is None and saved.post_command == "systemctl start app"
    [entry] = [e for e in audit.entries(db) if e.action == "host.edited"]
    assert entry.details["changed"] == ["post_command", "pre_command", "reboot_policy", "services", "tags"]


def test_a_bad_service_name_is_an_inline_sentence(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    dlg = HostDialog(db)
    qtbot.addWidget(dlg)
    dlg.show()
    dlg.name_edit.setText("web1")
    dlg.address_edit.setText("127.0.9.1")
    dlg.change_box.services_edit.setText("nginx; rm -rf /")
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    assert dlg.isVisible() and "service name" in dlg.error_label.text()
    assert db_hosts.host_count(db) == 0


def test_tags_show_in_the_inventory_and_filter_it(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    db_hosts.add_host(db, Host(name="web1", address="127.0.9.1", group="web", tags=("dmz", "linux")))
    db_hosts.add_host(db, Host(name="db1", address="127.0.9.2", group="db"))
    w = MainWindow(db, runner=None, secrets=None)
    qtbot.addWidget(w)
    model = w.inventory.model
    rows = {model.data(model.index(r, COL_NAME)): r for r in range(model.rowCount())}
    assert model.data(model.index(rows["web1"], COL_GROUP)) == "web · dmz, linux"
    assert "Tags: dmz, linux" in model.data(model.index(rows["web1"], COL_GROUP), Qt.ItemDataRole.ToolTipRole)
    model.set_filter_text("DMZ")
    assert [model.data(model.index(r, COL_NAME)) for r in range(model.rowCount())] == ["web1"]


def test_test_connection_reports_what_it_found_and_stores_nothing(qtbot, db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    server, _fake = start_fake_windows(tls_dir=tmp_path / "pki", password="Passw0rd!")
    try:
        dlg = HostDialog(db)
        qtbot.addWidget(dlg)
        dlg.show()
        dlg.name_edit.setText("win1")
        dlg.address_edit.setText("127.0.0.1")
        dlg.transport_combo.setCurrentIndex(dlg.transport_combo.findData(TransportKind.WINRM.value))
        dlg.port_edit.setText(str(server.port))
        dlg.user_edit.setText("Administrator")
        dlg.winrm_auth_combo.setCurrentIndex(dlg.winrm_auth_combo.findData("basic"))
        dlg.ca_edit.setText(str(server.ca_path))
        dlg.password_edit.setText("wrong")
        qtbot.mouseClick(dlg.tester.button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not dlg.tester.running, timeout=30000)
        assert dlg.tester.last is not None and not dlg.tester.last.ok
        assert dlg.tester.result_label.text().startswith("✖")
        dlg.password_edit.setText("Passw0rd!")
        qtbot.mouseClick(dlg.tester.button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: not dlg.tester.running, timeout=30000)
        assert dlg.tester.last is not None and dlg.tester.last.ok, dlg.tester.last
        assert "Windows" in dlg.tester.result_label.text()
        assert db_hosts.host_count(db) == 0 and not audit.entries(db)  # a test saves nothing
    finally:
        server.stop()
