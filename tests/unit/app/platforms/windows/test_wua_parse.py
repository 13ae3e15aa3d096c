"""Reading what the Windows Update scripts print, against Windows-format data in tests/data/windows/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.errors import AdapterError
from app.domain.models import UpdateKind
from app.platforms.windows.facts import parse_windows_facts
from app.platforms.windows.systask import parse_poll
from app.platforms.windows.wua_parse import (
    RemovalCheck,
    normalize_kb,
    parse_install,
    parse_installed,
    parse_reboot,
    parse_removal_checks,
    parse_removals,
    parse_scan,
    parse_update,
    split_names,
)

WSUS_NAME_NOT_RESOLVED = -2145107924  # 0x8024402C as the script's [int] prints it

DATA = Path(__file__).resolve().parents[4] / "data" / "windows"


def load(name: str) -> object:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def test_scan_maps_severity_kind_and_ids() -> None:
    scan = parse_scan(load("wua_scan_result.json"))
    assert scan.warnings == ()
    pending = {u.name: u.to_pending() for u in scan.updates}
    cu = pending["KB5034129"]
    assert cu.kind == UpdateKind.SECURITY and cu.security and cu.severity == "Critical"
    assert cu.advisories == ("KB5034129",) and cu.reboot_expected and cu.installed is None
    assert cu.available.startswith("2024-01 Cumulative Update")
    assert pending["KB5033914"].severity == "Important"
    defender = pending["KB2267602"]
    assert defender.kind == UpdateKind.BUGFIX and not defender.security and not defender.reboot_expected
    driver = pending["5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c09"]
    assert driver.kind == UpdateKind.DRIVER
    # the device it applies to (#24 item 3)
    assert driver.source == "device: Intel Corporation Intel(R) Ethernet Connection I219-LM (Net)"
    assert [u.uninstallable for u in scan.updates] == [True, True, False, False, False, True]
    assert scan.failure is None and scan.notes == () and scan.online


def test_powershell51_scalars_and_hostile_records() -> None:
    scan = parse_scan(load("wua_scan_ps51_scalars_crafted.json"))
    assert len(scan.updates) == 2
    first, second = scan.updates
    assert first.kbs == ("KB5000001",) and first.severity == "Moderate" and first.cves == ("CVE-2021-1234",)
    assert (
        first.bulletins == ("MS17-010",) and first.categories == ("Security Updates",) and first.revision == 3
    )
    assert first.size == 1_500_000_000
    assert second.kbs == ("KB777777",)  # "12; rm -rf" and the object are not KB numbers
    assert second.severity is None and second.cves == () and second.size == 0
    assert second.uninstallable is False  # the string "true" is not JSON true
    assert second.is_driver
    assert second.device == ""  # no driver fields: no device named
    assert any("could not be read" in n for n in scan.notes)  # unreadable records: incomplete
    assert "one warning as a scalar" in scan.warnings


def test_install_results_with_hresult() -> None:
    status = load("status_install_done.json")
    assert isinstance(status, dict)
    out = parse_install(status["result"])
    assert out.reboot_required and out.result_code == 3
    described = [r.describe() for r in out.results]
    assert described == [
        "KB5034129: succeeded",
        "KB5033914: failed (HRESULT 0x80240022)",
        "KB5031364: already installed",
        "KB9999999: not offered by Windows Update on this host",
    ]
    assert [r.ok for r in out.results] == [True, False, True, False]


def test_installed_inventory_follows_history_order() -> None:
    inv = parse_installed(load("installed_inventory.json"))
    assert inv.has("KB5031364") and inv.has("kb5012170") and inv.has("2267602")
    assert not inv.has("KB5033118")  # installed, then uninstalled
    assert not inv.has("KB1234567")  # failed install
    assert inv.has("5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c00")
    assert not inv.has("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee")


def test_reboot_flags() -> None:
    # the answer of an older script (no Errors, no new sources) still reads; file renames alone are a hint
    assert parse_reboot(
        '{"CBSRebootPending":false,"WURebootRequired":false,"PendingFileRenameOperations":true}'
    ) == (False, ())
    assert parse_reboot('{"CBSRebootPending":true,"WURebootRequired":false}') == (
        True,
        ("Component Based Servicing",),
    )
    for unreadable in ("\ufeff{}", "garbage"):  # a check that could not see is not "no reboot"
        with pytest.raises(AdapterError):
            parse_reboot(unreadable)


def test_removal_checks_choose_wusa_dism_or_refuse() -> None:
    result = {
        "checks": [
            {"KB": "KB1", "Installed": True, "IsUninstallable": True, "DismPackage": None},
            {
                "KB": "KB5034129",
                "Installed": True,
                "IsUninstallable": False,
                "DismPackage": "Package_for_RollupFix~31bf3856ad364e35~amd64~~20348.2227.1.7",
            },
            {
                "KB": "KB5033914",
                "Installed": True,
                "IsUninstallable": False,
                "DismPackage": "bad name; Remove-Item C:\\",
            },
            {"KB": "KB2267602", "Installed": False, "IsUninstallable": None, "DismPackage": None},
        ]
    }
    checks = parse_removal_checks(result, ["KB5034129", "KB5033914", "KB2267602", "KB7777777"])
    assert "KB1" not in checks  # not asked for
    assert checks["KB5034129"].method is None  # whether its CBS package is permanent is unknown
    assert checks["KB5033914"].method is None and checks["KB5033914"].dism_package is None
    assert checks["KB2267602"].method is None and not checks["KB2267602"].installed
    assert checks["KB7777777"] == RemovalCheck("KB7777777", False, None, None)
    removals = parse_removals(
        {
            "removals": [
                {"KB": "KB1234567", "Method": "wusa", "ExitCode": 3010, "RebootRequired": True},
                {"KB": "x"},
            ]
        }
    )
    assert len(removals) == 1 and removals[0].ok and removals[0].reboot_required
    assert not parse_removals({"removals": {"KB": "KB2345678", "ExitCode": 1618}})[0].ok


def test_names_and_kbs() -> None:
    assert normalize_kb("kb5034441") == "KB5034441" and normalize_kb("5034441") == "KB5034441"
    assert normalize_kb("KB5034441; calc") is None
    ids, kbs, bad = split_names(["KB1234", "1234", "9F3D2F2C-6B0C-4B8E-9C55-2A3B1D6E7F01", "$(calc)"])
    assert kbs == ["KB1234"] and ids == ["9f3d2f2c-6b0c-4b8e-9c55-2a3b1d6e7f01"] and bad == ["$(calc)"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=6)
    ),
    max_leaves=30,
)
update_like = st.fixed_dictionaries(
    {},
    optional={
        k: json_values
        for k in (
            "Title",
            "UpdateID",
            "RevisionNumber",
            "KBArticleIDs",
            "MsrcSeverity",
            "Categories",
            "CveIDs",
            "SecurityBulletinIDs",
            "RebootBehavior",
            "MaxDownloadSize",
            "IsUninstallable",
            "Type",
        )
    },
)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        json_values, st.fixed_dictionaries({"updates": st.lists(update_like | json_values, max_size=5)})
    )
)
def test_parsers_never_crash(value: object) -> None:
    scan = parse_scan(value)
    for u in scan.updates:
        u.to_pending()
    parse_update(value)
    for r in parse_install(value).results:
        r.describe()
    parse_installed(value)
    parse_removal_checks(value, ["KB1"])
    parse_removals(value)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_text_parsers_never_crash(text: str) -> None:
    try:
        parse_reboot(text)
    except AdapterError:  # the known error: the flags could not be read
        pass
    parse_poll(text)
    try:
        parse_windows_facts(text)
    except Exception as exc:  # only the known error
        assert type(exc).__name__ == "AdapterError"


def _result(software: dict[str, object], driver: dict[str, object] | None = None) -> dict[str, object]:
    scan = load("wua_scan_result.json")
    assert isinstance(scan, dict)
    ok = {"Kind": "driver", "ResultCode": 2, "HResult": 0, "Error": "", "Warnings": []}
    return {**scan, "searches": [{"Kind": "software", **software}, driver or ok]}


def test_failed_windows_update_search_is_not_fully_patched() -> None:
    """#18 item 1: a Search() that threw (WSUS 0x8024402C) fails the scan; it is never 0 pending."""
    failed = _result({"ResultCode": -1, "HResult": WSUS_NAME_NOT_RESOLVED, "Error": "Exception from HRESULT"})
    failed["updates"] = []
    scan = parse_scan(failed)
    assert scan.failure is not None
    assert "HRESULT 0x8024402C" in scan.failure and "could not be resolved" in scan.failure


