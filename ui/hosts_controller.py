"""Host CRUD for the main window: add, edit, remove and import hosts, with their audit records and
the clean-up of removed hosts' stored passwords.

The window's host actions all live here (the dialogs write the hosts; this records what they did),
so they can move onto an application service for the inventory in one place. The first-run
assistant's import is its own (ui/dialogs/first_run.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot

from app.domain.models import Host
from app.services import audit
from db import hosts as db_hosts
from ui.messages import confirm
from ui.workers import submit

if TYPE_CHECKING:
    from ui.dialogs.host_dialog import HostDialog
    from ui.dialogs.import_dialog import ImportDialog
    from ui.main_window import MainWindow

#: The host fields whose change an edit's audit record lists.
AUDITED_FIELDS = (
    "name",
    "address",
    "port",
    "user",
    "key_file",
    "group",
    "ring",
    "criticality",
    "use_sudo",
    "reboot_policy",
    "pre_command",
    "post_command",
    "services",
    "transport",
)


class HostsController(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.win = window

    @Slot()
    def add_host(self) -> None:
        from ui.dialogs.host_dialog import HostDialog

        win = self.win
        dlg = HostDialog(win.db, win.secrets, None, win)
        win.open_dialog(dlg, lambda: self._host_saved(dlg))

    @Slot()
    def edit_selected(self) -> None:
        host = self.win.inventory.current_host()
        if host is not None:
            self.edit_host(host)

    @Slot(object)
    def edit_host(self, host: Host) -> None:
        win = self.win
        fresh = win.fresh_host(host.id) or host
        from ui.dialogs.host_dialog import HostDialog

        dlg = HostDialog(win.db, win.secrets, fresh, win)
        win.open_dialog(dlg, lambda: self._host_saved(dlg))

    def _host_saved(self, dlg: HostDialog) -> None:
        win = self.win
        self._audit_host_saved(dlg)
        win.reload_hosts()
        win.show_inventory()
        if dlg.saved_host is not None and dlg.saved_host.id is not None:
            win.inventory.select_host(dlg.saved_host.id)
            win.statusBar().showMessage(f"Saved {dlg.saved_host.name}.", 5000)

    def _audit_host_saved(self, dlg: HostDialog) -> None:
        saved = dlg.saved_host
        if saved is None:
            return
        action = audit.HOST_ADDED if dlg.original is None else audit.HOST_EDITED
        details: dict[str, object] = {"address": saved.address, "transport": str(saved.transport)}
        if dlg.original is not None:
            before, after = dlg.original, saved
            details["changed"] = sorted(f for f in AUDITED_FIELDS if getattr(before, f) != getattr(after, f))
        audit.record(self.win.db, action, saved.name, details)
        changed = [k for k, e in (("login", dlg.password_edit), ("sudo", dlg.sudo_password_edit)) if e.text()]
        if changed and (saved.credential_ref or saved.sudo_ref):
            audit.record(self.win.db, audit.CREDENTIALS_CHANGED, saved.name, {"stored": changed})

    @Slot()
    def remove_selected(self) -> None:
        win = self.win
        hosts = win.inventory.selected_hosts()
        if not hosts:
            return
        names = ", ".join(h.name for h in hosts[:5]) + (
            f" and {len(hosts) - 5} more" if len(hosts) > 5 else ""
        )
        if not confirm(
            win,
            "Remove hosts",
            f"Remove {names} from the inventory? Their scan results, history and stored passwords "
            "are deleted.",
            "Remove",
        ):
            return
        refs = []
        for h in hosts:
            db_hosts.remove_host(win.db, h.name)
            audit.record(win.db, audit.HOST_REMOVED, h.name, {"address": h.address})
            refs += [r for r in (h.credential_ref, h.sudo_ref) if r]
        if refs and win.secrets is not None:
            store = win.secrets
            submit(
                win,
                lambda: [store.delete(r) for r in refs],
                None,
                lambda exc: win.statusBar().showMessage(f"Stored passwords were not deleted: {exc}", 10000),
            )
        win.reload_hosts()
        win.statusBar().showMessage(f"Removed {len(hosts)} host(s).", 5000)

    @Slot()
    def import_hosts(self) -> None:
        from ui.dialogs.import_dialog import ImportDialog

        dlg = ImportDialog(self.win.db, self.win)
        self.win.open_dialog(dlg, lambda: self._imported(dlg))

    def _imported(self, dlg: ImportDialog) -> None:
        if dlg.added:
            audit.record(self.win.db, audit.HOSTS_IMPORTED, "import dialog", {"added": list(dlg.added)})
        self.win.reload_hosts()
        self.win.statusBar().showMessage(f"Imported {len(dlg.added)} host(s).", 5000)
