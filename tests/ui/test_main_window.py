"""Main window without hosts: add a host through the dialog, see it, filter it, edit, remove."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.domain.errors import SecretStoreError
from app.domain.models import Host, HostStatus
from app.services import audit
from db import hosts as db_hosts
from tests.ui.helpers import when_modal
from ui.dialogs.host_dialog import HostDialog
from ui.main_window import MainWindow
from ui.models.host_status import STATUS_COLOURS
from ui.models.hosts_model import COL_IMPORTANT, COL_NAME, COL_STATUS, COL_URGENT


class FakeSecrets:
    """Stands in for app.secrets.SecretStore where no keyring can run; records what was stored."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.stored: dict[str, str] = {}

    def backend_name(self) -> str:
        return "fake"

    def status(self) -> tuple[bool, str]:
        return (not self.fail, "fake keyring")

    def new_ref(self, kind: str, host_name: str) -> str:
        return f"patchdesk:{kind}:{host_name}"

    def set(self, ref: str, secret: str) -> None:
        if self.fail:
            raise SecretStoreError("The keyring is locked; unlock it and try again.")
        self.stored[ref] = secret

    def get(self, ref: str) -> str | None:
        return self.stored.get(ref)

    def delete(self, ref: str) -> None:
        self.stored.pop(ref, None)


def _names(window: MainWindow) -> list[str]:
    model = window.inventory.model
    return [model.data(model.index(r, COL_NAME)) for r in range(model.rowCount())]


def _window(qtbot, db, secrets=None) -> MainWindow:
    w = MainWindow(db, runner=None, secrets=secrets)
    qtbot.addWidget(w)
    w.show()
    return w


def test_add_host_through_dialog_then_filter(qtbot, db):
    db_hosts.add_host(db, Host(name="db01", address="127.0.9.9", group="databases"))
    w = _window(qtbot, db)
    assert _names(w) == ["db01"]

    w.add_action.trigger()
    dlg = w.active_dialog
    assert isinstance(dlg, HostDialog)
    dlg.name_edit.setText("web01")
    dlg.address_edit.setText("127.0.9.5")
    dlg.port_edit.setText("2222")
    dlg.user_edit.setText("admin")
    dlg.group_combo.setCurrentText("web")
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.active_dialog is None)

    assert _names(w) == ["db01", "web01"]
    saved = db_hosts.find_host(db, "web01")
    assert saved is not None and saved.port == 2222 and saved.user == "admin" and saved.group == "web"
    assert saved.credential_ref is None
    assert [(e.action, e.target) for e in audit.entries(db)] == [("host.added", "web01")]
    # the new host is selected and shown in the detail pane
    assert w.detail.host is not None and w.detail.host.name == "web01"

    w.inventory.filter_edit.setText("WEB")  # case-insensitive, matches name and group
    assert _names(w) == ["web01"]
    w.inventory.filter_edit.setText("127.0.9.9")
    assert _names(w) == ["db01"]
    w.inventory.filter_edit.setText("databases")
    assert _names(w) == ["db01"]
    w.inventory.filter_edit.setText("nothing-like-this")
    assert _names(w) == []
    assert "0 of 2" in w.inventory.count_label.text()
    w.inventory.filter_edit.clear()
    assert len(_names(w)) == 2


def test_invalid_host_shows_sentence_inline_and_keeps_dialog(qtbot, db):
    w = _window(qtbot, db)
    w.add_action.trigger()
    dlg = w.active_dialog
    dlg.name_edit.setText("bad")
    dlg.address_edit.setText("has space")
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    assert dlg.isVisible()
    assert dlg.error_label.isVisible()
    assert "not a host name or an IP address" in dlg.error_label.text()
    dlg.address_edit.setText("127.1.1.1")
    dlg.port_edit.setText("99999")
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    assert "between 1 and 65535" in dlg.error_label.text()
    assert db_hosts.host_count(db) == 0


def test_duplicate_name_is_a_sentence(qtbot, db):
    db_hosts.add_host(db, Host(name="web01", address="127.0.9.5"))
    w = _window(qtbot, db)
    w.add_action.trigger()
    dlg = w.active_dialog
    dlg.name_edit.setText("WEB01")
    dlg.address_edit.setText("127.0.9.6")
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    assert "already exists" in dlg.error_label.text()


def test_passwords_go_to_the_keyring_only(qtbot, db):
    secrets = FakeSecrets()
    w = _window(qtbot, db, secrets)
    w.add_action.trigger()
    dlg = w.active_dialog
    dlg.name_edit.setText("app01")
    dlg.address_edit.setText("127.0.9.7")
    dlg.password_edit.setText("s3cret")
    dlg.sudo_password_edit.setText("sud0")
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.active_dialog is None)
    host = db_hosts.find_host(db, "app01")
    assert host.credential_ref == "patchdesk:login:app01"
    assert host.sudo_ref == "patchdesk:sudo:app01"
    assert secrets.stored == {"patchdesk:login:app01": "s3cret", "patchdesk:sudo:app01": "sud0"}
    # the secret itself is nowhere in the database file
    assert not any("s3cret" in str(v) for row in db.query("SELECT * FROM hosts") for v in row.values())