def test_failed_or_aborted_software_search_fails_the_scan() -> None:
    for code, word in ((4, "failed"), (5, "aborted"), (0, "not started")):
        scan = parse_scan(_result({"ResultCode": code, "HResult": 0}))
        assert scan.failure is not None and f"result code {code} ({word})" in scan.failure


def test_search_succeeded_with_errors_is_incomplete() -> None:
    scan = parse_scan(
        _result({"ResultCode": 3, "HResult": 0, "Warnings": ["0x80244022 The request failed with HTTP 503."]})
    )
    assert scan.failure is None and len(scan.updates) == 6
    assert scan.notes and "succeeded with errors" in scan.notes[0] and "0x80244022" in scan.notes[0]


def test_failed_driver_search_leaves_the_software_but_is_incomplete() -> None:
    scan = parse_scan(
        _result(
            {"ResultCode": 2, "HResult": 0},
            {"Kind": "driver", "ResultCode": -1, "HResult": -2145124318, "Error": "boom"},
        )
    )
    assert scan.failure is None and scan.updates
    assert scan.notes == (
        "The Windows Update driver search failed, HRESULT 0x80240022 (boom); driver updates may be missing.",
    )


def test_a_result_that_does_not_say_how_the_search_ended_fails() -> None:
    """Truncated or old-format output: no search outcome, so nothing can be vouched for."""
    scan = parse_scan({"updates": [], "warnings": []})
    assert scan.failure == "The Windows Update search did not report how it ended."
    for broken in (None, "", [], "garbage", 42):
        assert parse_scan(broken).failure is not None


