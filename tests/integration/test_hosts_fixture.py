"""The real test hosts themselves (tests/hosts): sshd, users, sudo, the synthetic apt repo, faults, cleanup.

Uses the session's shared pool (tests/conftest.py: ``host_pool`` / ``hosts``, reset before each test) and,
for the lifecycle checks, a small cluster of its own on another loopback subnet.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.hosts

SSH_OPTS = [
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "BatchMode=yes",
    "-o",
    "LogLevel=ERROR",
]


def ssh(
    host,
    user: str,
    cmd: str,
    key: Path,
    *,
    connect_timeout: int = 10,
    timeout: float = 120,
    input: str | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "ssh",
            *SSH_OPTS,
            "-o",
            f"ConnectTimeout={connect_timeout}",
            "-i",
            str(key),
            "-p",
            str(host.port),
            f"{user}@{host.address}",
            cmd,
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
        input=input,
        stdin=None if input is not None else subprocess.DEVNULL,
    )


def _require_hosts() -> None:
    from tests.hosts import hosts_available

    ok, reason = hosts_available()
    if not ok:
        if os.environ.get("PATCHDESK_REQUIRE_HOSTS") == "1":
            pytest.fail(f"PATCHDESK_REQUIRE_HOSTS=1 but: {reason}", pytrace=False)
        pytest.skip(reason)


@pytest.fixture
def key(host_pool) -> Path:  # type: ignore[no-untyped-def]
    return host_pool.client_key


# -- identity, users, sudo ------------------------------------------------------------------------


def test_each_host_has_its_own_name_address_and_identity(hosts, host_pool, key: Path) -> None:  # type: ignore[no-untyped-def]
    machine_ids = set()
    for h in hosts:
        assert h.port == 22 and h.hostname == h.name
        assert h.address == f"{host_pool.cluster.subnet}.{int(h.name[-2:])}"
        r = ssh(
            h, "root", "hostname; cat /etc/machine-id; id -un; . /etc/os-release; echo $VERSION_CODENAME", key
        )
        assert r.returncode == 0, r.stderr
        name, mid, user, codename = r.stdout.split()
        assert (name, user, codename) == (h.name, "root", "bookworm")
        machine_ids.add(mid)
        assert h.run("hostname").stdout.strip() == h.name
        assert h.pid and h.upper_dir.is_dir()
    assert len(machine_ids) == len(hosts)


def test_sudo_rules_of_the_three_users(hosts, key: Path) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    r = ssh(h, "admin", "id -un; sudo -n true && echo SUDO-OK", key)
    assert r.returncode == 0 and r.stdout.split() == ["admin", "SUDO-OK"], r.stderr
    r = ssh(h, "sudopw", "sudo -n true", key)
    assert r.returncode != 0 and "password is required" in r.stderr
    r = ssh(h, "sudopw", "sudo -S -p '' id -u", key, input="pd-sudo-pass-123\n")
    assert r.returncode == 0 and r.stdout.strip() == "0", r.stderr
    r = ssh(h, "sudopw", "sudo -S -p '' id -u", key, input="wrong-password\n")
    assert r.returncode != 0


def test_password_login_only_for_pwuser(hosts) -> None:  # type: ignore[no-untyped-def]
    import paramiko

    h = hosts[0]
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        client.connect(
            h.address,
            port=h.port,
            username="pwuser",
            password="pd-login-pass-456",
            look_for_keys=False,
            allow_agent=False,
            timeout=10,
        )
        _, out, _ = client.exec_command("id -un", timeout=10)
        assert out.read().decode().strip() == "pwuser"
    finally:
        client.close()
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.AutoAddPolicy())
    try:
        with pytest.raises(paramiko.AuthenticationException):
            client.connect(
                h.address,
                port=h.port,
                username="admin",
                password="pd-login-pass-456",
                look_for_keys=False,
                allow_agent=False,
                timeout=10,
            )
    finally:
        client.close()


# -- the synthetic repository -----------------------------------------------------------------------


def test_initial_versions_and_pending_updates(hosts, key: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.hosts import SYNTHETIC_PACKAGES

    h = hosts[0]
    for name, spec in SYNTHETIC_PACKAGES.items():
        assert h.installed_version(name) == spec["installed"], name
    # no `apt-get update` first: the caches are pre-built, and only the local repo is configured
    r = ssh(h, "admin", "apt-get -s dist-upgrade", key)
    assert r.returncode == 0, r.stderr
    inst = {ln.split()[1]: ln for ln in r.stdout.splitlines() if ln.startswith("Inst ")}
    assert "[1.0-1] (1.0-2 Debian-Security:stable-security [all])" in inst["pd-secfix"]
    assert "[1.0-1] (1.0-2 Debian-Security:stable-security [all])" in inst["pd-reboot"]
    assert "[2.0-1] (2.1-1 Patchdesk-Test:stable-updates [all])" in inst["pd-regular"]
    assert "(1.0-1 Patchdesk-Test:stable-updates [all])" in inst["pd-chain-extra"]  # new package
    assert "pd-current" not in inst
    expected = {n for n, s in SYNTHETIC_PACKAGES.items() if s["updates"]}
    assert set(inst) == expected
    policy = h.run("apt-get indextargets --format '$(URI)'").stdout
    assert policy.strip() and all(line.startswith("file:/srv/repo/") for line in policy.split())
    log = h.run("zcat /usr/share/doc/pd-secfix/changelog.Debian.gz").stdout
    assert "pd-secfix (1.0-1) bookworm" in log


def test_install_changes_only_that_host_and_downgrade_works(hosts, key: Path) -> None:  # type: ignore[no-untyped-def]
    a, b = hosts[0], hosts[1]
    r = ssh(a, "admin", "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y pd-regular", key)
    assert r.returncode == 0, r.stderr
    assert a.installed_version("pd-regular") == "2.1-1"
    assert b.installed_version("pd-regular") == "2.0-1"
    r = ssh(
        a,
        "admin",
        "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --allow-downgrades pd-regular=2.0-1",
        key,
    )
    assert r.returncode == 0, r.stderr
    assert a.installed_version("pd-regular") == "2.0-1"


def test_security_upgrade_changelog_and_reboot_required(hosts, key: Path) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    r = ssh(
        h, "admin", "sudo DEBIAN_FRONTEND=noninteractive apt-get install -y pd-secfix pd-reboot pd-chain", key
    )
    assert r.returncode == 0, r.stderr
    assert h.installed_version("pd-secfix") == "1.0-2"
    assert h.installed_version("pd-chain") == "1.1-1"
    assert h.installed_version("pd-chain-lib") == "1.1-1"
    assert h.installed_version("pd-chain-extra") == "1.0-1"
    log = h.run("zcat /usr/share/doc/pd-secfix/changelog.Debian.gz").stdout
    assert "CVE-2099-0001" in log and "CVE-2099-0002" in log
    assert h.run("cat /run/reboot-required.pkgs").stdout.split() == ["pd-reboot"]
    assert h.run("test -f /run/reboot-required").returncode == 0
    # a "reboot": /run is a tmpfs, the installed packages stay, the uptime starts again
    h.stop()
    assert h.pid is None
    h.start()
    assert h.run("test -e /run/reboot-required").returncode != 0
    assert h.installed_version("pd-reboot") == "1.0-2"
    assert ssh(h, "admin", "true", key).returncode == 0


def test_changed_conffile_stops_a_noninteractive_upgrade(hosts) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    h.check("echo 'local = edit' >> /etc/pd-conf.conf")
    r = h.run("DEBIAN_FRONTEND=noninteractive apt-get install -y pd-conf </dev/null", timeout=60)
    assert r.returncode != 0 and "conffile" in (r.stdout + r.stderr).lower()
    r = h.run("DEBIAN_FRONTEND=noninteractive dpkg --configure -a --force-confold </dev/null", timeout=60)
    assert r.returncode == 0, r.stderr
    assert h.installed_version("pd-conf") == "1.0-2"
    assert "local = edit" in h.run("cat /etc/pd-conf.conf").stdout


# -- faults ---------------------------------------------------------------------------------------


def test_stopped_sshd_refuses_connections(hosts, key: Path) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    h.stop_sshd()
    r = ssh(h, "root", "true", key)
    assert r.returncode == 255 and "refused" in r.stderr.lower()
    assert ssh(hosts[1], "root", "true", key).returncode == 0
    h.start_sshd()
    assert ssh(h, "root", "true", key).returncode == 0


def test_dropped_packets_make_connects_hang(hosts, key: Path) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    h.drop_packets()
    try:
        t0 = time.monotonic()
        r = ssh(h, "root", "true", key, connect_timeout=2)
        took = time.monotonic() - t0
        assert r.returncode == 255 and "timed out" in r.stderr.lower()
        assert 1.5 < took < 10
        assert ssh(hosts[1], "root", "true", key).returncode == 0
    finally:
        h.restore_packets()
    assert ssh(h, "root", "true", key).returncode == 0


def test_frozen_sshd_accepts_tcp_but_sends_no_banner(hosts, key: Path) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    h.freeze_sshd()
    try:
        with socket.create_connection((h.address, h.port), timeout=3) as s:
            s.settimeout(1.0)
            with pytest.raises(socket.timeout):
                s.recv(64)
    finally:
        h.thaw_sshd()
    assert ssh(h, "root", "true", key).returncode == 0


def test_changed_host_key(hosts) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    before = h.host_key_fingerprint()
    assert before.startswith("SHA256:") and h.served_fingerprint() == before
    assert before != hosts[1].host_key_fingerprint()
    after = h.change_host_key()
    assert after != before and after.startswith("SHA256:")
    assert h.host_key_fingerprint() == after
    scan = subprocess.run(
        f"ssh-keyscan -t ed25519 {h.address} 2>/dev/null | ssh-keygen -lf -",
        shell=True,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert scan.stdout.split()[1] == after


def test_held_dpkg_lock(hosts) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    with h.hold_dpkg_lock() as pid:
        r = h.run("apt-get install -y -o DPkg::Lock::Timeout=0 pd-regular")
        assert r.returncode != 0 and f"held by process {pid}" in r.stderr
    r = h.run("DEBIAN_FRONTEND=noninteractive apt-get install -y pd-regular", timeout=60)
    assert r.returncode == 0, r.stderr


def test_reset_returns_to_the_initial_state(hosts, key: Path) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    fp = h.host_key_fingerprint()
    h.check("DEBIAN_FRONTEND=noninteractive apt-get install -y pd-regular && touch /root/marker", timeout=60)
    h.change_host_key()
    h.drop_packets()
    t0 = time.monotonic()
    h.reset()
    assert time.monotonic() - t0 < 3
    assert h.installed_version("pd-regular") == "2.0-1"
    assert h.run("test -e /root/marker").returncode != 0
    assert h.host_key_fingerprint() == fp
    assert ssh(h, "root", "true", key).returncode == 0


# -- lifecycle of a cluster of its own ---------------------------------------------------------------


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[object]:
    _require_hosts()
    from tests.hosts import HostCluster

    cluster = HostCluster(subnet="127.0.19")
    try:
        yield cluster
    finally:
        cluster.stop_all()


def test_numbering_continues_and_stop_all_leaves_nothing(own_cluster) -> None:  # type: ignore[no-untyped-def]
    cluster = own_cluster
    first = cluster.start(1, prefix="lc")
    more = cluster.start(2, prefix="lc")
    assert [h.name for h in first + more] == ["lc01", "lc02", "lc03"]
    assert [h.address for h in first + more] == ["127.0.19.1", "127.0.19.2", "127.0.19.3"]
    for h in first + more:
        r = ssh(h, "admin", "hostname", cluster.client_key)
        assert r.returncode == 0 and r.stdout.strip() == h.name, r.stderr
    more[0].drop_packets()
    pids = [h.pid for h in first + more]
    work = cluster.work_dir
    cluster.stop_all()
    cluster.stop_all()  # idempotent
    assert not work.exists()
    with open("/proc/self/mountinfo") as fh:
        assert str(work) not in fh.read()
    for pid in pids:
        assert (
            not Path(f"/proc/{pid}").exists()
            or b"PATCHDESK_TEST_HOST" not in Path(f"/proc/{pid}/environ").read_bytes()
        )
    marker = cluster._id.encode()
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                assert marker not in (p / "environ").read_bytes(), f"process {p.name} left behind"
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                pass
    for h in first + more:
        with pytest.raises(OSError):
            socket.create_connection((h.address, 22), timeout=2).close()
    tables = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, timeout=10).stdout
    assert cluster._id not in tables


def test_hosts_available_says_why() -> None:
    from tests.hosts import hosts_available

    ok, reason = hosts_available()
    assert isinstance(ok, bool) and isinstance(reason, str)
    assert ok == (reason == "")
