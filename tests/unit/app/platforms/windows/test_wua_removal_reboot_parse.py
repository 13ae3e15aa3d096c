"""Reading the reboot-pending and uninstall-check scripts' answers (issue 18, items 5 and 10)."""

from __future__ import annotations

import json

import pytest

from app.domain.errors import AdapterError
from app.platforms.windows.wua_parse import parse_reboot, parse_removal_checks

LCU = "Package_for_RollupFix~31bf3856ad364e35~amd64~~20348.2227.1.7"
SSU = "Package_for_ServicingStack_2220~31bf3856ad364e35~amd64~~20348.2220.1.3"


def _reboot(**flags: object) -> str:
    base: dict[str, object] = {
        "CBSRebootPending": False,
        "WURebootRequired": False,
        "SystemInfoRebootRequired": False,
        "ConfigMgrRebootPending": None,
        "UpdateExeVolatile": False,
        "PendingFileRenameOperations": False,
        "PendingFileRenameOperations2": False,
        "PendingComputerRename": False,
        "PendingDomainJoin": False,
        "Errors": [],
    }
    base.update(flags)
    return json.dumps(base)


def test_reboot_pending_gaps_every_source_is_a_reason() -> None:
    assert parse_reboot(_reboot()) == (False, ())
    cases = {
        "SystemInfoRebootRequired": "Windows Update Agent",
        "ConfigMgrRebootPending": "Configuration Manager client",
        "UpdateExeVolatile": "update installer (UpdateExeVolatile)",
        "PendingComputerRename": "pending computer rename",
        "PendingDomainJoin": "pending domain join",
    }
    for flag, reason in cases.items():
        assert parse_reboot(_reboot(**{flag: True})) == (True, (reason,)), flag


def test_reboot_pending_gaps_file_renames_alone_are_a_hint_not_a_reason() -> None:
    # applications queue renames for the next boot all the time: alone they do not make "if needed" reboot
    assert parse_reboot(_reboot(PendingFileRenameOperations=True)) == (False, ())
    assert parse_reboot(_reboot(PendingFileRenameOperations2=True)) == (False, ())
    # beside a real reason they are named too
    assert parse_reboot(_reboot(CBSRebootPending=True, PendingFileRenameOperations=True)) == (
        True,
        ("Component Based Servicing", "pending file renames"),
    )


def test_reboot_pending_gaps_a_check_that_could_not_see_is_not_no_reboot() -> None:
    with pytest.raises(AdapterError, match="could not be read"):
        parse_reboot("garbage")
    with pytest.raises(AdapterError, match="could not be read"):
        parse_reboot("\ufeff{}")
    # a source that failed with nothing else pending: unknown, never "no reboot"
    with pytest.raises(AdapterError, match=r"Microsoft\.Update\.SystemInfo: access denied"):
        parse_reboot(
            _reboot(SystemInfoRebootRequired=None, Errors=["Microsoft.Update.SystemInfo: access denied"])
        )
    # ... but another source that says "pending" is enough to know
    assert parse_reboot(_reboot(CBSRebootPending=True, Errors=["ConfigMgr: timeout"])) == (
        True,
        ("Component Based Servicing",),
    )


def _check(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {
        "KB": "KB5034129",
        "Installed": True,
        "IsUninstallable": True,
        "DismPackage": None,
    }
    base.update(fields)
    return base


def test_rollback_can_stop_halfway_dism_only_for_removable_cbs_packages() -> None:
    def method(**fields: object) -> str | None:
        return parse_removal_checks({"checks": [_check(**fields)]}, ["KB5034129"])["KB5034129"].method

    # WUA says "not uninstallable" and the matching CBS package is permanent (an SSU): blocked up front
    assert method(IsUninstallable=False, DismPackage=SSU, DismPermanent=True) is None
    # the LCU part of a combined SSU+LCU: WUA says no, its CBS package is removable -> DISM
    assert method(IsUninstallable=False, DismPackage=LCU, DismPermanent=False) == "dism"
    # whether the package is permanent could not be read: blocked, never tried
    assert method(IsUninstallable=False, DismPackage=LCU) is None
    assert method(IsUninstallable=True, DismPackage=LCU, DismPermanent=None) is None
    # a removable CBS package is preferred over wusa /uninstall /quiet
    assert (
        method(
            IsUninstallable=True,
            DismPackage="Package_for_KB5034129~31bf3856ad364e35~amd64~~1.0.1.0",
            DismPermanent=False,
        )
        == "dism"
    )
    # an uninstallable update without a CBS package: wusa; a permanent one: blocked
    assert method() == "wusa"
    assert method(IsUninstallable=False) is None
    assert method(IsUninstallable=True, DismPackage=SSU, DismPermanent=True) is None
    # "true" is not JSON true
    assert method(IsUninstallable=False, DismPackage=LCU, DismPermanent="false") is None


def test_rollback_can_stop_halfway_blocked_checks_say_why() -> None:
    checks = parse_removal_checks(
        {
            "checks": [
                _check(KB="KB1111111", IsUninstallable=False, DismPackage=SSU, DismPermanent=True),
                _check(KB="KB2222222", IsUninstallable=False),
                _check(KB="KB3333333", IsUninstallable=True, DismPackage=LCU),
            ]
        },
        ["KB1111111", "KB2222222", "KB3333333"],
    )
    assert "permanent" in checks["KB1111111"].blocked_reason
    assert "cannot be uninstalled" in checks["KB2222222"].blocked_reason
    assert "could not tell" in checks["KB3333333"].blocked_reason
