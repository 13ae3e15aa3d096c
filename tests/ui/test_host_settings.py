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
    # a host that sets no reboot policy shows the default that applies (the standard rule's)
    assert box.pre_edit.text() == "true" and box.reboot_combo.currentData() == ""
    assert box.reboot_combo.currentText() == "Default: if the update needs it"
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


# -- every setting through hosts edit, hosts list --json and the dialog (issue #20 items 1 and 6) -------


def _cli(db_path: Path, *argv: str) -> tuple[int, str]:
    import io

    from app.cli.main import parse, run

    out = io.StringIO()
    code = run(parse(["--db", str(db_path), *argv]), out)
    return code, out.getvalue()


def _listed(db_path: Path, name: str) -> dict[str, object]:
    import json

    code, text = _cli(db_path, "hosts", "list", "--json")
    assert code == 0
    return next(h for h in json.loads(text)["hosts"] if h["name"] == name)


def test_every_setting_round_trips_through_cli_json_and_dialog(
    qtbot, db, db_path: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    key = tmp_path / "id_ed25519"
    key.write_text("not really a key\n")
    check = "dpkg-query -W -f='${Version}' pd-regular | grep -qx 2.0-1"
    db_hosts.add_host(db, Host(name="web1", address="127.0.9.1"))
    code, text = _cli(
        db_path, "hosts", "edit", "web1", "--address", "web1.example.invalid", "--port", "2222",
        "--user", "admin", "--key", str(key), "--group", "web", "--ring", "test",
        "--criticality", "mission-critical", "--tags", "dmz,linux", "--reboot-policy", "never",
        "--pre-command", "systemctl stop app", "--post-command", "systemctl start app",
        "--services", "nginx", "--check-command", check, "--auto-rollback", "off", "--no-sudo",
    )  # fmt: skip
    assert code == 0, text
    h = db_hosts.find_host(db, "web1")
    assert h is not None
    dlg = HostDialog(db, host=h)
    qtbot.addWidget(dlg)
    box = dlg.change_box
    # the dialog shows what the CLI stored
    assert dlg.address_edit.text() == "web1.example.invalid" and dlg.port_edit.text() == "2222"
    assert dlg.user_edit.text() == "admin" and dlg.key_edit.text() == str(key)
    assert dlg.group_combo.currentText() == "web" and dlg.ring_combo.currentData() == "test"
    assert dlg.criticality_combo.currentData() == "mission-critical" and not dlg.sudo_check.isChecked()
    assert box.tags_edit.text() == "dmz, linux" and box.reboot_combo.currentData() == "never"
    assert box.pre_edit.text() == "systemctl stop app" and box.post_edit.text() == "systemctl start app"
    assert box.services_edit.text() == "nginx" and box.check_edit.text() == check
    assert box.rollback_combo.currentData() == "off"
    # the "Default" entries name what applies when the host sets nothing: the mission-critical rule
    assert box.rollback_combo.itemText(0) == "Default: roll back at once when verification is red"
    # changed in the dialog, read back through the CLI's JSON
    box.check_edit.setText("curl -fs http://localhost/health")
    box.rollback_combo.setCurrentIndex(box.rollback_combo.findData("on-red"))
    box.reboot_combo.setCurrentIndex(0)  # back to the default
    box.services_edit.setText("nginx, postgresql@15-main")
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    j = _listed(db_path, "web1")
    assert j["check_command"] == "curl -fs http://localhost/health" and j["auto_rollback"] == "on-red"
    assert j["reboot_policy"] is None and j["services"] == ["nginx", "postgresql@15-main"]
    assert j["effective"]["reboot_policy"] == "if-needed"  # type: ignore[index]
    assert j["tags"] == ["dmz", "linux"] and j["pre_command"] == "systemctl stop app"
    assert j["use_sudo"] is False and j["port"] == 2222 and j["criticality"] == "mission-critical"
    entry = max((e for e in audit.entries(db) if e.action == "host.edited"), key=lambda e: e.id)
    assert entry.details["changed"] == ["auto_rollback", "check_command", "reboot_policy", "services"]
    # and cleared from the dialog
    dlg = HostDialog(db, host=db_hosts.find_host(db, "web1"))
    qtbot.addWidget(dlg)
    dlg.change_box.check_edit.setText("")
    dlg.change_box.rollback_combo.setCurrentIndex(0)
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    j = _listed(db_path, "web1")
    assert j["check_command"] is None and j["auto_rollback"] is None
    assert j["effective"]["auto_rollback"] == "on-red"  # type: ignore[index]


def test_criticality_rules_show_in_the_schedule_tab_and_edit_audited(qtbot, db) -> None:  # type: ignore[no-untyped-def]
    from app.domain.models import Criticality
    from db import host_policy as db_host_policy
    from ui.views.criticality_panel import CRITICALITIES, FIELDS
    from ui.views.schedule_view import ScheduleView

    view = ScheduleView(db)
    qtbot.addWidget(view)
    panel = view.criticality_panel
    assert view.tabs.tabText(view.tabs.indexOf(panel)) == "Criticality rules"
    col = CRITICALITIES.index(Criticality.MISSION_CRITICAL)
    row = FIELDS.index("auto_rollback")
    assert panel.table.item(row, col).text() == "on-red"
    panel.table.item(row, col).setText("off")  # as an edit in place does
    assert db_host_policy.criticality_rules(db)[Criticality.MISSION_CRITICAL].auto_rollback == "off"
    assert [e.action for e in audit.entries(db)] == ["policy.criticality"]
    panel.table.item(row, col).setText("sometimes")
    assert panel.error_label.isVisibleTo(panel) and "auto_rollback takes" in panel.error_label.text()
    assert panel.table.item(row, col).text() == "off"  # the stored value again
    panel.table.setCurrentCell(row, col)
    qtbot.mouseClick(panel.reset_button, Qt.MouseButton.LeftButton)
    assert panel.table.item(row, col).text() == "on-red"
