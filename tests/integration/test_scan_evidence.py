"""Nothing is green that was not seen: the scan's evidence about apt's package index, on real hosts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_scan_cli import add_hosts, cli, scan_json

pytestmark = pytest.mark.hosts

EXPECTED = {"pd-secfix", "pd-regular", "pd-chain", "pd-chain-lib", "pd-chain-extra", "pd-conf", "pd-reboot"}
LISTS = "/var/lib/apt/lists"
STAMP = "/var/lib/apt/periodic/update-success-stamp"


def _entry(db_path: Path, *args: str) -> dict[str, Any]:
    code, report, err = scan_json(db_path, "--all", *args)
    assert code == 0, (err, report)
    (entry,) = report["hosts"]
    assert entry["status"] == "ok", entry
    return entry


def _recent(iso: str | None, within: timedelta = timedelta(minutes=5)) -> bool:
    return iso is not None and datetime.now(UTC) - datetime.fromisoformat(iso) < within


def test_a_fresh_index_is_complete_and_dated(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    h.check(f"touch {LISTS}/*_InRelease")
    add_hosts(db_path, [h], host_pool.client_key)
    entry = _entry(db_path)
    assert entry["complete"] is True and entry["notes"] == []
    assert _recent(entry["index_updated"])
    assert {p["name"] for p in entry["pending"]} == EXPECTED


def test_empty_lists_are_refreshed_by_the_scan_itself(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    h.check(f"rm -rf {LISTS}/* {STAMP}")
    add_hosts(db_path, [h], host_pool.client_key)  # admin: passwordless sudo, so it can refresh
    entry = _entry(db_path)
    assert {p["name"] for p in entry["pending"]} == EXPECTED  # the real pending list, not 0
    assert entry["complete"] is True and _recent(entry["index_updated"])


def test_empty_lists_without_refresh_are_incomplete_never_ok_and_empty(
    hosts, host_pool, db_path: Path
) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    h.check(f"rm -rf {LISTS}/* {STAMP}")
    add_hosts(db_path, [h], host_pool.client_key)
    entry = _entry(db_path, "--no-refresh")
    assert entry["pending"] == []
    assert entry["complete"] is False and entry["index_updated"] is None
    assert any("index on this host is empty" in n and "--refresh" in n for n in entry["notes"])
    # the inventory keeps what the scan could vouch for
    from db import hosts as db_hosts
    from db.database import open_database

    stored = db_hosts.find_host(open_database(db_path), h.name)
    assert stored is not None and stored.scan_complete is False and stored.scan_notes
    # and the table says so too
    table = cli(db_path, "scan", "--all", "--no-refresh")
    assert "incomplete" in table.stdout and "empty" in table.stdout


def test_empty_lists_and_no_sudo_are_incomplete(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    h.check(f"rm -rf {LISTS}/* {STAMP}")
    add_hosts(db_path, [h], host_pool.client_key, user="sudopw")  # sudo needs a password none gave
    entry = _entry(db_path)
    assert entry["pending"] == [] and entry["complete"] is False
    assert any("could not be refreshed" in n for n in entry["notes"]), entry["notes"]
    assert any("empty" in n for n in entry["notes"])


def test_an_old_index_with_a_missing_repository_is_incomplete_with_apts_sentence(
    hosts, host_pool, db_path: Path
) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    h.check(
        "echo 'deb [trusted=yes] file:/srv/no-such-repo bookworm main' > /etc/apt/sources.list.d/gone.list"
    )
    old = (datetime.now(UTC) - timedelta(hours=48)).strftime("%Y-%m-%d %H:%M:%S")
    h.check(f"rm -f {STAMP}; touch -d '{old} UTC' {LISTS}/*")
    add_hosts(db_path, [h], host_pool.client_key)
    entry = _entry(db_path)
    # the old index's pending list is kept, and the scan says why it cannot vouch for it
    assert {p["name"] for p in entry["pending"]} == EXPECTED
    assert entry["complete"] is False
    notes = " ".join(entry["notes"])
    assert "could not be refreshed" in notes and "no-such-repo" in notes, notes
    assert "48 h" in notes or "47 h" in notes or "49 h" in notes, notes
    # a scan with --no-refresh does not try, and is incomplete for the age alone (the failed refresh
    # still fetched the working sources again: set them back)
    h.check(f"rm -f {STAMP}; touch -d '{old} UTC' {LISTS}/*")
    entry = _entry(db_path, "--no-refresh")
    assert entry["complete"] is False and any("more than the 24 h allowed" in n for n in entry["notes"])
    # with a longer allowance the same index is young enough, but the source without lists still
    # keeps the scan from vouching for it (its updates are not known)
    r = cli(db_path, "policy", "set", "index_max_age_hours", "72")
    assert r.returncode == 0, r.stderr
    entry = _entry(db_path, "--no-refresh")
    assert entry["complete"] is False and len(entry["notes"]) == 1, entry["notes"]
    assert "no package lists" in entry["notes"][0] and "no-such-repo" in entry["notes"][0]


def test_a_source_without_lists_keeps_a_fresh_index_incomplete(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A refresh that fails for one source but updates the others made the index fresh again, so a
    configured source with no lists went unnoticed (complete, its updates unseen)."""
    h = hosts[0]
    h.check(
        "echo 'deb [trusted=yes] file:/srv/no-such-repo bookworm main' > /etc/apt/sources.list.d/gone.list"
    )
    h.check(f"touch {LISTS}/*_InRelease")  # the other sources were just refreshed
    add_hosts(db_path, [h], host_pool.client_key)
    entry = _entry(db_path, "--no-refresh")
    assert {p["name"] for p in entry["pending"]} == EXPECTED
    assert entry["complete"] is False and _recent(entry["index_updated"])
    assert any("no package lists" in n and "file:/srv/no-such-repo" in n for n in entry["notes"]), entry
    # once the source is gone from the configuration, the same lists are whole again
    h.check("rm /etc/apt/sources.list.d/gone.list")
    entry = _entry(db_path, "--no-refresh")
    assert entry["complete"] is True and entry["notes"] == []