def test_classification_by_category_guid_not_localized_name() -> None:
    """#18 item 9: a German host names "Sicherheitsupdates"/"Upgrades" differently; the GUID decides.
    Names count only when a host sent no GUIDs (an older script)."""
    base = {
        "Title": "Funktionsupdate",
        "UpdateID": "0b9a6d3e-4c2f-4e8a-9a51-3f1e2d4c5b6a",
        "KBArticleIDs": ["5000002"],
        "Type": 1,
    }
    security = parse_update(
        {
            **base,
            "Categories": ["Sicherheitsupdates"],
            "CategoryIDs": ["0FA1201D-4330-4FA8-8AE9-B877473B6441"],
        }
    )
    upgrade = parse_update(
        {**base, "Categories": ["Aktualisierungen"], "CategoryIDs": ["3689bdc8-b205-4af4-8d4a-a63924c5e9d5"]}
    )
    # a name that says "Security Updates" does not beat a GUID that says "Updates"
    plain = parse_update(
        {**base, "Categories": ["Security Updates"], "CategoryIDs": ["cd5ffd1e-e932-4e3a-bf74-18bf0b1bbd83"]}
    )
    legacy = parse_update({**base, "Categories": ["Security Updates"]})
    assert security is not None and security.to_pending().kind == UpdateKind.SECURITY
    assert upgrade is not None and upgrade.to_pending().kind == UpdateKind.ENHANCEMENT
    assert plain is not None and plain.to_pending().kind == UpdateKind.BUGFIX
    assert legacy is not None and legacy.to_pending().kind == UpdateKind.SECURITY


def test_install_search_failure_is_read() -> None:
    out = parse_install(
        {
            "results": [],
            "ResultCode": 4,
            "HResult": WSUS_NAME_NOT_RESOLVED,
            "SearchFailed": True,
            "SearchAttempts": 3,
            "SearchError": "Exception from HRESULT: 0x8024402C",
        }
    )
    assert out.search_failed and out.search_attempts == 3 and out.hresult == WSUS_NAME_NOT_RESOLVED


def test_inventory_that_could_not_look_says_so() -> None:
    """A snapshot must not read "not installed" when the history query failed on the host."""
    assert parse_installed(load("installed_inventory.json")).errors == ()
    inv = parse_installed(
        {"hotfixes": [], "history": [], "errors": "the Windows Update history: 0x8024402C boom"}
    )
    assert inv.errors == ("the Windows Update history: 0x8024402C boom",)
    assert parse_installed(None).errors
