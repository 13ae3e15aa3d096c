"""Rollback and the reboot flags of a (scripted) Windows host through the real pywinrm client (issue 18,
items 5 and 10): what FakeWindows plays is in tests/support/wsman_server.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.domain.errors import AdapterError
from app.platforms.windows.wua import WindowsUpdateAdapter
from tests.integration.test_windows_patching import PASSWORD, connect
from tests.support.wsman_server import FakeWindows, WSManServer, start_fake_windows


@pytest.fixture
def win(tmp_path: Path) -> Iterator[tuple[WSManServer, FakeWindows]]:
    server, fake = start_fake_windows(tls_dir=tmp_path / "pki", password=PASSWORD)
    fake.task_step = 0.1
    yield server, fake
    server.stop()


def test_reboot_pending_gaps_read_from_the_host(win: tuple[WSManServer, FakeWindows]) -> None:
    server, fake = win
    adapter = WindowsUpdateAdapter("win-srv01", poll_interval=0.1)
    with connect(server) as t:
        assert adapter.reboot_required(t) == (False, ())
        fake.reboot_signals = {"PendingFileRenameOperations": True, "PendingFileRenameOperations2": True}
        assert adapter.reboot_required(t) == (False, ())  # a hint, not a reason
        fake.reboot_signals = {"SystemInfoRebootRequired": True, "PendingFileRenameOperations": True}
        assert adapter.reboot_required(t) == (True, ("Windows Update Agent", "pending file renames"))
        fake.reboot_signals = {"ConfigMgrRebootPending": True, "PendingDomainJoin": True}
        assert adapter.reboot_required(t) == (True, ("Configuration Manager client", "pending domain join"))
        fake.reboot_signals = {"UpdateExeVolatile": True, "PendingComputerRename": True}
        assert adapter.reboot_required(t) == (
            True,
            ("update installer (UpdateExeVolatile)", "pending computer rename"),
        )
        fake.reboot_signals = {
            "SystemInfoRebootRequired": None,
            "Errors": ["Microsoft.Update.SystemInfo: Access is denied. (0x80070005)"],
        }
        with pytest.raises(AdapterError, match="Access is denied"):
            adapter.reboot_required(t)
