"""dnf scanned, patched and rolled back as a non-root user (``admin``, passwordless sudo) on a real rpm
test host: the console's path on most real RHEL-family servers, where root cannot log in.

What this guards: the rpm database is the system's (/var/lib/rpm: ``%_dbpath`` in /etc/rpm/, as on a
real RPM host; Debian's rpm would otherwise keep a private, empty database in ``~/.rpmdb`` per user),
the scan reads it without sudo, every change goes through sudo and lands in that database, and nothing
of the user's own is left behind. One host on ``PATCHDESK_TEST_RPM_SUBNET``, reset before each test.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import unavailable

pytestmark = pytest.mark.hosts

EXPECTED = {"pd-secfix", "pd-regular", "pd-chain", "pd-chain-lib", "pd-reboot"}


class Pool:
    def __init__(self, cluster: Any, hosts: list[Any]) -> None:
        self.cluster = cluster
        self.hosts = hosts
        self.client_key: Path = cluster.client_key


@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    from tests.hosts import RpmHostCluster, hosts_available

    ok, reason = hosts_available()
    if not ok:
        unavailable(f"real test hosts unavailable: {reason}")
    cluster = RpmHostCluster(subnet=os.environ.get("PATCHDESK_TEST_RPM_SUBNET", "127.0.20"))
    try:
        yield Pool(cluster, cluster.start(1, prefix="pdsudo"))
    finally:
        cluster.stop_all()


@pytest.fixture
def rh(pool: Pool) -> Any:
    h = pool.hosts[0]
    h.reset()
    h.check("touch /var/cache/dnf/*/repodata/*")  # a fresh index: the scan needs no refresh
    return h


def as_admin(h: Any, cmd: str) -> str:
    return h.check(f"su -s /bin/sh admin -c {json.dumps(cmd)}").strip()


def pending_of(report: dict[str, Any], name: str) -> dict[str, Any]:
    (entry,) = [e for e in report["hosts"] if e["name"] == name]
    assert entry["status"] == "ok", entry
    return {p["name"]: p for p in entry["pending"]}


def test_scan_patch_and_rollback_as_admin_through_sudo(pool: Pool, rh: Any, tmp_path: Path) -> None:
    from tests.integration.test_patch_cli import run_json
    from tests.integration.test_scan_cli import add_hosts

    # the user's rpm reads the one system database, without sudo
    assert as_admin(rh, "rpm --eval %_dbpath") == "/var/lib/rpm"
    assert as_admin(rh, "rpm -q --qf '%{VERSION}-%{RELEASE}' pd-secfix") == "1.0-1"
    db_path = tmp_path / "pd.sqlite3"
    add_hosts(db_path, [rh], pool.client_key, user="admin")

    code, scan, err = run_json(db_path, "scan", rh.name)
    assert code == 0, err
    pending = pending_of(scan, rh.name)
    assert set(pending) == EXPECTED and pending["pd-secfix"]["installed"] == "1.0-1"

    code, report, err = run_json(db_path, "patch", rh.name, "--packages", "pd-secfix", "--reboot", "never")
    assert code == 0, (err, report)
    (entry,) = report["hosts"]
    assert [(c["name"], c["from"], c["to"]) for c in entry["changes"]] == [("pd-secfix", "1.0-1", "1.0-2")]
    assert entry["verification"]["verdict"] == "green", entry["verification"]
    # installed as root (through sudo) into the system database, which the user sees at once
    assert rh.installed_version("pd-secfix") == "1.0-2"
    assert as_admin(rh, "rpm -q --qf '%{VERSION}-%{RELEASE}' pd-secfix") == "1.0-2"
    code, scan, err = run_json(db_path, "scan", rh.name)
    assert code == 0 and set(pending_of(scan, rh.name)) == EXPECTED - {"pd-secfix"}, err

    code, report, err = run_json(db_path, "rollback", rh.name)
    assert code == 0, (err, report)
    (entry,) = report["hosts"]
    assert [(c["name"], c["from"], c["to"]) for c in entry["restored"]] == [("pd-secfix", "1.0-2", "1.0-1")]
    assert entry["verification"]["verdict"] == "green", entry["verification"]
    assert rh.installed_version("pd-secfix") == "1.0-1"
    assert as_admin(rh, "rpm -q --qf '%{VERSION}-%{RELEASE}' pd-secfix") == "1.0-1"

    # nothing of the user's own: no private rpm database, and the system's still belongs to root
    assert rh.run("test -e /home/admin/.rpmdb").returncode != 0
    assert rh.check("find /var/lib/rpm /var/lib/dnf ! -user root | head -5") == ""
    # the transaction and its undo are in dnf's own history, where the administrator finds them
    hist = rh.check("dnf -q history list pd-secfix 2>/dev/null").splitlines()
    assert "Downgrade" in hist[2] and "Upgrade" in hist[3], hist  # newest first, under the header


def test_a_user_whose_rpm_sees_no_database_gets_no_nothing_pending(
    pool: Pool, rh: Any, tmp_path: Path
) -> None:
    """Without %_dbpath in /etc/rpm/ (Debian's rpm default: a private ~/.rpmdb per user), the user's
    rpm and dnf see no package installed and dnf check-update exits 0 — "nothing pending" on a host
    with five updates. The scan must not say so."""
    from tests.integration.test_patch_cli import run_json
    from tests.integration.test_scan_cli import add_hosts, cli

    rh.check("rm /etc/rpm/macros.dbpath")
    assert as_admin(rh, "rpm -qa") == ""
    db_path = tmp_path / "pd.sqlite3"
    add_hosts(db_path, [rh], pool.client_key, user="admin")
    _code, scan, _err = run_json(db_path, "scan", rh.name)
    (entry,) = scan["hosts"]
    assert entry["status"] != "ok" and entry["pending"] == [], entry
    assert "shows the login user no installed package at all" in (entry["error"] or ""), entry
    listed = json.loads(cli(db_path, "hosts", "list", "--json").stdout)
    assert [x["compliance"] for x in listed["hosts"]] == ["unknown"], listed
    # the system database is intact; only what rpm is told to read is wrong
    assert rh.check("rpm --dbpath /var/lib/rpm -q --qf '%{VERSION}-%{RELEASE}' pd-secfix") == "1.0-1"
