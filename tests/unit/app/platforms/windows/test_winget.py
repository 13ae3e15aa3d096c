"""winget (Microsoft.WinGet.Client) result parsing."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from app.platforms.windows.winget import parse_packages, parse_update_results, to_pending

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
    parse_packages(value)
    parse_update_results(value)
