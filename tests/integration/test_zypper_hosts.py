"""The zypper adapter against real zypper (Debian's zypper 1.14 / libzypp 17 in the rpm test hosts, made
openSUSE hosts by their os-release) through the real SSH transport and the CLI: scan, the index's age,
repository errors, locks, patching. One host on ``PATCHDESK_TEST_RPM_SUBNET`` (default 127.0.20.x),
started once for this module and reset before each test.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import unavailable

pytestmark = pytest.mark.hosts

PACKAGES = {"pd-secfix", "pd-regular", "pd-chain", "pd-chain-lib", "pd-reboot"}
RAW = "/var/cache/zypp/raw"


class ZypperPool:
    def __init__(self, cluster: Any, hosts: list[Any]) -> None:
        self.cluster = cluster
        self.hosts = hosts
        self.client_key: Path = cluster.client_key


@pytest.fixture(scope="module")
def zypper_pool() -> Iterator[ZypperPool]:
    from tests.hosts import RpmHostCluster, hosts_available

    ok, reason = hosts_available()
    if not ok:
        unavailable(f"real test hosts unavailable: {reason}")
    cluster = RpmHostCluster(subnet=os.environ.get("PATCHDESK_TEST_RPM_SUBNET", "127.0.20"))
    try:
        yield ZypperPool(cluster, cluster.start(1, prefix="pdzyp"))
    finally:
        cluster.stop_all()


@pytest.fixture
def zh(zypper_pool: ZypperPool) -> Any:
    """A fresh host that says it is openSUSE Leap, its zypper metadata just refreshed."""
    from tests.hosts.rpmrecipe import ZYPPER_OS_RELEASE

    h = zypper_pool.hosts[0]
    h.reset()
    h.check(
        f"cat > /usr/lib/os-release <<'EOF'\n{ZYPPER_OS_RELEASE}EOF\ncp /usr/lib/os-release /etc/os-release"
    )
    h.check(f"touch {RAW}/*/repodata {RAW}/*/repodata/repomd.xml")
    return h


def _age(h: Any, hours: float) -> None:
    h.check(f"touch -d '@{int(time.time() - hours * 3600)}' {RAW}/*/repodata {RAW}/*/repodata/*")


def _scan(db_path: Path, *args: str) -> dict[str, Any]:
    from tests.integration.test_scan_cli import scan_json

    _code, report, err = scan_json(db_path, "--all", *args)
    (entry,) = report["hosts"]
    entry["_stderr"] = err
    return entry


def _recent(iso: str | None) -> bool:
    from datetime import UTC, datetime, timedelta

    return iso is not None and datetime.now(UTC) - datetime.fromisoformat(iso) < timedelta(minutes=5)


def _add(db_path: Path, h: Any, pool: ZypperPool, user: str = "admin") -> None:
    from tests.integration.test_scan_cli import add_hosts

    add_hosts(db_path, [h], pool.client_key, user=user)


def test_a_fresh_zypper_scan_lists_packages_and_patches_complete(
    zh: Any, zypper_pool: ZypperPool, tmp_path: Path
) -> None:
    db_path = tmp_path / "pd.sqlite3"
    _add(db_path, zh, zypper_pool, user="sudopw")  # no refresh possible: the index must be fresh already
    entry = _scan(db_path)
    assert entry["status"] == "ok" and entry["os"]["id"] == "opensuse-leap", entry
    pending = {p["name"]: p for p in entry["pending"]}
    assert PACKAGES <= set(pending) and all(p["manager"] == "zypper" for p in pending.values())
    sec = pending["patch:PDSA-2099:0001"]
    assert sec["security"] is True and sec["kind"] == "security"
    assert "patch:PDEA-2099:0004" not in pending  # optional patches are not needed
    assert entry["complete"] is True and entry["notes"] == [] and _recent(entry["index_updated"]), entry


def test_an_old_zypper_index_is_refreshed_by_the_scan(
    zh: Any, zypper_pool: ZypperPool, tmp_path: Path
) -> None:
    _age(zh, 48)
    db_path = tmp_path / "pd.sqlite3"
    _add(db_path, zh, zypper_pool)  # admin: passwordless sudo
    entry = _scan(db_path)
    assert entry["status"] == "ok" and PACKAGES <= {p["name"] for p in entry["pending"]}, entry
    assert entry["complete"] is True and _recent(entry["index_updated"]), entry


def test_an_old_zypper_index_without_sudo_is_incomplete(
    zh: Any, zypper_pool: ZypperPool, tmp_path: Path
) -> None:
    _age(zh, 48)
    db_path = tmp_path / "pd.sqlite3"
    _add(db_path, zh, zypper_pool, user="sudopw")
    entry = _scan(db_path)
    assert entry["status"] == "ok" and PACKAGES <= {p["name"] for p in entry["pending"]}, entry
    notes = " ".join(entry["notes"])
    assert entry["complete"] is False and "could not be refreshed" in notes and "24 h allowed" in notes, notes


def test_removed_zypper_metadata_is_fetched_again_or_incomplete(
    zh: Any, zypper_pool: ZypperPool, tmp_path: Path
) -> None:
    zh.check("rm -rf /var/cache/zypp/raw/* /var/cache/zypp/solv/patchdesk-test")
    db_path = tmp_path / "pd.sqlite3"
    _add(db_path, zh, zypper_pool, user="sudopw")
    entry = _scan(db_path)
    # without root nothing can fetch it: never ok-and-complete, and the notes say why
    assert entry["pending"] == [] and entry["complete"] is False and entry["index_updated"] is None, entry
    notes = " ".join(entry["notes"])
    assert "No cached zypper metadata for the enabled repository 'patchdesk-test'" in notes, notes
    assert "zypper could not read every repository" in notes, notes
    # with sudo the scan refreshes it itself
    db2 = tmp_path / "pd2.sqlite3"
    _add(db2, zh, zypper_pool)
    entry = _scan(db2)
    assert entry["status"] == "ok" and PACKAGES <= {p["name"] for p in entry["pending"]}, entry
    assert entry["complete"] is True and _recent(entry["index_updated"]), entry


def test_an_old_index_with_a_missing_repository_is_unknown_with_zyppers_sentence(
    zh: Any, zypper_pool: ZypperPool, tmp_path: Path
) -> None:
    from tests.integration.test_scan_cli import cli

    zh.check("cp -a /srv/rpmrepo /srv/gone-repo")
    zh.check(
        "printf '[gone]\\nname=gone\\nenabled=1\\nautorefresh=0\\nbaseurl=file:///srv/gone-repo\\n"
        "type=rpm-md\\ngpgcheck=0\\n' > /etc/zypp/repos.d/gone.repo"
    )
    zh.check("zypper --non-interactive --quiet refresh && rm -rf /srv/gone-repo")
    _age(zh, 48)
    db_path = tmp_path / "pd.sqlite3"
    _add(db_path, zh, zypper_pool)
    entry = _scan(db_path)
    assert entry["status"] == "ok" and PACKAGES <= {p["name"] for p in entry["pending"]}, entry
    notes = " ".join(entry["notes"])
    assert entry["complete"] is False and "could not be refreshed" in notes and "gone" in notes, notes
    listed = json.loads(cli(db_path, "hosts", "list", "--json").stdout)
    assert [x["compliance"] for x in listed["hosts"]] == ["unknown"], listed


def test_a_locked_package_is_held_named_and_left_by_patch(
    zh: Any, zypper_pool: ZypperPool, tmp_path: Path
) -> None:
    from tests.integration.test_patch_cli import by_name, run_json

    zh.check("zypper --non-interactive --quiet addlock pd-regular")
    db_path = tmp_path / "pd.sqlite3"
    _add(db_path, zh, zypper_pool)
    entry = _scan(db_path)
    pending = {p["name"]: p for p in entry["pending"]}
    assert pending["pd-regular"]["held"] is True and "zypper lock" in pending["pd-regular"]["held_reason"]
    assert pending["pd-regular"]["available"] == "2.1-1"
    assert pending["pd-secfix"]["held"] is False
    assert entry["complete"] is True, entry["notes"]

    code, report, err = run_json(
        db_path, "patch", zh.name, "--packages", "pd-regular,pd-secfix", "--reboot", "never", "--no-verify"
    )
    assert code == 0, (err, report)
    done = by_name(report)[zh.name]
    assert done["held"] == ["pd-regular"] and [c["name"] for c in done["changes"]] == ["pd-secfix"]
    assert zh.installed_version("pd-regular") == "2.0-1" and zh.installed_version("pd-secfix") == "1.0-2"
    # --include-held cannot pass a zypper lock: said, not done quietly
    code, report, err = run_json(
        db_path,
        "patch",
        zh.name,
        "--packages",
        "pd-regular",
        "--include-held",
        "--reboot",
        "never",
        "--no-verify",
    )
    done = by_name(report)[zh.name]
    assert "removelock" in (done.get("error") or ""), done
    assert zh.installed_version("pd-regular") == "2.0-1"
