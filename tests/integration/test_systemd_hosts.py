"""Health checks and verification against a real systemd: a test host whose PID 1 is systemd.

One host (``HostCluster.start(1, systemd=True)``, tests/hosts/sdhost.py) started in the session's
cluster (so on ``PATCHDESK_TEST_SUBNET``, after the shared pool's addresses), reset before each test.
Its base has ``pd-service`` (recipe.SYSTEMD_DEBS): 1.0-1 runs a service, 1.0-2's daemon exits non-zero
at start, so a patch breaks a unit for real: failed units, a degraded system and an error in the
journal, and a rollback that restarts the good version. Few tests, as a systemd host boots slower.
"""

from __future__ import annotations

import shlex
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.domain.models import Host
from app.platforms.posix.health import probe_health
from app.transports.ssh import SshTransport
from tests.support import unavailable

pytestmark = pytest.mark.hosts


@pytest.fixture(scope="module")
def sd_pool(host_pool: Any) -> Iterator[Any]:
    from tests.hosts import HostsError
    from tests.hosts.sdhost import systemd_hosts_available

    ok, why = systemd_hosts_available()
    if not ok:
        unavailable(f"systemd test hosts unavailable: {why}")
    try:
        (h,) = host_pool.cluster.start(1, prefix="pdsd", systemd=True)
    except HostsError as exc:
        unavailable(f"a systemd test host did not start: {exc}")
    try:
        yield h
    finally:
        h.stop()


@pytest.fixture
def sd_host(sd_pool: Any) -> Any:
    sd_pool.reset()
    assert sd_pool.wait_running() == "running", sd_pool.run("systemctl --failed").stdout
    return sd_pool


def transport(h: Any, key: Path, user: str) -> SshTransport:
    host = Host(h.name, h.address, user=user, key_file=str(key))
    return SshTransport(host, trusted_keys=(), accept_new=True, look_for_keys=False, allow_agent=False)


def test_a_systemd_host_runs_sshd_and_pd_service_as_units(sd_host: Any, host_pool: Any) -> None:
    assert sd_host.check("cat /proc/1/comm").strip() == "systemd"
    # its own delegated cgroup: systemd has moved itself into init.scope there
    assert (sd_host.cgroup / "init.scope").is_dir() and (sd_host.cgroup / "system.slice").is_dir()
    assert sd_host.check("systemctl is-active ssh.service pd-service.service").split() == ["active"] * 2
    assert sd_host.installed_version("pd-service") == "1.0-1"
    # a clean boot: nothing failed, nothing in the error journal (the start-up probe included)
    assert sd_host.check("systemctl list-units --state=failed --no-legend --plain") == ""
    assert sd_host.check("journalctl -p err -q --no-pager") == ""
    with transport(sd_host, host_pool.client_key, "admin") as t:
        health = probe_health(t, ["pd-service"])
    assert health.system_state == "running" and health.failed_units == ()
    assert health.services == {"pd-service": "active"} and health.journal_errors == ()


def test_a_journal_the_user_cannot_read_is_not_available_never_no_errors(
    sd_host: Any, host_pool: Any
) -> None:
    """journalctl run by a user outside systemd-journal/adm opens no file, prints nothing with -q and
    exits 1: the health check read that as "no errors in the journal"."""
    sd_host.check("logger -p user.err 'pd-test: something broke'")
    with transport(sd_host, host_pool.client_key, "admin") as t:  # in systemd-journal
        seen = probe_health(t)
    assert seen.journal_errors is not None
    assert any("pd-test: something broke" in x for x in seen.journal_errors)
    with transport(sd_host, host_pool.client_key, "sudopw") as t:  # not: the journal is closed to it
        blind = probe_health(t)
    assert blind.journal_errors is None, blind
    assert blind.system_state == "running"  # systemctl itself answers any user (through dbus)
    # Once the user has a journal of its own (it logged something), journalctl opens that file, exits
    # 0 and shows the user's lines only: the system's errors are still hidden, so still not available.
    sudopw_logs = "su -s /bin/sh sudopw -c 'logger -p user.err pd-test: sudopw says'"
    sd_host.check(f"{sudopw_logs} && sleep 0.3 && test -e /var/log/journal/*/user-1001.journal")
    with transport(sd_host, host_pool.client_key, "sudopw") as t:
        blind = probe_health(t)
    assert blind.journal_errors is None, blind


def test_an_error_logged_earlier_in_the_same_second_is_not_new(sd_host: Any, host_pool: Any) -> None:
    """The journal window starts at the host's clock to the microsecond: an error logged before the
    start, in the same second, counted as new when the clock was read and passed in whole seconds (a
    rollback verified amber for the broken version's error, logged just before the rollback began)."""
    with transport(sd_host, host_pool.client_key, "admin") as t:
        for _ in range(5):
            # early in a second, so that the error and the clock read after it share that second
            while time.time() % 1 > 0.3:
                time.sleep(0.02)
            out = sd_host.check(
                "logger -p user.err 'pd-test: broke before the start'; sleep 0.3; date +%s.%N"
            )
            start = float(out.strip())
            errors = probe_health(t, journal_since=start - 5).journal_errors or ()
            if int(start) == int(time.time()) and any("broke before the start" in x for x in errors):
                break
        else:
            pytest.fail("could not log an error and read the clock within one second")
        assert int(start) != start  # the fraction is there to be lost
        seen = probe_health(t, journal_since=start)
    assert seen.journal_errors is not None
    assert not any("broke before the start" in x for x in seen.journal_errors), seen.journal_errors
    assert seen.now is not None and seen.now != int(seen.now)  # the host's clock comes with its fraction


