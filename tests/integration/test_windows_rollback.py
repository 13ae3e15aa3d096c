"""Rollback and the reboot flags of a (scripted) Windows host through the real pywinrm client (issue 18,
items 5 and 10): what FakeWindows plays is in tests/support/wsman_server.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.domain.errors import AdapterError
from app.domain.models import PackageChange
from app.platforms.windows.wua import WindowsUpdateAdapter
from tests.integration.test_windows_patching import CU, NET, PASSWORD, connect
from tests.support.wsman_server import FakeWindows, WSManServer, fake_windows

SSU = "Package_for_ServicingStack_2220~31bf3856ad364e35~amd64~~20348.2220.1.3"
LCU = "Package_for_RollupFix~31bf3856ad364e35~amd64~~20348.2227.1.7"
NET_CBS = "Package_for_KB5033914~31bf3856ad364e35~amd64~~4.8.9221.1"


@pytest.fixture
def win(tmp_path: Path) -> Iterator[tuple[WSManServer, FakeWindows]]:
    with fake_windows(tmp_path, PASSWORD, task_step=0.1) as (server, fake):
        yield server, fake


def _installed(adapter: WindowsUpdateAdapter, server: WSManServer) -> list[PackageChange]:
    with connect(server) as t:
        adapter.install(t, [NET, CU])
    # NET first: the permanent one comes after an update that would already be gone
    return [PackageChange("wua", n, None, "installed", kb=n) for n in (NET, CU)]


def test_rollback_can_stop_halfway_a_non_removable_update_blocks_everything_up_front(
    win: tuple[WSManServer, FakeWindows],
) -> None:
    server, fake = win
    adapter = WindowsUpdateAdapter("win-srv01", poll_interval=0.1)
    changes = _installed(adapter, server)
    # WUA says CU is not uninstallable, and the CBS package its KB matches is the permanent servicing stack
    fake.permanent_kbs.add(CU)
    fake.add_cbs_package(CU, SSU, permanent=True)
    with connect(server) as t:
        with pytest.raises(AdapterError, match=f"Nothing was changed on win-srv01: .*{CU}.*permanent"):
            adapter.rollback(t, changes)
    assert fake.uninstalls == []  # NET was not removed before CU failed: nothing started
    assert {NET, CU} <= fake.installed_kbs


def test_rollback_can_stop_halfway_removable_cbs_packages_go_to_dism(
    win: tuple[WSManServer, FakeWindows],
) -> None:
    server, fake = win
    adapter = WindowsUpdateAdapter("win-srv01", poll_interval=0.1)
    changes = _installed(adapter, server)
    # a combined SSU+LCU: WUA says no, but its LCU part is a removable CBS package
    fake.permanent_kbs.add(CU)
    fake.add_cbs_package(CU, LCU, permanent=False)
    # an update WUA can uninstall, with a CBS package: DISM rather than wusa /uninstall /quiet
    fake.add_cbs_package(NET, NET_CBS, permanent=False)
    with connect(server) as t:
        adapter.rollback(t, changes)
    assert fake.removal_methods == ((NET, "dism"), (CU, "dism"))
    assert not ({NET, CU} & fake.installed_kbs)


def test_rollback_can_stop_halfway_unknown_permanence_is_blocked(
    win: tuple[WSManServer, FakeWindows],
) -> None:
    server, fake = win
    adapter = WindowsUpdateAdapter("win-srv01", poll_interval=0.1)
    changes = _installed(adapter, server)
    fake.cbs_packages = {CU: (LCU, None)}  # type: ignore[dict-item]  # the .mum could not be read
    with connect(server) as t:
        with pytest.raises(AdapterError, match=f"Nothing was changed on win-srv01: .*{CU}"):
            adapter.rollback(t, changes)
    assert fake.uninstalls == []


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
