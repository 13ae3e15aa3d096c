"""The history snippet on the real rpm test hosts over SSH: dnf's history database read with the
host's own Python, zypper's history file read through sudo -n, and a hand install found in each."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.domain.outside_changes import HistoryStatus
from app.platforms.base import new_nonce
from app.platforms.posix.history import history_command, parse_history
from tests.integration.test_dnf_hosts import RpmPool, rpm_hosts, rpm_pool, transport_for  # noqa: F401

pytestmark = pytest.mark.hosts


def _read(pool: RpmPool, h, manager: str):  # type: ignore[no-untyped-def]
    t = transport_for(pool, h)
    try:
        nonce = new_nonce()
        out = t.run(history_command(nonce), timeout=60).out
    finally:
        t.close()
    return parse_history(out, nonce, manager, datetime.now(UTC))


def _fixtures(request: pytest.FixtureRequest) -> tuple[RpmPool, list]:  # type: ignore[type-arg]
    # the dnf module's fixtures, by name: one rpm cluster per module either way
    return request.getfixturevalue("rpm_pool"), request.getfixturevalue("rpm_hosts")


def test_dnf_history_shows_a_hand_upgrade(request: pytest.FixtureRequest) -> None:
    pool, hosts = _fixtures(request)
    h = hosts[0]
    before = _read(pool, h, "dnf")
    assert before.status == HistoryStatus.OK, before.note
    r = h.run("dnf -y -q upgrade pd-regular", timeout=180)
    assert r.returncode == 0, r.stderr
    after = _read(pool, h, "dnf")
    new = [e for e in after.entries if e not in before.entries]
    assert [(e.action, e.name, e.from_version, e.to_version) for e in new] == [
        ("upgrade", "pd-regular", "2.0-1", "2.1-1")
    ]


def test_zypper_history_read_through_sudo(request: pytest.FixtureRequest) -> None:
    pool, hosts = _fixtures(request)
    h = hosts[1]
    r = h.run(
        "zypper --non-interactive --quiet install pd-regular-2.1-1 && chmod 0600 /var/log/zypp/history",
        timeout=180,
    )
    assert r.returncode == 0, r.stderr
    read = _read(pool, h, "zypper")  # as admin: the file is root's, sudo -n reads it
    assert read.status == HistoryStatus.OK, read.note
    assert ("pd-regular", "2.1-1") in [(e.name, e.to_version) for e in read.entries]


def test_dnf_patch_is_patchdesks_and_a_hand_upgrade_is_outside(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Through the console on a real dnf host: Patchdesk's patch (dnf's own transaction) is matched to
    its job; an upgrade made by hand with dnf is listed as outside."""
    import json

    from tests.integration.test_scan_cli import add_hosts, cli

    pool, hosts = _fixtures(request)
    h = hosts[0]
    db_path = tmp_path / "pd.sqlite3"
    add_hosts(db_path, [h], pool.client_key)
    assert cli(db_path, "scan", h.name, "--json").returncode == 0
    r = cli(db_path, "patch", h.name, "--packages", "pd-secfix", "--reboot", "never", "--json")
    assert r.returncode == 0, r.stderr
    job = json.loads(r.stdout)["job"]
    r = h.run("dnf -y -q upgrade pd-regular", timeout=180)
    assert r.returncode == 0, r.stderr
    assert cli(db_path, "scan", h.name, "--json").returncode == 0
    found = json.loads(cli(db_path, "changes", h.name, "--json").stdout)
    assert found["history"]["status"] == "ok", found
    assert [(c["name"], c["from"], c["to"], c["authorized_by_job"]) for c in found["changes"]] == [
        ("pd-secfix", "1.0-1", "1.0-2", job),
        ("pd-regular", "2.0-1", "2.1-1", None),
    ]
