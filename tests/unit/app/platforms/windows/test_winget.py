"""winget (Microsoft.WinGet.Client) result parsing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from app.platforms.windows.scripts import script_params
from app.platforms.windows.winget import (
    parse_packages,
    parse_sources,
    parse_update_results,
    scan_script,
    source_index,
    to_pending,
    update_script,
)

NOW = datetime(2024, 1, 10, 9, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


def _source(updated: str | None, *, refreshed: bool = False, code: int | None = None) -> dict[str, object]:
    return {
        "Name": "winget",
        "Type": "Microsoft.PreIndexed.Package",
        "Updated": updated,
        "Refreshed": refreshed,
        "RefreshExit": code,
    }


def test_scan_sends_the_index_age_limit() -> None:
    assert script_params(scan_script(timedelta(hours=6))) == [{"maxAgeHours": 6.0, "refresh": True}]
    assert script_params(scan_script(refresh=False)) == [{"maxAgeHours": 24.0, "refresh": False}]
    assert "source update -n $name" in scan_script() and "source list -n $name" in scan_script()


def test_fresh_indexed_source_dates_the_index() -> None:
    store = {"Name": "msstore", "Type": "Microsoft.Rest", "Updated": None}
    index = source_index(parse_sources({"sources": [_source("2024-01-10T08:00:00Z"), store]}), "w", NOW, DAY)
    assert index.measured and index.updated == datetime(2024, 1, 10, 8, 0, tzinfo=UTC)


def test_stale_unknown_or_unrefreshable_source_is_incomplete() -> None:
    old = source_index(
        parse_sources({"sources": [_source("2024-01-01T06:00:00Z", refreshed=True, code=-1978335217)]}),
        "w",
        NOW,
        DAY,
    )
    assert not old.measured
    assert old.notes == (
        "winget source winget could not be refreshed on w (exit code -1978335217).",
        "winget source winget on w was last updated 219 h ago.",
    )
    never = source_index(
        parse_sources({"sources": [_source(None, refreshed=True, code=None)]}), "w", NOW, DAY
    )
    assert not never.measured and "not known" in never.notes[-1]
    assert not source_index(parse_sources({"sources": []}), "w", NOW, DAY).measured
    # an answer without a source list (an older script, a truncated result): age not known
    assert not source_index(parse_sources({"packages": []}), "w", NOW, DAY).measured


DATA = Path(__file__).resolve().parents[4] / "data" / "windows"


def test_packages() -> None:
    pkgs, unavailable = parse_packages(json.loads((DATA / "winget_scan_result.json").read_text()))
    assert not unavailable
    pending = [to_pending(p) for p in pkgs]
    assert [(u.name, u.installed, u.available) for u in pending] == [
        ("Microsoft.PowerShell", "7.4.0.0", "7.4.1.0"),
        ("Mozilla.Firefox", "121.0", "122.0"),
    ]


def test_unavailable_and_hostile() -> None:
    assert parse_packages({"unavailable": True}) == ([], True)
    pkgs, _ = parse_packages({"packages": {"Id": "A.B", "InstalledVersion": 5}})
    assert pkgs == [{"id": "A.B", "name": "", "installed": "", "available": "", "source": ""}]
    assert parse_packages({"packages": [{"Id": "bad id; calc"}]}) == ([], False)
    assert parse_update_results({"results": {"Id": "A.B", "Status": "Ok", "RebootRequired": True}})[0][
        "reboot"
    ]


@settings(max_examples=100, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda c: (
            st.lists(c, max_size=4)
            | st.dictionaries(st.sampled_from(["Id", "packages", "results", "Status", "x"]), c, max_size=4)
        ),
        max_leaves=20,
    )
)
def test_never_crash(value: object) -> None:
    source_index(parse_sources(value), "w", NOW, DAY)
    parse_packages(value)
    parse_update_results(value)


def test_wrong_hresults_winget_update_reports_the_innermost_exception() -> None:
    """#18 item 8: a failed Update-WinGetPackage reports the innermost exception's code and message."""
    script = update_script(["Git.Git"])
    assert "Get-PatchdeskInnermost $_" in script and "$_.Exception" not in script
    result = parse_update_results(
        {
            "results": [
                {"Id": "Git.Git", "Status": "Error", "Error": "No package found", "HResult": -1978335212}
            ]
        }
    )
    assert result[0]["hresult"] == -1978335212