def test_keyring_failure_keeps_fields_and_offers_saving_without(qtbot, db):
    w = _window(qtbot, db, FakeSecrets(fail=True))
    w.add_action.trigger()
    dlg = w.active_dialog
    dlg.name_edit.setText("app02")
    dlg.address_edit.setText("127.0.9.8")
    dlg.user_edit.setText("ops")
    dlg.password_edit.setText("pw")
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.save_without_button.isVisible())
    assert "keyring is locked" in dlg.error_label.text()
    assert "Traceback" not in dlg.error_label.text()
    assert dlg.isVisible() and dlg.user_edit.text() == "ops" and dlg.password_edit.text() == "pw"
    assert db_hosts.host_count(db) == 0
    qtbot.mouseClick(dlg.save_without_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.active_dialog is None)
    host = db_hosts.find_host(db, "app02")
    assert host is not None and host.credential_ref is None and host.user == "ops"


def test_edit_and_remove(qtbot, db):
    h = db_hosts.add_host(db, Host(name="old", address="127.0.9.1"))
    w = _window(qtbot, db)
    w.inventory.select_host(h.id)
    assert w.edit_action.isEnabled()
    w.edit_action.trigger()
    dlg = w.active_dialog
    assert dlg.name_edit.text() == "old"
    dlg.name_edit.setText("new")
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.active_dialog is None)
    assert _names(w) == ["new"]

    w.inventory.select_host(h.id)
    seen = when_modal(QMessageBox, lambda box: box.buttons()[0].click())
    w.remove_action.trigger()
    assert seen
    assert _names(w) == []
    assert db_hosts.host_count(db) == 0
    # each action is audited once, by the inventory service (not again by the window)
    assert [(e.action, e.target, e.details.get("changed")) for e in reversed(audit.entries(db))] == [
        ("host.edited", "new", ["name"]),
        ("host.removed", "new", None),
    ]


def test_status_colours_counts_and_numeric_sort(qtbot, db):
    from db import scans as db_scans

    a = db_hosts.add_host(db, Host(name="a", address="127.0.9.1"))
    b = db_hosts.add_host(db, Host(name="b", address="127.0.9.2"))
    c = db_hosts.add_host(db, Host(name="c", address="127.0.9.3"))
    db.execute("UPDATE hosts SET last_status='ok', pending_important=10 WHERE id=?", [a.id])
    db.execute("UPDATE hosts SET last_status='ok', pending_important=9, pending_urgent=1 WHERE id=?", [b.id])
    db_scans.record_scan_failure(
        db, c.id, None, HostStatus.UNREACHABLE, "Connection refused by 127.0.9.3:22."
    )
    w = _window(qtbot, db)
    model = w.inventory.model
    w.inventory.table.sortByColumn(COL_IMPORTANT, Qt.SortOrder.DescendingOrder)
    assert _names(w)[:2] == ["a", "b"]  # 10 before 9: numeric, not text order
    w.inventory.table.sortByColumn(COL_IMPORTANT, Qt.SortOrder.AscendingOrder)
    assert _names(w)[-2:] == ["b", "a"]
    row_c = model.row_of(c.id)
    status = model.index(row_c, COL_STATUS)
    assert model.data(status) == "unreachable"
    assert (
        model.data(status, Qt.ItemDataRole.BackgroundRole).color()
        == STATUS_COLOURS[HostStatus.UNREACHABLE][1]
    )
    assert "refused" in model.data(status, Qt.ItemDataRole.ToolTipRole)
    assert model.data(model.index(row_c, COL_URGENT)) == "0"
    # a scan-style update changes one row without a reset
    resets = []
    model.modelReset.connect(lambda: resets.append(1))
    changed = []
    model.dataChanged.connect(lambda tl, br, roles=(): changed.append(tl.row()))
    model.update_hosts([replace(model.host_by_id(a.id), pending_urgent=3)])
    assert changed == [model.row_of(a.id)] and not resets
    assert model.rowCount() == 3


def test_unusable_real_keyring_is_a_sentence(qtbot, db):
    """The real SecretStore with keyring's fail backend (set by tests/conftest.py): no traceback."""
    from app.secrets import SecretStore

    w = _window(qtbot, db, SecretStore())
    w.add_action.trigger()
    dlg = w.active_dialog
    dlg.name_edit.setText("app03")
    dlg.address_edit.setText("127.0.9.9")
    dlg.sudo_password_edit.setText("pw")
    qtbot.mouseClick(dlg.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dlg.save_without_button.isVisible())
    text = dlg.error_label.text()
    assert text and "Traceback" not in text and "keyring" in text.lower()
    assert db_hosts.host_count(db) == 0
    qtbot.waitUntil(lambda: w.keyring_label.text() == "Saved passwords: unavailable")