def test_a_journalctl_that_cannot_parse_a_fraction_is_read_in_whole_seconds(
    sd_host: Any, host_pool: Any
) -> None:
    """Older journalctl builds refuse ``--since @<s>.<us>``: the journal is still read (from the whole
    second), never reported unavailable, and the journal the user cannot open stays unavailable."""
    real = sd_host.check("command -v journalctl").strip()
    wrapper = (
        "#!/bin/sh\n"
        'for a in "$@"; do case "$a" in @*.*) echo "Failed to parse timestamp: $a" >&2; exit 1;; esac; done\n'
        f'exec {real} "$@"\n'
    )
    sd_host.check(
        f"printf '%s' {shlex.quote(wrapper)} > /usr/local/bin/journalctl"
        " && chmod 755 /usr/local/bin/journalctl"
    )
    assert sd_host.check("command -v journalctl").strip() == "/usr/local/bin/journalctl"
    sd_host.check("logger -p user.err 'pd-test: after the start'")
    time.sleep(0.3)
    with transport(sd_host, host_pool.client_key, "admin") as t:
        seen = probe_health(t, journal_since=time.time() - 30.5)
        assert seen.journal_errors is not None
        assert any("after the start" in x for x in seen.journal_errors), seen.journal_errors
    with transport(sd_host, host_pool.client_key, "sudopw") as t:
        assert probe_health(t, journal_since=time.time() - 30.5).journal_errors is None


def test_patch_that_breaks_its_service_is_red_and_rollback_is_green_again(
    sd_host: Any, host_pool: Any, tmp_path: Path
) -> None:
    from tests.integration.test_patch_cli import by_name, run_json, scanned

    db_path = tmp_path / "pd.sqlite3"
    scanned(db_path, [sd_host], host_pool.client_key)
    # the host declares the service it runs (what `hosts edit --services` stores)
    con = sqlite3.connect(db_path)
    con.execute("UPDATE hosts SET services = ? WHERE name = ?", ['["pd-service"]', sd_host.name])
    con.commit()
    con.close()
    code, scan, err = run_json(db_path, "scan", sd_host.name)
    pending = {p["name"]: p for p in by_name(scan)[sd_host.name]["pending"]}
    assert pending["pd-service"]["available"] == "1.0-2", (err, pending)

    code, report, err = run_json(
        db_path, "patch", sd_host.name, "--packages", "pd-service", "--reboot", "never"
    )
    entry = by_name(report)[sd_host.name]
    assert [(c["name"], c["from"], c["to"]) for c in entry["changes"]] == [("pd-service", "1.0-1", "1.0-2")]
    verification = entry["verification"]
    reasons = " | ".join(verification["reasons"])
    assert verification["verdict"] == "red", verification
    assert "failed unit(s): pd-service.service" in reasons and "system state is degraded" in reasons
    assert "service pd-service is failed" in reasons
    assert "cannot read /etc/pd-service/listen.conf" in reasons  # the daemon's error, from the journal
    assert code == 1, (err, report)
    assert sd_host.check("systemctl is-failed pd-service.service").strip() == "failed"

    code, report, err = run_json(db_path, "rollback", sd_host.name)
    entry = by_name(report)[sd_host.name]
    assert code == 0, (err, report)
    assert [(c["name"], c["from"], c["to"]) for c in entry["restored"]] == [("pd-service", "1.0-2", "1.0-1")]
    assert sd_host.installed_version("pd-service") == "1.0-1"
    assert sd_host.check("systemctl is-active pd-service.service").strip() == "active"
    assert sd_host.check("systemctl is-system-running").strip() == "running"
    # The rollback's own checks are clean: versions, no failed unit, system running, the service
    # active; and the broken version's journal error from before the rollback began is not "new"
    # (the rollback reads the journal from its own start: it was amber for that error until then).
    verification = entry["verification"]
    assert verification["verdict"] == "green", verification
    assert "all 1 changed package(s) at the intended version" in verification["reasons"], verification


def test_a_reboot_is_systemctl_reboot_for_real_and_the_host_comes_back(
    sd_host: Any, host_pool: Any, tmp_path: Path
) -> None:
    """No stub: Patchdesk's restart runs `systemctl reboot` through sudo, systemd stops its units and
    reboots the host (tests/hosts/sdhost.py boots it again), /run/reboot-required is gone with /run."""
    from tests.integration.test_patch_cli import run_json, scanned

    db_path = tmp_path / "pd.sqlite3"
    scanned(db_path, [sd_host], host_pool.client_key)
    before = sd_host.reboots
    code, report, err = run_json(
        db_path,
        "patch",
        sd_host.name,
        "--packages",
        "pd-reboot",
        "--reboot",
        "if-needed",
        "--reboot-timeout",
        "60",
    )
    (entry,) = report["hosts"]
    assert code == 0, (err, entry)
    assert entry["rebooted"] is True and entry["reboot_required"] is False
    assert sd_host.reboots == before + 1
    # Green, or amber only for what the console's own polling caused: until systemd-user-sessions
    # removes /run/nologin late in boot, sshd refuses admin ("Access denied ... by PAM account
    # configuration", logged as an error) — as on a real server polled while it boots. Reported.
    verification = entry["verification"]
    if verification["verdict"] != "green":
        assert verification["verdict"] == "amber", verification
        errors = sd_host.check("journalctl -p err -q --no-pager -o cat").splitlines()
        assert errors and all("by PAM account configuration [preauth]" in e for e in errors), errors
        assert [r for r in verification["reasons"] if "error(s) in the journal" not in r] == [
            "all 1 changed package(s) at the intended version"
        ], verification
    assert sd_host.installed_version("pd-reboot") == "1.0-2"
    assert sd_host.run("test -e /run/reboot-required").returncode != 0
    assert sd_host.wait_running() == "running"
