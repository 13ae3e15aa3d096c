"""Scan, install, snapshot and roll back a (scripted) Windows host through the real pywinrm client.

The loopback WS-Management server (tests/support/wsman_server.py) speaks the real protocol over real
TLS; what the scripts *do* on "Windows" is played by FakeWindows, which recognises each script by its
``# patchdesk:<op>`` marker. The scheduled-task flow -- status file written step by step, a dropped
connection while polling, a restart of the host in the middle of the installation, the task running
again from its at-startup trigger -- is exercised end to end through the adapter's own polling loop.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.domain.errors import AdapterError
from app.domain.models import PackageChange, UpdateKind
from app.platforms.registry import detect, extra_adapters
from app.platforms.windows.chocolatey import ChocolateyAdapter
from app.platforms.windows.facts import gather_windows_facts
from app.platforms.windows.scripts import script_params
from app.platforms.windows.winget import WinGetAdapter
from app.platforms.windows.wua import WindowsUpdateAdapter
from app.transports.winrm import WinRMTransport
from tests.support.wsman_server import FakeWindows, Reply, WSManServer, fake_windows, winrm_to

PASSWORD = "Win-Integration-Pa55"

CU = "KB5034129"
NET = "KB5033914"
DRIVER_ID = "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c09"


@pytest.fixture
def win(tmp_path: Path) -> Iterator[tuple[WSManServer, FakeWindows]]:
    with fake_windows(tmp_path, PASSWORD, task_step=0.2) as (server, fake):
        yield server, fake


def connect(server: WSManServer) -> WinRMTransport:
    return winrm_to(server, PASSWORD, name="win-srv01")


class Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __call__(self, level: str, text: str) -> None:
        self.lines.append((level, text))

    def text(self) -> str:
        return "\n".join(f"{lv}: {t}" for lv, t in self.lines)


def test_facts_and_detection(win: tuple[WSManServer, FakeWindows]) -> None:
    server, _fake = win
    with connect(server) as t:
        facts, managers = gather_windows_facts(t)
    assert facts.id == "windows" and facts.name == "Microsoft Windows Server 2022 Standard"
    assert facts.kernel == "20348.2227" and facts.hostname == "WIN-SRV01"
    assert managers == {"wua", "choco"}
    adapter = detect(facts, managers, host="win-srv01")
    assert isinstance(adapter, WindowsUpdateAdapter)
    assert [a.name for a in extra_adapters("windows", managers)] == ["choco"]


def test_scan_install_restart_snapshot_rollback(
    win: tuple[WSManServer, FakeWindows], caplog: pytest.LogCaptureFixture
) -> None:
    server, fake = win
    caplog.set_level(logging.DEBUG)
    adapter = WindowsUpdateAdapter("win-srv01", poll_interval=0.2)
    log = Log()
    with connect(server) as t:
        # -- scan (through the SYSTEM task)
        pending = adapter.scan(t, log=log)
        by_name = {u.name: u for u in pending}
        assert set(by_name) == {CU, NET, "KB2267602", "KB890830", DRIVER_ID}
        assert by_name[CU].kind == UpdateKind.SECURITY and by_name[CU].severity == "Critical"
        assert by_name[CU].cves == ("CVE-2024-20674", "CVE-2024-20700") and by_name[CU].reboot_expected
        assert by_name[DRIVER_ID].kind == UpdateKind.DRIVER
        assert by_name["KB2267602"].kind == UpdateKind.BUGFIX and by_name["KB2267602"].severity is None
        scan_scripts = server.scripts("task-start")
        assert scan_scripts, "the scan must run as a scheduled task"
        assert fake.tasks == {}  # the task was deleted after its result was read
        assert adapter.reboot_required(t) == (False, ())

        # -- plan and snapshot before
        plan = adapter.plan(t, [CU, NET])
        assert [c.name for c in plan.changes] == [CU, NET] and plan.reboot_expected
        before = adapter.snapshot(t, [CU, NET])
        assert before == {CU: None, NET: None}

        # -- install: a dropped connection while polling, then the host restarts mid-install
        orig_poll = fake.op_task_poll
        polls: list[int] = []

        def poll(call: Any, p: dict[str, Any]) -> Any:
            polls.append(1)
            if len(polls) == 2:
                server.drop_next(3)
            return orig_poll(call, p)

        fake.op_task_poll = poll  # type: ignore[method-assign]
        fake.reboot_during_install = True
        fake.reboot_seconds = 1.0
        adapter.install(t, [CU, NET], log=log)
        text = log.text()
        assert "Lost contact with win-srv01" in text
        assert "restarted while the Windows Update installation was running" in text
        assert "answers again" in text
        assert fake.reboots == 1
        outcome = adapter.last_install
        assert outcome is not None
        assert {r.name for r in outcome.results if r.ok} == {CU, NET}
        install_params = [p for s in server.scripts("task-start") for p in script_params(s)]
        assert install_params  # the install went through the task too
        assert adapter.reboot_required(t) == (False, ())  # the restart finished the installation

        # -- snapshot after: the change record
        after = adapter.snapshot(t, [CU, NET])
        assert after == {CU: "installed", NET: "installed"}
        changes = [
            PackageChange("wua", n, before[n], after[n], kb=n) for n in (CU, NET) if before[n] != after[n]
        ]
        assert [c.action for c in changes] == ["install", "install"]

        # -- drivers are never installed by "install everything"
        adapter.install(t, None, log=log)
        assert any(u["UpdateID"] == DRIVER_ID for u in fake.pending)
        assert {"KB2267602", "KB890830"} <= fake.installed_kbs
        assert adapter.reboot_required(t) == (
            True,
            ("Component Based Servicing", "Windows Update", "Windows Update Agent"),
        )

        # -- rollback: a permanent KB is named before anything starts
        fake.permanent_kbs.add(NET)
        with pytest.raises(
            AdapterError, match=f"Nothing was changed on win-srv01: Windows marks {NET} as permanent"
        ):
            adapter.rollback(t, changes, log=log)
        assert fake.uninstalls == []
        fake.permanent_kbs.clear()

        adapter.rollback(t, changes, log=log)
        assert fake.uninstalls == [CU, NET]
        assert adapter.snapshot(t, [CU, NET]) == {CU: None, NET: None}
        assert "needs a restart to finish removing" in log.text()
    assert PASSWORD not in caplog.text and PASSWORD not in log.text()


def test_install_failure_names_the_update_and_hresult(win: tuple[WSManServer, FakeWindows]) -> None:
    server, fake = win
    for u in fake.pending:
        if "5033914" in u["KBArticleIDs"]:
            u["_fail_hresult"] = -2145124318  # 0x80240022
    adapter = WindowsUpdateAdapter("win-srv01", poll_interval=0.2)
    with connect(server) as t:
        with pytest.raises(AdapterError, match=r"KB5033914: failed \(HRESULT 0x80240022\)"):
            adapter.install(t, [CU, NET])
    assert adapter.last_install is not None
    assert [r.name for r in adapter.last_install.results if r.ok] == [CU]


def test_rollback_refuses_changes_without_kb(win: tuple[WSManServer, FakeWindows]) -> None:
    server, fake = win
    adapter = WindowsUpdateAdapter("win-srv01", poll_interval=0.2)
    with connect(server) as t:
        with pytest.raises(AdapterError, match="no KB number"):
            adapter.rollback(t, [PackageChange("wua", DRIVER_ID, None, "installed")])
    assert fake.uninstalls == [] and server.scripts("task-start") == []


def test_chocolatey_scan_upgrade_snapshot(win: tuple[WSManServer, FakeWindows]) -> None:
    server, fake = win
    choco = ChocolateyAdapter("win-srv01")
    log = Log()
    with connect(server) as t:
        pending = choco.scan(t, log=log)
        assert [(u.name, u.installed, u.available) for u in pending] == [
            ("git", "2.43.0", "2.44.0"),
            ("7zip", "23.1.0", "24.1.0"),
            ("notepadplusplus", "8.6.1", "8.6.4"),
        ]
        assert choco.index_state(t).measured  # every enabled source answered
        fake.choco_noise = ("bad|id|x",)
        assert len(choco.scan(t, log=log)) == 3
        assert "Could not understand Chocolatey line" in log.text()
        assert not choco.index_state(t).measured
        fake.choco_noise = ()
        plan = choco.plan(t, ["git", "notepadplusplus"])
        assert [c.name for c in plan.changes] == ["git"] and "pinned" in plan.warnings[0]
        assert choco.snapshot(t, ["git", "nope"]) == {"git": "2.43.0", "nope": None}
        fake.choco_upgrade_exit = 3010
        choco.install(t, ["git"], log=log)
        assert choco.reboot_required(t) == (True, ())
        assert choco.snapshot(t, ["git"]) == {"git": "2.44.0"}
        upgrade = server.scripts("choco-upgrade")[-1]
        assert script_params(upgrade)[0] == {"id": "git", "version": "2.44.0", "downgrade": False}
        fake.choco_upgrade_exit = 350
        with pytest.raises(AdapterError, match="pending restart"):
            choco.install(t, ["7zip"])


def test_winget_unavailable_is_a_plain_message(win: tuple[WSManServer, FakeWindows]) -> None:
    server, fake = win
    log = Log()
    with connect(server) as t:
        assert WinGetAdapter("win-srv01", poll_interval=0.2).scan(t, log=log) == []
        assert "Microsoft.WinGet.Client" in log.text() and "skipped" in log.text()
        fake.winget_available = True
        names = [u.name for u in WinGetAdapter("win-srv01", poll_interval=0.2).scan(t)]
        plan = WinGetAdapter("win-srv01", poll_interval=0.2).plan(t, ["mozilla.firefox", "Nope.Nothing"])
    assert names == ["Microsoft.PowerShell", "Mozilla.Firefox"]
    assert [(c.manager, c.name) for c in plan.changes] == [("winget", "Mozilla.Firefox")]
    assert plan.warnings == ("Not pending in winget on this host: nope.nothing",)


WSUS_NAME_NOT_RESOLVED = -2145107924  # 0x8024402C


def test_failed_windows_update_search_is_not_fully_patched(win: tuple[WSManServer, FakeWindows]) -> None:
    """#18 item 1: the software search throws (WSUS 0x8024402C). The scan fails with that HRESULT; it
    is never an empty pending list."""
    server, fake = win
    fake.wua_search_error = ("software", WSUS_NAME_NOT_RESOLVED)
    adapter = WindowsUpdateAdapter("win-srv01", poll_interval=0.2)
    with connect(server) as t:
        with pytest.raises(AdapterError, match=r"HRESULT 0x8024402C: the update server's name could not"):
            adapter.scan(t)
        assert adapter.last_scan is None
        fake.wua_search_error = None
        fake.wua_result_codes = {"software": 5}
        with pytest.raises(AdapterError, match=r"result code 5 \(aborted\)"):
            adapter.scan(t)
        # succeeded with errors: the updates are kept, the scan is incomplete
        fake.wua_result_codes = {"software": 3}
        assert {u.name for u in adapter.scan(t)} >= {CU, NET}
        assert adapter.last_scan_notes and "succeeded with errors" in adapter.last_scan_notes[0]
        # a driver search that fails leaves the software updates and a note
        fake.wua_result_codes = {}
        fake.wua_search_error = ("driver", WSUS_NAME_NOT_RESOLVED)
        names = {u.name for u in adapter.scan(t)}
        assert CU in names and DRIVER_ID not in names
        assert "driver search failed, HRESULT 0x8024402C" in adapter.last_scan_notes[0]
        assert adapter.index_state(t).measured


def test_optional_updates_are_neither_listed_nor_installed_by_all(
    win: tuple[WSManServer, FakeWindows],
) -> None:
    """#18 item 9: BrowseOnly=0 in the search; the preview cumulative update (KB5034284) stays out."""
    server, fake = win
    adapter = WindowsUpdateAdapter("win-srv01", poll_interval=0.2)
    with connect(server) as t:
        assert "KB5034284" not in {u.name for u in adapter.scan(t)}
        adapter.install(t, None)
    assert "KB5034284" not in fake.installed_kbs and {"KB5034129", "KB5033914"} <= fake.installed_kbs


