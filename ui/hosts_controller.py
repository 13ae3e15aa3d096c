"""Host CRUD for the main window: add, edit, remove and import hosts, with their audit records and
the clean-up of removed hosts' stored passwords.

The window's host actions all live here; every write goes through app/services/inventory.py (the
host and import dialogs call it themselves, with their audit entries).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Slot

from app.domain.models import Host
from app.services import inventory
from ui.messages import confirm
from ui.workers import submit

if TYPE_CHECKING:
    from ui.dialogs.host_dialog import HostDialog
    from ui.dialogs.import_dialog import ImportDialog
    from ui.main_window import MainWindow


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
        win.reload_hosts()
        win.show_inventory()
        if dlg.saved_host is not None and dlg.saved_host.id is not None:
            win.inventory.select_host(dlg.saved_host.id)
            win.statusBar().showMessage(f"Saved {dlg.saved_host.name}.", 5000)

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
        refs = inventory.remove_hosts(win.db, hosts)
        if refs and win.secrets is not None:
            store = win.secrets
            submit(
                win,
                lambda: inventory.delete_secrets(store, refs),
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
        self.win.reload_hosts()
        self.win.statusBar().showMessage(f"Imported {len(dlg.added)} host(s).", 5000)
