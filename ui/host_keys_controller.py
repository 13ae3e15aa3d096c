"""Host keys met by a job: offer to trust them, one dialog at a time, then rescan those hosts.

The console's scans never accept an SSH host key on their own. When a job ends with hosts whose key
is unknown (first contact) or has changed, a dialog is queued for them; a key the user trusts is
stored and audited, and its host is scanned again once no dialog and no job is left.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QDialog

from app.domain.models import Host
from app.jobs.engine import JobHandle
from app.services import inventory

if TYPE_CHECKING:
    from ui.dialogs.host_key_dialog import KeyOffer
    from ui.main_window import MainWindow

logger = logging.getLogger(__name__)


class HostKeyOffers(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.win = window
        self._key_queue: list[Callable[[], QDialog]] = []
        self._rescan: dict[int, Host] = {}

    def offer(self, handle: JobHandle) -> None:
        """Queue a dialog for the unknown and changed host keys of the job that just ended."""
        from ui.dialogs.host_key_dialog import KeyOffer

        unknown: list[KeyOffer] = []
        changed: list[KeyOffer] = []
        for outcome in handle.outcomes.values():
            kind = outcome.details.get("kind")
            if kind not in ("host-key-unknown", "host-key-changed"):
                continue
            d = outcome.details
            offer = KeyOffer(
                host=self.win.fresh_host(outcome.host.id) or outcome.host,
                keytype=str(d.get("keytype", "")),
                key_b64=str(d.get("key_b64", "")),
                fingerprint=str(d.get("fingerprint", "")),
                old_fingerprint=d.get("old_fingerprint"),
            )
            (unknown if kind == "host-key-unknown" else changed).append(offer)
        if unknown:
            unknown.sort(key=lambda o: o.host.name.casefold())
            self._key_queue.append(lambda: self._first_contact_dialog(unknown))
        for offer in changed:
            self._key_queue.append(lambda offer=offer: self._changed_key_dialog(offer))
        self._next_key_dialog()

    def _next_key_dialog(self) -> None:
        win = self.win
        if win.active_dialog is not None and win.active_dialog.isVisible():
            return
        if self._key_queue:
            make = self._key_queue.pop(0)
            dlg = make()
            dlg.finished.connect(lambda _r: QTimer.singleShot(0, self._next_key_dialog))
            return
        if self._rescan and not win.job_panel.is_running():
            hosts = [win.fresh_host(hid) or h for hid, h in self._rescan.items()]
            self._rescan = {}
            win.job_control.start_scan(hosts)

    def _first_contact_dialog(self, offers: list[KeyOffer]) -> QDialog:
        from ui.dialogs.host_key_dialog import FirstContactDialog

        db = self.win.db
        dlg = FirstContactDialog(offers, self.win)

        def trust() -> None:
            for o in offers:
                inventory.trust_host_key(db, o.host.name, o.host_key(), o.fingerprint)
                assert o.host.id is not None
                self._rescan[o.host.id] = o.host
            logger.info("trusted first-contact host keys of %s", ", ".join(o.host.name for o in offers))

        return self.win.open_dialog(dlg, trust)

    def _changed_key_dialog(self, offer: KeyOffer) -> QDialog:
        from ui.dialogs.host_key_dialog import ChangedKeyDialog

        db = self.win.db
        dlg = ChangedKeyDialog(offer, self.win)

        def accept_new() -> None:
            inventory.trust_host_key(
                db,
                offer.host.name,
                offer.host_key(),
                offer.fingerprint,
                changed=True,
                old_fingerprint=offer.old_fingerprint,
            )
            assert offer.host.id is not None
            self._rescan[offer.host.id] = offer.host
            logger.warning(
                "accepted a changed host key for %s: %s -> %s",
                offer.host.name,
                offer.old_fingerprint,
                offer.fingerprint,
            )

        return self.win.open_dialog(dlg, accept_new)