def test_install_search_failure_retries_then_reports_the_hresult(
    win: tuple[WSManServer, FakeWindows],
) -> None:
    """#18 item 4: a search that fails for a moment is retried inside the task; one that keeps failing
    ends as "nothing was installed" with the innermost HRESULT, not a bare "failed"."""
    server, fake = win
    adapter = WindowsUpdateAdapter("win-srv01", poll_interval=0.2)
    with connect(server) as t:
        fake.wua_install_search_failures = 3
        with pytest.raises(AdapterError, match=r"Nothing was installed.*failed 3 time\(s\).*0x8024402C"):
            adapter.install(t, [CU])
        assert CU not in fake.installed_kbs
        fake.wua_install_search_failures = 2  # fewer than the tries: the retry gets through
        adapter.install(t, [CU])
    assert CU in fake.installed_kbs


def test_chocolatey_unreachable_source_is_not_nothing_outdated(win: tuple[WSManServer, FakeWindows]) -> None:
    """#17 item 1/7: the community source does not answer; choco warns, lists nothing and exits 0.
    The scan names the source and cannot vouch for anything (incomplete)."""
    server, fake = win
    fake.choco_unreachable = frozenset({"chocolatey"})
    choco = ChocolateyAdapter("win-srv01")
    log = Log()
    with connect(server) as t:
        assert choco.scan(t, log=log) == []
        index = choco.index_state(t)
    assert not index.measured
    assert index.notes == (
        "Chocolatey source chocolatey did not answer on win-srv01; updates from it are missing.",
    )
    assert "did not answer" in log.text()


