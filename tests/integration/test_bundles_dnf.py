"""Offline bundles on real dnf/rpm test hosts: a reference host that reaches the test repository, two
hosts whose repository points at a directory that does not exist (and whose dnf cache is gone, so they
truly see nothing). Request, create, verify, apply; then scan, patch and roll back from the bundle
alone, with /etc/yum.repos.d and /etc/dnf byte-identical at every step."""

from __future__ import annotations

import os
import tarfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from app.domain.rpmversion import compare_evr
from tests.integration.test_bundles import (
    flip_byte,
    keyring_env,
    pending_of,
    repack_with_changed_member,
    run,
    run_json,
)
from tests.integration.test_scan_cli import add_hosts
from tests.support import unavailable

__all__ = ["keyring_env"]  # the fixture, shared with the apt round trip

pytestmark = [
    pytest.mark.hosts,
    pytest.mark.filterwarnings(
        r"ignore:Exception ignored in. <socket\.socket .*/keyring/run/bus>"
        ":pytest.PytestUnraisableExceptionWarning"
    ),
]

#: every file, directory and link under /etc/yum.repos.d and /etc/dnf with its mode, size, mtime and
#: content hash
ETC_DNF_STATE = (
    "find /etc/yum.repos.d /etc/dnf -printf '%p %y %m %s %T@ %l\\n' | LC_ALL=C sort; "
    "find /etc/yum.repos.d /etc/dnf -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum"
)


class _Pool:
    def __init__(self, cluster: Any, hosts: list[Any]) -> None:
        self.cluster = cluster
        self.hosts = hosts
        self.client_key: Path = cluster.client_key


@pytest.fixture(scope="module")
def rpm_pool() -> Iterator[_Pool]:
    from tests.hosts import RpmHostCluster, hosts_available

    ok, reason = hosts_available()
    if not ok:
        unavailable(f"real test hosts unavailable: {reason}")
    cluster = RpmHostCluster(subnet=os.environ.get("PATCHDESK_TEST_RPM_SUBNET", "127.0.20"))
    try:
        yield _Pool(cluster, cluster.start(3, prefix="pdbrpm"))
    finally:
        cluster.stop_all()


@pytest.fixture
def rpm_hosts(rpm_pool: _Pool) -> list[Any]:
    for h in rpm_pool.hosts:
        h.reset()
    return rpm_pool.hosts


def make_offline(host: Any) -> None:
    """The repository points at a directory that does not exist; no metadata cache, no local repo."""
    host.check(
        "sed -i 's#^baseurl=.*#baseurl=file:///srv/nowhere#' /etc/yum.repos.d/*.repo; "
        "rm -rf /var/cache/dnf/* /srv/rpmrepo"
    )


def etc_dnf(host: Any) -> str:
    return str(host.check(ETC_DNF_STATE))


def expected_updates() -> dict[str, str]:
    from tests.hosts import SYNTHETIC_RPMS

    out = {}
    for name, spec in SYNTHETIC_RPMS.items():
        updates = list(spec["updates"])  # type: ignore[call-overload]
        if updates:
            best = updates[0]
            for v in updates[1:]:
                best = v if compare_evr(v, best) > 0 else best
            out[name] = best
    return out


