"""Reading the health snippet's answer: recorded from a real systemd 252 test host (tests/data/health/,
tests/hosts/sdhost.py) over SSH, before and after pd-service 1.0-2 broke its own service."""

from __future__ import annotations

from pathlib import Path

from app.domain.verdicts import Verdict, judge
from app.platforms.posix.health import health_command, parse_health

DATA = Path(__file__).resolve().parents[4] / "data" / "health"
NONCE = "5eed" * 8  # the nonce the recordings were made with


def recorded(name: str) -> str:
    return (DATA / name).read_text()


def test_a_running_system_with_active_services_and_no_journal_errors() -> None:
    h = parse_health(recorded("systemd_running_admin.txt"), NONCE)
    assert h.system_state == "running" and h.failed_units == ()
    assert h.services == {"pd-service": "active", "ssh": "active"}
    assert h.journal_errors == ()  # read, and empty: no error
    assert h.cpus == 2 and h.mem_total_kb == 24683784 and h.load1 == 4.76
    assert h.now is not None and h.boot_time is not None and 0 < h.now - h.boot_time < 10


def test_a_broken_service_is_a_failed_unit_a_degraded_system_and_a_journal_error() -> None:
    h = parse_health(recorded("systemd_degraded_admin.txt"), NONCE)
    assert h.system_state == "degraded" and h.failed_units == ("pd-service.service",)
    assert h.services == {"pd-service": "failed", "ssh": "active"}
    assert h.journal_errors is not None and len(h.journal_errors) == 1
    assert "pd-serviced 1.0-2: cannot read /etc/pd-service/listen.conf" in h.journal_errors[0]
    before = parse_health(recorded("systemd_running_admin.txt"), NONCE)
    v = judge(
        expected={},
        installed={},
        targeted_security=(),
        pending_after=(),
        security_before=(),
        health_before=before,
        health_after=h,
        services=("pd-service",),
    )
    assert v.verdict == Verdict.RED
    assert {
        "system state is degraded",
        "failed unit(s): pd-service.service",
        "service pd-service is failed",
    } <= set(v.reasons)


def test_a_journal_closed_to_the_user_is_not_available_never_no_errors() -> None:
    """As sudopw (not in adm/systemd-journal) journalctl -q prints nothing and exits 1: "n/a"."""
    h = parse_health(recorded("systemd_degraded_journal_closed.txt"), NONCE)
    assert h.journal_errors is None
    assert h.system_state == "degraded" and h.failed_units == ("pd-service.service",)


def test_a_journal_read_that_failed_part_way_is_not_available() -> None:
    """Lines and then the failure marker: what was read cannot vouch for the rest."""
    text = recorded("systemd_degraded_admin.txt").rstrip("\n") + "\nn/a\n"
    assert parse_health(text, NONCE).journal_errors is None


def test_the_journal_read_is_bounded_and_its_failure_is_reported() -> None:
    cmd = health_command(NONCE, ["pd-service"], journal_since=1796553000)
    assert '--since "$since" -n 50 2>/dev/null || echo n/a; else echo n/a; fi' in cmd
    # the system journal must open for this user first (a user journal alone shows only its own lines)
    assert "journalctl --system -q -n 0 --since @1796553000.000000 >/dev/null 2>&1; then since=" in cmd


def test_the_host_clock_keeps_its_fraction() -> None:
    from app.platforms.posix.health import host_clock

    assert host_clock("1796553000.250000000") == 1796553000.25
    assert host_clock("1796553000") == 1796553000.0
    # BusyBox builds without %N print it as it stands, or drop the %: the whole seconds still count
    assert host_clock("1796553000.%N") == 1796553000.0 and host_clock("1796553000.N") == 1796553000.0
    assert host_clock("") is None and host_clock("1796553000.1.2") is None and host_clock("soon") is None


def test_the_journal_window_starts_to_the_microsecond() -> None:
    """Whole seconds counted an error logged earlier in the start's second as new; journalctl gets
    the fraction, or whole seconds when it cannot parse one (it is asked first, with -n 0)."""
    cmd = health_command(NONCE, ["pd-service"], journal_since=1796553000.25)
    exact = "--since @1796553000.250000 >/dev/null 2>&1; then since=@1796553000.250000;"
    assert "journalctl --system -q -n 0 " + exact in cmd
    assert "elif journalctl --system -q -n 0 >/dev/null 2>&1; then since=@1796553000; fi" in cmd
    assert "date +%s.%N" in cmd