def test_chocolatey_missing_tool_fails_the_scan(win: tuple[WSManServer, FakeWindows]) -> None:
    server, fake = win
    fake.choco_installed = False
    with connect(server) as t, pytest.raises(AdapterError, match=r"choco outdated did not run .*choco.exe"):
        ChocolateyAdapter("win-srv01").scan(t)


def test_winget_stale_source_is_refreshed_or_incomplete(win: tuple[WSManServer, FakeWindows]) -> None:
    """#17 item 1: the winget source is days old; the scan refreshes it (winget source update) and is
    fresh after; when the refresh fails the scan says so and is incomplete."""
    server, fake = win
    fake.winget_available = True
    with connect(server) as t:
        adapter = WinGetAdapter("win-srv01", poll_interval=0.2)
        assert adapter.index_state(t).measured is False  # before any scan: not known
        adapter.scan(t)
        index = adapter.index_state(t)
        assert index.measured and index.updated is not None
        assert (dt.datetime.now(dt.UTC) - index.updated).total_seconds() < 120
        fake.winget_source_updated = "2024-01-01T06:00:00Z"
        fake.winget_refresh_exit = -1978335217  # 0x8A15000F, the source data is missing
        log = Log()
        adapter.scan(t, log=log)
        index = adapter.index_state(t)
    assert not index.measured
    assert "winget source winget could not be refreshed on win-srv01" in index.notes[0]
    assert "could not be refreshed" in log.text()