def test_bundle_round_trip_offline_dnf_hosts(
    rpm_pool: _Pool, rpm_hosts: list[Any], db_path: Path, tmp_path: Path, keyring_env: dict[str, str]
) -> None:
    from tests.hosts import SYNTHETIC_RPMS

    ref, off = rpm_hosts[0], rpm_hosts[1:3]
    for h in off:
        make_offline(h)
    add_hosts(db_path, [ref, *off], rpm_pool.client_key)
    code, report, err = run_json(
        db_path, keyring_env, "scan", "--no-refresh", ref.name, *[h.name for h in off]
    )
    for h in off:  # offline: nothing to see, and the scan says it could not see
        entry = next(e for e in report["hosts"] if e["name"] == h.name)
        assert entry["status"] != "ok" and entry["pending"] == [], entry
    before = {h.name: etc_dnf(h) for h in off}

    def same_etc_dnf(step: str) -> None:
        for h in off:
            assert etc_dnf(h) == before[h.name], f"/etc/yum.repos.d or /etc/dnf of {h.name} changed at {step}"

    request = tmp_path / "request.json"
    r = run(db_path, keyring_env, "bundle", "request", *[h.name for h in off], "-o", str(request))
    assert r.returncode == 0, r.stderr
    same_etc_dnf("request")

    code, est, err = run_json(
        db_path,
        keyring_env,
        "bundle",
        "create",
        "--reference",
        ref.name,
        "--request",
        str(request),
        "--estimate",
    )
    assert code == 0 and est["estimate_bytes"] > 0, (est, err)

    bundle = tmp_path / "site.pdbundle"
    code, made, err = run_json(
        db_path,
        keyring_env,
        "bundle",
        "create",
        "--reference",
        ref.name,
        "--request",
        str(request),
        "-o",
        str(bundle),
    )
    assert code == 0, err
    expected = expected_updates()
    for entry in made["hosts"]:
        assert {u[0]: u[2] for u in entry["updates"]} == expected
    with tarfile.open(bundle, "r:gz") as tar:
        names = [m.name for m in tar.getmembers()]
    assert names[:2] == ["manifest.json", "manifest.sig"]
    for name, spec in SYNTHETIC_RPMS.items():  # the rollback versions travel too
        if spec["updates"] and spec["installed"]:
            assert any(n.endswith(f"/{name}-{spec['installed']}.noarch.rpm") for n in names), name
    assert any("updateinfo.xml" in n for n in names), names  # the advisories travel

    code, checked, err = run_json(db_path, keyring_env, "bundle", "verify", str(bundle))
    assert code == 0 and checked["ok"] and checked["id"] == made["id"], err
    made_at = checked["created"]

    # damaged bundles are refused by verify and by apply, naming what is wrong; nothing reaches a host
    flipped = tmp_path / "flipped.pdbundle"
    flip_byte(bundle, flipped, bundle.stat().st_size // 2)
    cut = tmp_path / "cut.pdbundle"
    cut.write_bytes(bundle.read_bytes()[: bundle.stat().st_size * 2 // 3])
    changed = tmp_path / "changed.pdbundle"
    member = repack_with_changed_member(bundle, changed, ".noarch.rpm")
    for bad in (flipped, cut, changed):
        for args in (("verify", str(bad)), ("apply", str(bad), "--all")):
            r = run(db_path, keyring_env, "bundle", *args)
            assert r.returncode != 0, (bad, args, r.stdout)
            assert "Traceback" not in r.stderr and "bundle" in r.stderr.lower(), r.stderr
    r = run(db_path, keyring_env, "bundle", "verify", str(changed))
    assert member in r.stderr and "SHA-256" in r.stderr, r.stderr
    for h in off:
        assert h.run("test -e /var/lib/patchdesk").returncode != 0
    same_etc_dnf("refused bundles")

    code, applied, err = run_json(db_path, keyring_env, "bundle", "apply", str(bundle), "--all")
    assert code == 0 and all(o["ok"] for o in applied["hosts"]), (applied, err)
    assert {o["name"] for o in applied["hosts"]} == {h.name for h in off}
    same_etc_dnf("apply")

    ref.drop_packets()  # from here on nothing reaches the connected side
    code, report, err = run_json(db_path, keyring_env, "scan", *[h.name for h in off])
    assert code == 0, (report, err)
    for h in off:
        assert pending_of(report, h.name) == expected
        entry = next(e for e in report["hosts"] if e["name"] == h.name)
        assert entry["complete"] is True and entry["notes"] == [], entry
        secfix = next(p for p in entry["pending"] if p["name"] == "pd-secfix")
        assert secfix["security"] is True and secfix["classification"] == "important", secfix
        # the index is as new as the bundle, not as the moment it was read (the margin: the scan reads
        # the host's clock and this machine's a few seconds apart on a loaded machine)
        built = datetime.fromisoformat(made_at)
        assert abs((datetime.fromisoformat(entry["index_updated"]) - built).total_seconds()) < 15, entry
    same_etc_dnf("scan")

    code, report, err = run_json(db_path, keyring_env, "patch", *[h.name for h in off], "--reboot", "never")
    assert code in (0, 1), err
    for h in off:
        entry = next(e for e in report["hosts"] if e["name"] == h.name)
        assert entry["status"] == "ok", entry
        for name, version in expected.items():
            assert h.installed_version(name) == version, name
    same_etc_dnf("patch")

    code, report, err = run_json(db_path, keyring_env, "rollback", *[h.name for h in off])
    assert code in (0, 1), (report, err)
    for h in off:
        for name, spec in SYNTHETIC_RPMS.items():
            assert h.installed_version(name) == spec["installed"], (h.name, name)
    same_etc_dnf("rollback")

    # a bundle built long ago: the scan still shows what it carries, and says its index is old
    stale = off[0]
    stale.check(  # as if three days had passed since the bundle was built and applied
        f"touch -d '3 days ago' /var/lib/patchdesk/bundles/{made['id']}/created "
        "/var/cache/dnf/pdbundle-*/repodata/*"
    )
    code, report, err = run_json(db_path, keyring_env, "scan", "--full", stale.name)
    entry = report["hosts"][0]
    assert pending_of(report, stale.name) == expected
    # the scan refreshed the index (the policy allows 24 hours), which reads the bundle again: still old
    assert entry["complete"] is False and entry["notes"], entry
    same_etc_dnf("stale scan")

    code, removed, err = run_json(db_path, keyring_env, "bundle", "remove", made["id"])
    assert code == 0 and all(o["ok"] for o in removed["hosts"]), removed
    for h in off:
        assert h.run(f"test -e /var/lib/patchdesk/bundles/{made['id']}").returncode != 0
        assert h.run("ls -d /var/cache/dnf/pdbundle-*").returncode != 0
    same_etc_dnf("remove")


def test_a_classification_bundle_keeps_the_security_updates_the_advisories_name(
    rpm_pool: _Pool, rpm_hosts: list[Any], db_path: Path, tmp_path: Path, keyring_env: dict[str, str]
) -> None:
    """Chosen by classification, the updates are classified with the reference repositories'
    advisories: without them every update read as a plain one and a security-only bundle was empty."""
    ref, off = rpm_hosts[0], rpm_hosts[1]
    make_offline(off)
    add_hosts(db_path, [ref, off], rpm_pool.client_key)
    run_json(db_path, keyring_env, "scan", "--no-refresh", ref.name, off.name)
    bundle = tmp_path / "security.pdbundle"
    code, made, err = run_json(
        db_path,
        keyring_env,
        "bundle",
        "create",
        "--reference",
        ref.name,
        "--hosts",
        off.name,
        "--classification",
        "urgent,important",
        "-o",
        str(bundle),
    )
    assert code == 0, err
    assert {u[0] for u in made["hosts"][0]["updates"]} == {"pd-secfix", "pd-reboot"}, made
    with tarfile.open(bundle, "r:gz") as tar:
        names = [m.name.rsplit("/", 1)[-1] for m in tar.getmembers()]
    assert not any(n.startswith("pd-regular-") for n in names), names
