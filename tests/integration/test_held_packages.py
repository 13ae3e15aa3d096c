"""A package the host holds back (apt-mark hold) is never skipped silently, on real hosts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.test_patch_cli import by_name, run_json, scanned

pytestmark = pytest.mark.hosts


def version(h: object, name: str) -> str:
    """The installed version whatever dpkg's selection (TestHost.installed_version wants "ii", a held
    package is "hi")."""
    return str(h.check(f"dpkg-query -W -f '${{Version}}' {name}"))  # type: ignore[attr-defined]


def test_held_package_is_named_and_installed_only_when_asked(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    h.check("apt-mark hold pd-regular")
    scanned(db_path, [h], host_pool.client_key)

    code, scan, err = run_json(db_path, "scan", h.name)
    assert code == 0, err
    pending = {p["name"]: p for p in by_name(scan)[h.name]["pending"]}
    assert pending["pd-regular"]["held"] is True and "apt-mark hold" in pending["pd-regular"]["held_reason"]
    assert pending["pd-regular"]["available"] == "2.1-1"
    assert pending["pd-secfix"]["held"] is False

    # the preview names it
    code, plan, err = run_json(db_path, "patch", h.name, "--packages", "pd-regular,pd-secfix", "--dry-run")
    assert code == 0, err
    entry = by_name(plan)[h.name]
    assert entry["held"] == ["pd-regular"]
    assert [c["name"] for c in entry["plan"]] == ["pd-secfix"]

    # the patch leaves it and says so
    code, report, err = run_json(
        db_path, "patch", h.name, "--packages", "pd-regular,pd-secfix", "--reboot", "never", "--no-verify"
    )
    assert code == 0, (err, report)
    entry = by_name(report)[h.name]
    assert entry["held"] == ["pd-regular"]
    assert [c["name"] for c in entry["changes"]] == ["pd-secfix"]
    assert version(h, "pd-regular") == "2.0-1" and h.installed_version("pd-secfix") == "1.0-2"
    from db import joblogs
    from db.database import open_database

    db = open_database(db_path)
    lines = [row.text for row in joblogs.search(db, joblogs.LogQuery(job_id=report["job"]))]
    assert any("Held on the host, will not be installed: pd-regular" in m for m in lines), lines

    # asked for explicitly, it is installed, and the audit log records the choice
    code, report, err = run_json(
        db_path,
        "patch",
        h.name,
        "--packages",
        "pd-regular",
        "--include-held",
        "--reboot",
        "never",
        "--no-verify",
    )
    assert code == 0, (err, report)
    entry = by_name(report)[h.name]
    assert entry["held"] == [] and [c["name"] for c in entry["changes"]] == ["pd-regular"]
    assert version(h, "pd-regular") == "2.1-1"
    from db import audit as db_audit

    started = db_audit.entries(db, action="patch.started")
    assert started and started[0].details.get("include_held") is True
    assert "include_held" not in started[-1].details


def test_pinned_package_is_listed_held_and_installed_only_when_asked(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A pin below the candidate hid the update from the scan altogether (apt's candidate is the pinned
    version): the host looked up to date for that package."""
    h = hosts[0]
    pin = "Package: pd-regular\\nPin: version 2.0-1\\nPin-Priority: 1001\\n"
    h.check(f"printf '{pin}' > /etc/apt/preferences.d/pd")
    scanned(db_path, [h], host_pool.client_key)

    code, scan, err = run_json(db_path, "scan", h.name)
    assert code == 0, err
    pending = {p["name"]: p for p in by_name(scan)[h.name]["pending"]}
    assert pending["pd-regular"]["held"] is True and "pinned" in pending["pd-regular"]["held_reason"]
    assert (pending["pd-regular"]["installed"], pending["pd-regular"]["available"]) == ("2.0-1", "2.1-1")
    assert pending["pd-secfix"]["held"] is False

    code, report, err = run_json(
        db_path, "patch", h.name, "--packages", "pd-regular,pd-secfix", "--reboot", "never", "--no-verify"
    )
    assert code == 0, (err, report)
    entry = by_name(report)[h.name]
    assert entry["held"] == ["pd-regular"] and [c["name"] for c in entry["changes"]] == ["pd-secfix"]
    assert version(h, "pd-regular") == "2.0-1"

    code, report, err = run_json(
        db_path,
        "patch",
        h.name,
        "--packages",
        "pd-regular",
        "--include-held",
        "--reboot",
        "never",
        "--no-verify",
    )
    assert code == 0, (err, report)
    entry = by_name(report)[h.name]
    assert [(c["name"], c["to"]) for c in entry["changes"]] == [("pd-regular", "2.1-1")]
    assert version(h, "pd-regular") == "2.1-1"