def test_winget_result_answer_is_not_nothing_pending(win: tuple[WSManServer, FakeWindows]) -> None:
    """An answer without the package list (truncated, or not the script's) fails the scan; a host
    whose winget module is missing is skipped but incomplete."""
    server, fake = win
    with connect(server) as t:
        adapter = WinGetAdapter("win-srv01", poll_interval=0.2)
        assert adapter.scan(t) == []
        assert not adapter.index_state(t).measured
        assert "Microsoft.WinGet.Client" in adapter.index_state(t).notes[0]
        fake.winget_available = True
        fake.winget_result = {"pack": "truncated"}
        with pytest.raises(AdapterError, match="returned no readable result"):
            adapter.scan(t)


def test_snapshot_that_could_not_read_the_inventory_fails(win: tuple[WSManServer, FakeWindows]) -> None:
    """The history query threw on the host: the snapshot fails with the HRESULT instead of reading
    every KB as "not installed" (which would make a change record out of nothing)."""
    server, fake = win
    broken = {
        "hotfixes": [],
        "history": [],
        "errors": ["the Windows Update history: 0x80240438 no connection"],
    }
    fake.on(
        lambda c: c.script.startswith("# patchdesk:wua-installed"), Reply(stdout=json.dumps(broken).encode())
    )
    with (
        connect(server) as t,
        pytest.raises(AdapterError, match=r"installed updates of win-srv01.*0x80240438"),
    ):
        WindowsUpdateAdapter("win-srv01", poll_interval=0.2).snapshot(t, [CU])


def test_an_event_logged_earlier_in_the_same_second_is_not_new(
    win: tuple[WSManServer, FakeWindows],
) -> None:
    """The event-log window starts at the host's clock to the millisecond: an error logged before the
    start, in the same second, counted as new when the start went to Get-WinEvent in whole seconds."""
    from app.platforms.windows.health import probe_windows_health

    server, fake = win
    second = float(int(time.time()) - 10)
    fake.add_event("The Print Spooler service terminated unexpectedly.", when=second + 0.2)
    fake.add_event("The Print Spooler service failed again.", when=second + 0.9)
    with connect(server) as t:
        errors = probe_windows_health(t, since=second + 0.7).journal_errors
    assert errors is not None
    assert [e for e in errors if "Spooler" in e] == [e for e in errors if "failed again" in e] and any(
        "failed again" in e for e in errors
    ), errors
