"""The packaged build scans a real test host over SSH, as an offline site would run it.

"Offline" here means: a fresh HOME (no ~/.ssh/config, no known_hosts, no keyring, no caches), an
environment built from nothing (no proxy variables, no SSH agent, no D-Bus session, no display), and
proof that nothing but the test host was contacted: the bundle runs under ``strace``, and every
address any of its processes connected or sent to must be on loopback (where the test hosts live)
or a local socket. A network namespace would be the stronger jail, but the test hosts' sshd listen
in this machine's namespace, so the bundle must stay in it too.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.packaging.bundle import bundle_or_skip, clean_env, unexpected_stderr
from tests.support import unavailable

pytestmark = pytest.mark.hosts

_INET = re.compile(r'inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)"')


def remote_addresses(trace: Path) -> set[str]:
    """Every IPv4/IPv6 address in a ``strace -e trace=connect,sendto,sendmsg`` log."""
    found: set[str] = set()
    for line in trace.read_text(errors="replace").splitlines():
        for v4, v6 in _INET.findall(line):
            found.add(v4 or v6)
    return found


def run_bundle(exe: Path, env: dict[str, str], trace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=connect,sendto,sendmsg", "-o", str(trace), str(exe), *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=env["HOME"],
        stdin=subprocess.DEVNULL,
    )


def test_bundle_scans_a_real_host_offline_with_a_fresh_home(hosts, host_pool, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    exe = bundle_or_skip()
    if shutil.which("strace") is None:
        unavailable("strace is not installed (apt-get install strace)")
    host = hosts[0]
    home = tmp_path / "home"
    env = clean_env(home)
    # The administrator's key, carried in on the USB stick next to the bundle.
    key = home / "keys" / "patchdesk_admin"
    key.parent.mkdir(parents=True)
    shutil.copy(host_pool.client_key, key)
    key.chmod(0o600)
    db = home / "site.sqlite3"

    results: dict[str, Any] = {}
    traces = []
    for step, args in (
        ("add", ["hosts", "add", host.name, "--address", host.address, "--user", "admin", "--key", str(key)]),
        ("scan", ["scan", host.name, "--json"]),
    ):
        trace = tmp_path / f"{step}.strace"
        traces.append(trace)
        r = run_bundle(exe, env, trace, "--db", str(db), *args)
        assert r.returncode == 0, f"{step}: stdout:\n{r.stdout}\nstderr:\n{r.stderr}"
        assert unexpected_stderr(r.stderr) == [], f"{step}: unexpected stderr:\n{r.stderr}"
        results[step] = r

    report = json.loads(results["scan"].stdout)
    [entry] = report["hosts"]
    assert entry["name"] == host.name and entry["status"] == "ok", entry
    assert entry["os"]["id"] == "debian"
    pending = {p["name"]: p for p in entry["pending"]}
    assert "pd-secfix" in pending and pending["pd-secfix"]["security"] is True
    assert pending["pd-secfix"]["classification"] == "important"

    contacted = set().union(*(remote_addresses(t) for t in traces))
    assert host.address in contacted, "strace saw no connection to the test host: is the trace working?"
    off_box = sorted(a for a in contacted if not ipaddress.ip_address(a).is_loopback)
    assert off_box == [], f"the bundle contacted addresses off this machine: {off_box}"
    # everything it wrote is under the fresh HOME: the database given, logs under the platform dirs
    assert db.is_file()
    assert (home / ".local" / "state" / "patchdesk" / "log" / "patchdesk.log").is_file()
