"""Reading the reboot-pending and uninstall-check scripts' answers (issue 18, items 5 and 10)."""

from __future__ import annotations

import json

import pytest

from app.domain.errors import AdapterError
from app.platforms.windows.wua_parse import parse_reboot


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
