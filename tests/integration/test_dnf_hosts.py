"""The dnf adapter against real dnf/rpm hosts (tests/hosts/rpmcluster.py) through the real SSH transport.

Two hosts on 127.0.20.x (``PATCHDESK_TEST_RPM_SUBNET`` picks another), started once for this module and
reset before each test. Everything here is real: sshd, sudo, dnf 4.14, rpm 4.18, the dnf history
database, dnf's RPMDB lock.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.domain.errors import AdapterError
from app.domain.models import Host, PackageChange, UpdateKind
from app.platforms.posix.dnf import DnfAdapter
from app.platforms.posix.facts import gather_facts
from app.platforms.registry import detect
from app.transports.ssh import SshTransport
from tests.support import unavailable

pytestmark = pytest.mark.hosts


class RpmPool:
    def __init__(self, cluster: object, hosts: list[object]) -> None:
        self.cluster = cluster
        self.hosts = hosts
        self.client_key: Path = cluster.client_key  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def rpm_pool() -> Iterator[RpmPool]:
    from tests.hosts import RpmHostCluster, hosts_available

    ok, reason = hosts_available()
    if not ok:
        unavailable(f"real test hosts unavailable: {reason}")
    cluster = RpmHostCluster(subnet=os.environ.get("PATCHDESK_TEST_RPM_SUBNET", "127.0.20"))
    try:
        yield RpmPool(cluster, cluster.start(2))
    finally:
        cluster.stop_all()


@pytest.fixture
def rpm_hosts(rpm_pool: RpmPool) -> list:  # type: ignore[type-arg]
    for h in rpm_pool.hosts:
        h.reset()  # type: ignore[attr-defined]
    return rpm_pool.hosts


def transport_for(pool: RpmPool, h) -> SshTransport:  # type: ignore[no-untyped-def]
    host = Host(h.name, h.address, user="admin", key_file=str(pool.client_key))
    return SshTransport(host, trusted_keys=(), accept_new=True, look_for_keys=False, allow_agent=False)


@pytest.fixture
def t1(rpm_pool: RpmPool, rpm_hosts: list) -> Iterator[SshTransport]:  # type: ignore[type-arg]
    t = transport_for(rpm_pool, rpm_hosts[0])
    yield t
    t.close()


def test_registry_detects_dnf_from_os_release(t1: SshTransport) -> None:
    facts, binaries = gather_facts(t1)
    assert facts.id == "rocky" and "apt-get" in binaries and "dnf" in binaries
    adapter = detect(facts, binaries, host="pdrpm01")
    assert isinstance(adapter, DnfAdapter)


def test_scan_finds_security_and_bugfix(rpm_pool: RpmPool, rpm_hosts: list) -> None:  # type: ignore[type-arg]
    for h in rpm_hosts:  # both hosts, each over its own transport
        with transport_for(rpm_pool, h) as t:
            pending = {u.name: u for u in DnfAdapter(h.name).scan(t)}
        sec = pending["pd-secfix"]
        assert (sec.installed, sec.available, sec.kind, sec.severity) == (
            "1.0-1",
            "1.0-2",
            UpdateKind.SECURITY,
            "Important",
        )
        assert sec.advisories == ("PDSA-2099:0001",) and sec.cves == ("CVE-2099-0001",)
        assert pending["pd-reboot"].severity == "Critical"
        assert pending["pd-regular"].kind == UpdateKind.BUGFIX and not pending["pd-regular"].security
        assert "pd-current" not in pending


def test_plan_lists_dependencies_together(t1: SshTransport) -> None:
    plan = DnfAdapter("pdrpm01").plan(t1, ["pd-chain"])
    assert {(c.name, c.from_version, c.to_version) for c in plan.changes} == {
        ("pd-chain", "1.0-1", "1.1-1"),
        ("pd-chain-lib", "1.0-1", "1.1-1"),
    }
    # planning changed nothing
    assert DnfAdapter("pdrpm01").snapshot(t1, ["pd-chain", "pd-chain-lib"]) == {
        "pd-chain": "1.0-1",
        "pd-chain-lib": "1.0-1",
    }


def test_install_then_rollback_by_history_undo(t1: SshTransport) -> None:
    adapter = DnfAdapter("pdrpm01")
    before = adapter.snapshot(t1, ["pd-secfix", "pd-nope"])
    assert before == {"pd-secfix": "1.0-1", "pd-nope": None}
    tid = adapter.install(t1, ["pd-secfix"])
    assert tid is not None and tid.isdigit()
    after = adapter.snapshot(t1, ["pd-secfix"])
    assert after == {"pd-secfix": "1.0-2"}
    assert "1.0-1" in adapter.available_versions(t1, ["pd-secfix"])["pd-secfix"]
    logs: list[tuple[str, str]] = []
    change = PackageChange("dnf", "pd-secfix", "1.0-1", "1.0-2", "noarch")
    adapter.rollback(t1, [change], transaction_id=tid, log=lambda *a: logs.append(a))
    assert any("Undoing dnf transaction" in text for _lvl, text in logs)
    assert adapter.snapshot(t1, ["pd-secfix"]) == {"pd-secfix": "1.0-1"}


def test_rollback_by_downgrade(t1: SshTransport) -> None:
    adapter = DnfAdapter("pdrpm01")
    adapter.install(t1, ["pd-chain"])
    assert adapter.snapshot(t1, ["pd-chain", "pd-chain-lib"]) == {
        "pd-chain": "1.1-1",
        "pd-chain-lib": "1.1-1",
    }
    changes = [
        PackageChange("dnf", "pd-chain", "1.0-1", "1.1-1", "noarch"),
        PackageChange("dnf", "pd-chain-lib", "1.0-1", "1.1-1", "noarch"),
    ]
    adapter.rollback(t1, changes)  # no transaction id: explicit downgrade of exact versions
    assert adapter.snapshot(t1, ["pd-chain", "pd-chain-lib"]) == {
        "pd-chain": "1.0-1",
        "pd-chain-lib": "1.0-1",
    }


def test_reboot_required_after_pd_reboot(t1: SshTransport) -> None:
    adapter = DnfAdapter("pdrpm01")
    assert adapter.reboot_required(t1) == (False, ())
    time.sleep(1.1)  # needs-restarting compares whole seconds: install strictly after "boot"
    adapter.install(t1, ["pd-reboot"])
    assert adapter.reboot_required(t1) == (True, ("pd-reboot",))


def test_held_lock_waits_then_fails_with_sentence(rpm_hosts: list, t1: SshTransport) -> None:  # type: ignore[type-arg]
    adapter = DnfAdapter("pdrpm01")
    adapter.snapshot(t1, ["pd-secfix"])  # connect first: the timing below is about the lock only
    with rpm_hosts[0].hold_rpm_lock() as pid:
        start = time.monotonic()
        with pytest.raises(AdapterError) as err:
            adapter.install(t1, ["pd-secfix"], lock_wait=5)
        took = time.monotonic() - start
    assert f"The package database on pdrpm01 is locked by another process (process {pid})" in str(err.value)
    assert 3 <= took < 5 + 10  # waited (retried) for lock_wait, then gave up; one dnf run ≈ 1 s
    assert adapter.snapshot(t1, ["pd-secfix"]) == {"pd-secfix": "1.0-1"}


def test_cli_patch_verify_rollback_on_dnf_hosts(rpm_pool: RpmPool, rpm_hosts: list, tmp_path: Path) -> None:  # type: ignore[type-arg]
    """The whole console path on dnf hosts: scan, patch the security update, verify, roll back."""
    import json

    from tests.integration.test_scan_cli import add_hosts, cli

    db_path = tmp_path / "pd.sqlite3"
    add_hosts(db_path, rpm_hosts, rpm_pool.client_key)
    scan = json.loads(cli(db_path, "scan", "--all", "--json").stdout)
    for entry in scan["hosts"]:
        pending = {p["name"]: p for p in entry["pending"]}
        assert entry["status"] == "ok" and entry["os"]["id"] == "rocky"
        assert pending["pd-secfix"]["manager"] == "dnf" and pending["pd-secfix"]["security"] is True
        assert pending["pd-secfix"]["classification"] == "important"
    r = cli(db_path, "patch", "--all", "--packages", "pd-secfix", "--reboot", "never", "--json")
    report = json.loads(r.stdout)
    assert r.returncode == 0, (r.stderr, report)
    for entry, h in zip(sorted(report["hosts"], key=lambda e: e["name"]), rpm_hosts, strict=True):
        assert [(c["name"], c["from"], c["to"]) for c in entry["changes"]] == [
            ("pd-secfix", "1.0-1", "1.0-2")
        ]
        assert entry["verification"]["verdict"] == "green", entry["verification"]
        assert h.installed_version("pd-secfix") == "1.0-2"
    r = cli(db_path, "rollback", "--all", "--json")
    report = json.loads(r.stdout)
    assert r.returncode == 0, (r.stderr, report)
    for h in rpm_hosts:
        assert h.installed_version("pd-secfix") == "1.0-1"
    # the change record kept dnf's transaction id, and dnf's history shows the downgrade
    import sqlite3

    con = sqlite3.connect(db_path)
    txids = [r[0] for r in con.execute("SELECT transaction_id FROM changes WHERE to_version = '1.0-2'")]
    con.close()
    assert len(txids) == 2 and all(t and t.isdigit() for t in txids), txids
    hist = rpm_hosts[0].run("dnf -q history list 2>/dev/null | head -3").stdout
    assert "Downgrade" in hist


# -- #17: the scan's evidence about dnf's metadata (index age, usable repositories) ---------------------

EXPECTED_RPM = {"pd-secfix", "pd-regular", "pd-chain", "pd-chain-lib", "pd-reboot"}
CACHE = "/var/cache/dnf"
PRIMARY = f"{CACHE}/*/repodata/*primary*"


def _age_cache(h, hours: float) -> None:  # type: ignore[no-untyped-def]
    h.check(f"touch -d '@{int(time.time() - hours * 3600)}' {CACHE}/*/repodata/*")


def _scan_entry(db_path: Path, *args: str):  # type: ignore[no-untyped-def]
    from tests.integration.test_scan_cli import scan_json

    code, report, err = scan_json(db_path, "--all", *args)
    (entry,) = report["hosts"]
    return code, entry, err


def _recent(iso: str | None) -> bool:
    from datetime import UTC, datetime, timedelta

    return iso is not None and datetime.now(UTC) - datetime.fromisoformat(iso) < timedelta(minutes=5)


def test_a_fresh_dnf_index_is_complete_and_dated(rpm_pool: RpmPool, rpm_hosts: list, tmp_path: Path) -> None:  # type: ignore[type-arg]
    from tests.integration.test_scan_cli import add_hosts

    h = rpm_hosts[0]
    h.check(f"touch {PRIMARY}")
    add_hosts(tmp_path / "pd.sqlite3", [h], rpm_pool.client_key, user="sudopw")  # no refresh possible
    code, entry, err = _scan_entry(tmp_path / "pd.sqlite3")
    assert code == 0 and entry["status"] == "ok", (err, entry)
    assert entry["complete"] is True and entry["notes"] == [] and _recent(entry["index_updated"])
    assert {p["name"] for p in entry["pending"]} == EXPECTED_RPM


def test_an_old_dnf_index_is_refreshed_by_the_scan(
    rpm_pool: RpmPool, rpm_hosts: list, tmp_path: Path
) -> None:  # type: ignore[type-arg]
    from tests.integration.test_scan_cli import add_hosts

    h = rpm_hosts[0]
    _age_cache(h, 48)
    add_hosts(tmp_path / "pd.sqlite3", [h], rpm_pool.client_key)  # admin: passwordless sudo
    code, entry, err = _scan_entry(tmp_path / "pd.sqlite3")
    assert code == 0 and entry["complete"] is True and _recent(entry["index_updated"]), (err, entry)
    assert {p["name"] for p in entry["pending"]} == EXPECTED_RPM
    # dnf's own cache was refreshed (its primary file touched), not a per-user copy
    assert int(h.check(f"stat -c %Y {PRIMARY}").split()[0]) > time.time() - 300


def test_an_old_dnf_index_without_sudo_or_with_no_refresh_is_incomplete(
    rpm_pool: RpmPool,
    rpm_hosts: list,  # type: ignore[type-arg]
    tmp_path: Path,
) -> None:
    from tests.integration.test_scan_cli import add_hosts

    h = rpm_hosts[0]
    _age_cache(h, 48)
    db_path = tmp_path / "pd.sqlite3"
    add_hosts(db_path, [h], rpm_pool.client_key, user="sudopw")  # sudo needs a password none gave
    _code, entry, err = _scan_entry(db_path)
    assert entry["status"] == "ok" and {p["name"] for p in entry["pending"]} == EXPECTED_RPM, (err, entry)
    assert entry["complete"] is False
    notes = " ".join(entry["notes"])
    assert "could not be refreshed" in notes and "more than the 24 h allowed" in notes, notes
    _code, entry, err = _scan_entry(db_path, "--no-refresh")
    assert entry["complete"] is False and any("more than the 24 h allowed" in n for n in entry["notes"])


def test_removed_dnf_metadata_is_fetched_again_never_ok_and_empty(
    rpm_pool: RpmPool,
    rpm_hosts: list,  # type: ignore[type-arg]
    tmp_path: Path,
) -> None:
    from tests.integration.test_scan_cli import add_hosts

    h = rpm_hosts[0]
    h.check(f"rm -rf {CACHE}/*")
    add_hosts(tmp_path / "pd.sqlite3", [h], rpm_pool.client_key, user="sudopw")
    _code, entry, err = _scan_entry(tmp_path / "pd.sqlite3", "--no-refresh")
    # the real pending list, read from metadata downloaded for this scan: current, so complete
    assert entry["status"] == "ok" and {p["name"] for p in entry["pending"]} == EXPECTED_RPM, (err, entry)
    assert entry["complete"] is True and _recent(entry["index_updated"])


def test_an_old_index_with_a_missing_repository_is_incomplete_with_dnfs_sentence(
    rpm_pool: RpmPool,
    rpm_hosts: list,  # type: ignore[type-arg]
    tmp_path: Path,
) -> None:
    from tests.integration.test_scan_cli import add_hosts, cli

    h = rpm_hosts[0]
    # a second repository that worked once (its metadata is cached) and is gone now
    h.check("cp -a /srv/rpmrepo /srv/gone-repo")
    h.check(
        "printf '[gone]\\nname=gone\\nbaseurl=file:///srv/gone-repo\\nenabled=1\\ngpgcheck=0\\n' "
        "> /etc/yum.repos.d/gone.repo"
    )
    h.check("dnf -q makecache && rm -rf /srv/gone-repo")
    _age_cache(h, 48)
    db_path = tmp_path / "pd.sqlite3"
    add_hosts(db_path, [h], rpm_pool.client_key)
    _code, entry, err = _scan_entry(db_path)
    # the old index's pending list is kept, and the scan says why it cannot vouch for it
    assert entry["status"] == "ok" and {p["name"] for p in entry["pending"]} == EXPECTED_RPM, (err, entry)
    assert entry["complete"] is False
    notes = " ".join(entry["notes"])
    assert "could not be refreshed" in notes and "Failed to download metadata for repo 'gone'" in notes, notes
    # unknown, never up to date, in the inventory
    import json

    listed = json.loads(cli(db_path, "hosts", "list", "--json").stdout)
    assert [x["compliance"] for x in listed["hosts"]] == ["unknown"], listed


def test_an_enabled_repository_that_cannot_be_read_fails_the_scan(
    rpm_pool: RpmPool,
    rpm_hosts: list,  # type: ignore[type-arg]
    tmp_path: Path,
) -> None:
    import json

    from tests.integration.test_scan_cli import add_hosts, cli

    h = rpm_hosts[0]
    h.check(
        "printf '[gone]\\nname=gone\\nbaseurl=file:///srv/no-such-repo\\nenabled=1\\ngpgcheck=0\\n' "
        "> /etc/yum.repos.d/gone.repo"
    )
    db_path = tmp_path / "pd.sqlite3"
    add_hosts(db_path, [h], rpm_pool.client_key)
    _code, entry, _err = _scan_entry(db_path)
    assert entry["status"] != "ok" and "'gone'" in (entry["error"] or ""), entry
    listed = json.loads(cli(db_path, "hosts", "list", "--json").stdout)
    assert [x["compliance"] for x in listed["hosts"]] == ["unknown"], listed
    # no enabled repository at all: dnf's own sentence, never "nothing pending"
    h.check("rm -f /etc/yum.repos.d/*.repo")
    _code, entry, _err = _scan_entry(db_path)
    assert entry["status"] != "ok" and "no enabled repositories" in (entry["error"] or ""), entry
    assert entry["pending"] == []


# -- #17: packages dnf holds back (versionlock, exclude=) are visible and never skipped silently -----


def test_versionlocked_and_excluded_packages_are_held_named_and_installed_only_when_asked(
    rpm_pool: RpmPool,
    rpm_hosts: list,  # type: ignore[type-arg]
    tmp_path: Path,
) -> None:
    from tests.integration.test_patch_cli import by_name, run_json, scanned

    h = rpm_hosts[0]
    h.check("dnf -q versionlock add pd-regular && echo 'exclude=pd-chain*' >> /etc/dnf/dnf.conf")
    h.check(f"touch {PRIMARY}")
    db_path = tmp_path / "pd.sqlite3"
    scanned(db_path, [h], rpm_pool.client_key)

    code, scan, err = run_json(db_path, "scan", h.name)
    assert code == 0, err
    entry = by_name(scan)[h.name]
    pending = {p["name"]: p for p in entry["pending"]}
    # dnf itself hides all three: they are listed, marked held, with why
    assert set(pending) == EXPECTED_RPM, pending
    assert pending["pd-regular"]["held"] is True and "versionlock" in pending["pd-regular"]["held_reason"]
    assert pending["pd-regular"]["available"] == "2.1-1" and pending["pd-regular"]["kind"] == "bugfix"
    assert pending["pd-chain"]["held"] is True and "exclude=" in pending["pd-chain"]["held_reason"]
    assert pending["pd-chain-lib"]["held"] is True
    assert pending["pd-secfix"]["held"] is False and pending["pd-secfix"]["security"] is True
    assert entry["complete"] is True, entry["notes"]

    code, plan, err = run_json(db_path, "patch", h.name, "--packages", "pd-regular,pd-secfix", "--dry-run")
    assert code == 0, err
    planned = by_name(plan)[h.name]
    assert planned["held"] == ["pd-regular"] and [c["name"] for c in planned["plan"]] == ["pd-secfix"]

    code, report, err = run_json(
        db_path, "patch", h.name, "--packages", "pd-regular,pd-secfix", "--reboot", "never", "--no-verify"
    )
    assert code == 0, (err, report)
    done = by_name(report)[h.name]
    assert done["held"] == ["pd-regular"] and [c["name"] for c in done["changes"]] == ["pd-secfix"]
    assert h.installed_version("pd-regular") == "2.0-1" and h.installed_version("pd-secfix") == "1.0-2"

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
    done = by_name(report)[h.name]
    assert done["held"] == [] and [c["name"] for c in done["changes"]] == ["pd-regular"]
    assert h.installed_version("pd-regular") == "2.1-1"
    # the lock itself is the administrator's: still there
    assert "pd-regular" in h.check("cat /etc/dnf/plugins/versionlock.list")
