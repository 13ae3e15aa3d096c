"""The SYSTEM task against the loopback WS-Management server, with FakeWindows playing the host's side
of the defects of issue #18 (numbered as there), each named in its test.

What only Windows can run (ACLs, File.Replace, Task Scheduler) is asserted on the exact PowerShell
sent; FakeWindows decides the outcome from that PowerShell the way Windows would."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.domain.errors import AdapterError, CommandTimeoutError
from app.platforms.windows import systask, winget
from app.platforms.windows.scripts import script_params
from app.transports.winrm import WinRMTransport
from tests.support.powershell import grammar_problems
from tests.support.wsman_server import FakeWindows, WSManServer, fake_windows, winrm_to

PASSWORD = "Task-Pa55-word"
USER_SID = "S-1-5-21-1004336348-1177238915-682003330-1001"


@pytest.fixture
def win(tmp_path: Path) -> Iterator[tuple[WSManServer, FakeWindows]]:
    with fake_windows(tmp_path, PASSWORD, task_step=0.3) as (server, fake):
        fake.reboot_seconds = 0.2
        yield server, fake


def connect(server: WSManServer) -> WinRMTransport:
    return winrm_to(server, PASSWORD, name="win1")


def run(server: WSManServer, *, timeout: float = 20.0) -> systask.TaskOutcome:
    with connect(server) as t:
        return systask.run_system_task(
            t, winget.scan_script(), what="the winget scan", host="win1", timeout=timeout, poll_interval=0.1
        )


def _start_params(server: WSManServer) -> dict[str, object]:
    (start,) = server.scripts("task-start")
    return script_params(start)[0]


# -- 2. a non-administrator can take over the SYSTEM task's folder -----------------------------------------


def test_tasks_folder_planted_by_a_user_is_refused(win: tuple[WSManServer, FakeWindows]) -> None:
    server, fake = win
    tasks = "C:\\ProgramData\\Patchdesk\\tasks"
    fake.planted_folders = ((tasks, USER_SID, "DESKTOP-7\\bob", False),)
    with pytest.raises(AdapterError) as err:
        run(server)
    assert str(err.value) == (
        "Could not start the winget scan as a scheduled task on win1: C:\\ProgramData\\Patchdesk\\tasks is "
        "owned by DESKTOP-7\\bob, not by SYSTEM or Administrators; Patchdesk will not run a SYSTEM task from "
        "it. An administrator should delete it."
    )
    # nothing was written where bob could change it, and nothing was registered to run as SYSTEM
    assert fake.tasks == {} and not [k for k in fake.files if k.endswith("run.ps1")]


def test_junction_planted_as_the_task_folder_is_refused(win: tuple[WSManServer, FakeWindows]) -> None:
    server, fake = win
    fake.planted_folders = (("C:\\ProgramData\\Patchdesk", USER_SID, "DESKTOP-7\\bob", True),)
    with pytest.raises(AdapterError, match=r"Patchdesk is a junction or symbolic link; Patchdesk will not"):
        run(server)
    assert fake.tasks == {}


def test_every_level_of_the_task_folder_is_checked_before_anything_is_written() -> None:
    """The PowerShell that decides it (run only by Windows): owner and reparse point of every level,
    the ACL reset recursively with inheritance cut, checked again, and only then run.ps1."""
    start = systask.start_script("0123456789abcdef", winget.scan_script())
    assert grammar_problems(start) == []
    for piece in (
        "if ($item.Attributes -band [System.IO.FileAttributes]::ReparsePoint) {",
        "$owner = (Get-Acl -LiteralPath $path).GetOwner([System.Security.Principal.SecurityIdentifier])",
        "if ($PatchdeskOwners -notcontains $owner.Value) {",
        "$acl.SetAccessRuleProtection($true, $false)",
        "  Assert-PatchdeskSafe $root\n  Protect-PatchdeskRoot $root\n  Reset-PatchdeskTree $root\n",
        "    Assert-PatchdeskSafe $child.FullName\n",
        "foreach ($level in @($tasks, $dir)) { Assert-PatchdeskSafe $level; Assert-PatchdeskAcl $level }",
    ):
        assert piece in start
    assert start.index("Assert-PatchdeskAcl $level }") < start.index("WriteAllBytes($script")
    # what this run creates is owned by Administrators, so a run by another administrator accepts it
    mine = "foreach ($mine in @($tasks, $dir, $script)) { Reset-PatchdeskEntry (Get-Item -LiteralPath $mine"
    assert mine in start
    # a refusal is the script's own sentence in its JSON answer, not a PowerShell error dump
    assert (
        "ConvertTo-Json -Compress -InputObject @{ started = $false; error = $_.Exception.Message }" in start
    )


# -- 4. left-behind tasks re-run an install at a later boot ----------------------------------------------


def test_left_behind_task_does_not_run_again_at_a_later_boot(win: tuple[WSManServer, FakeWindows]) -> None:
    server, fake = win
    fake.task_step = 2.0  # still running when the console stops waiting
    with pytest.raises(CommandTimeoutError) as err:
        run(server, timeout=0.5)
    assert str(err.value) == (
        "The winget scan on win1 did not finish within 0.5 s; a run in progress there is left to finish, but "
        "the task will not start again (\\Patchdesk\\Patchdesk-"
        f"{_start_params(server)['id']} is disabled)."
    )
    assert len(server.scripts("task-disarm")) == 1
    fake.boot_with_startup_tasks()  # the run in progress dies with the restart
    assert fake.startup_runs == []


def test_left_behind_task_has_an_expiry_a_delayed_trigger_and_a_network_condition() -> None:
    start = systask.start_script("0123456789abcdef", winget.scan_script(), limit=4200)
    assert "$trigger.Delay = 'PT2M'" in start and "-RunOnlyIfNetworkAvailable" in start
    assert "$trigger.EndBoundary = (Get-Date).AddSeconds([int]$P.limit).ToString('s')" in start
    run_ps = base64.b64decode(str(script_params(start)[0]["script"])).decode("utf-8")
    assert grammar_problems(run_ps) == []
    expiry = "[System.IO.File]::GetCreationTimeUtc((Join-Path $PatchdeskDir 'run.ps1')).AddSeconds(4200)"
    assert expiry in run_ps
    # the expiry is checked before the payload can start
    assert run_ps.index("-gt $PatchdeskExpires") < run_ps.index("# patchdesk:winget-scan")


# -- 7. status.json rewrites are not atomic and fail while the console reads ---------------------------------


def test_status_read_while_written_does_not_turn_success_into_failure(
    win: tuple[WSManServer, FakeWindows],
) -> None:
    server, fake = win
    fake.status_read_while_written = True
    outcome = run(server)
    assert outcome.ok, outcome.error
    assert outcome.result == {"unavailable": True}
    (poll, *_) = server.scripts("task-poll")
    assert "[System.IO.FileShare]'ReadWrite, Delete'" in poll and "ReadAllText" not in poll


def test_status_write_retries_while_another_reader_holds_the_file(
    win: tuple[WSManServer, FakeWindows],
) -> None:
    server, fake = win
    fake.status_held_by_others = 2  # an antivirus scanner opens the file at the first two writes
    outcome = run(server)
    assert outcome.ok, outcome.error
    run_ps = base64.b64decode(str(_start_params(server)["script"])).decode("utf-8")
    assert "[System.IO.File]::Replace($tmp, $PatchdeskStatus, $null)" in run_ps
    assert "Move-Item" not in run_ps


# -- 8. the wrapper reports its own HRESULT, not the COM error's ------------------------------------------


def test_wrapper_reports_the_innermost_exceptions_hresult(win: tuple[WSManServer, FakeWindows]) -> None:
    server, fake = win
    fake.payload_throws = 0x8024402C  # WU_E_PT_WINHTTP_NAME_NOT_RESOLVED, wrapped by PowerShell
    outcome = run(server)
    assert outcome.state == "failed" and outcome.hresult == "0x8024402C"


# -- 12. Group Policy AllSigned defeats -ExecutionPolicy Bypass for -File run.ps1 --------------------------


def test_allsigned_group_policy_does_not_stop_the_task(win: tuple[WSManServer, FakeWindows]) -> None:
    server, fake = win
    fake.group_policy_execution_policy = "AllSigned"
    outcome = run(server)
    assert outcome.ok and outcome.result == {"unavailable": True}
    (start,) = server.scripts("task-start")
    assert '-File "' not in start
    assert "-NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand ' + $P.bootstrap" in start


def test_task_bootstrap_runs_run_ps1_as_a_script_block() -> None:
    boot = base64.b64decode(systask.bootstrap_command("0123456789abcdef")).decode("utf-16-le")
    assert grammar_problems(boot) == [] and script_params(boot) == [{"id": "0123456789abcdef"}]
    assert "$PatchdeskDir = Join-Path $env:ProgramData ('Patchdesk\\tasks\\' + $P.id)" in boot
    assert (
        ". ([ScriptBlock]::Create([System.IO.File]::ReadAllText((Join-Path $PatchdeskDir 'run.ps1'))))"
        in boot
    )
    # well inside the 32,767 characters of a Windows command line, with the rest of the arguments
    assert len(systask.bootstrap_command("0123456789abcdef")) < 4000
    assert grammar_problems(systask.disarm_script("0123456789abcdef")) == []
