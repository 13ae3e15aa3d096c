"""The Windows Update adapter's payloads (names travel as data) and what it makes of a scan."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from app.platforms.windows.scripts import script_ops, script_params
from app.platforms.windows.wua import SEARCH_ATTEMPTS, install_payload, scan_index, scan_payload
from app.platforms.windows.wua_parse import (
    DRIVER_CRITERIA,
    SOFTWARE_CRITERIA,
    WuaScan,
)

NOW = datetime(2024, 1, 10, 9, 0, tzinfo=UTC)


def test_scripts_carry_untrusted_values_as_data() -> None:
    script = install_payload(["9f3d2f2c-6b0c-4b8e-9c55-2a3b1d6e7f01"], ["KB1'; calc; '"], all_software=False)
    assert "calc" not in script  # base64 JSON, never spliced
    assert script_ops(script) == ["wua-install"]
    assert script_params(script) == [
        {
            "ids": ["9f3d2f2c-6b0c-4b8e-9c55-2a3b1d6e7f01"],
            "kbs": ["KB1'; calc; '"],
            "all": False,
            "searchAttempts": SEARCH_ATTEMPTS,
            "searchPause": 30,
        }
    ]
    scan = scan_payload()
    assert script_params(scan) == [{"software": SOFTWARE_CRITERIA, "driver": DRIVER_CRITERIA}]
    assert SOFTWARE_CRITERIA == "IsInstalled=0 and Type='Software' and IsHidden=0 and BrowseOnly=0"
    assert "Microsoft.Update.Session" in scan and "InstallationBehavior.RebootBehavior" in scan


def test_wrong_hresults_the_scripts_report_the_innermost_exception() -> None:
    """#18 item 8: ``$_.Exception.HResult`` is the MethodInvocationException's 0x80131501; the scan and
    install scripts walk to the innermost exception (the COMException with WUA's code)."""
    for script in (scan_payload(), install_payload([], [], all_software=True)):
        assert "function Get-PatchdeskInnermost" in script
        assert "$_.Exception.HResult" not in script
        assert "Get-PatchdeskInnermost $_" in script


def test_install_search_fails_soft_into_a_bounded_retry() -> None:
    """#18 item 4: a failing Search() in the install script is tried again, a bounded number of times
    with a growing pause, and then reported with its HRESULT (not thrown as a bare failure)."""
    script = install_payload([], [], all_software=True)
    assert re.search(r"for \(\$try = 1; \$try -le \$attempts; \$try\+\+\)", script)
    assert "Start-Sleep -Seconds ([int]$P.searchPause * $try)" in script
    assert "SearchFailed = $true" in script and "SearchAttempts = $attempts" in script
    assert 1 < SEARCH_ATTEMPTS <= 5


def test_all_skips_optional_updates_and_drivers() -> None:
    """#18 item 9: "install everything" is what the scan lists: no BrowseOnly previews, no drivers."""
    script = install_payload([], [], all_software=True)
    assert "if ($P.all) { $pick = ($u.Type -ne 2) -and (-not $u.BrowseOnly) }" in script
    assert "BrowseOnly = [bool]$u.BrowseOnly" in scan_payload()
    assert "CategoryIDs = @($u.Categories | ForEach-Object { [string]$_.CategoryID })" in scan_payload()


def test_online_search_is_as_fresh_as_the_search() -> None:
    searched = NOW - timedelta(minutes=2)
    # Automatic Updates' own last search is older: it does not age a search we just ran
    index = scan_index(
        WuaScan(online=True, searched=searched, last_search_success=NOW - timedelta(days=9)), NOW
    )
    assert index.measured and index.updated == searched and index.notes == ()
    # a host clock ahead of ours is not "fresher than now"
    ahead = scan_index(WuaScan(online=True, searched=NOW + timedelta(hours=3)), NOW)
    assert ahead.updated == NOW


def test_offline_search_is_incomplete_and_dated_by_the_last_online_search() -> None:
    last = NOW - timedelta(days=3)
    index = scan_index(WuaScan(online=False, searched=NOW, last_search_success=last), NOW)
    assert index.measured and index.updated == last
    assert index.notes and "offline" in index.notes[0]


def test_search_without_any_time_says_the_age_is_not_known() -> None:
    index = scan_index(WuaScan(online=True), NOW)
    assert not index.measured and "Index age not known for Windows Update" in index.notes[0]
