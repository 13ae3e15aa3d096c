""" "Test connection" (app/services/connection.py) against real sshd test hosts and the loopback
WS-Management server: what it reports, and that it stores nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.domain.models import Host, TransportKind, WinRMOptions
from app.services.connection import check_connection
from tests.support.wsman_server import start_fake_windows

pytestmark = pytest.mark.hosts


def test_a_reachable_host_reports_os_managers_root_and_an_untrusted_key(hosts, host_pool) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    host = Host(name="new", address=h.address, user="admin", key_file=str(host_pool.client_key))
    check = check_connection(host)
    assert check.ok, check.summary
    text = "\n".join(check.details)
    assert "Debian" in text and "apt" in text and "sudo works" in text
    assert "seen for the first time, not trusted yet" in text


def test_a_typed_sudo_password_is_used_and_not_stored(hosts, host_pool) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    host = Host(name="new", address=h.address, user="sudopw", key_file=str(host_pool.client_key))
    without = check_connection(host)
    assert without.ok and "requires a password" in "\n".join(without.details)
    typed = check_connection(host, sudo_password="pd-sudo-pass-123")
    assert typed.ok and "sudo works" in "\n".join(typed.details)


def test_a_typed_login_password_is_used(hosts) -> None:  # type: ignore[no-untyped-def]
    h = hosts[0]
    host = Host(name="new", address=h.address, user="pwuser")
    assert not check_connection(host, timeout=10).ok
    ok = check_connection(host, login_password="pd-login-pass-456")
    assert ok.ok, ok.summary


def test_failures_are_a_sentence_not_an_exception(hosts, host_pool) -> None:  # type: ignore[no-untyped-def]
    # a loopback address where nothing listens: refused at once
    down = check_connection(Host(name="down", address="127.0.0.1", port=1), timeout=5)
    assert (not down.ok and "down" in down.summary) or "refused" in down.summary.lower()
    h = hosts[0]
    wrong = check_connection(Host(name="x", address=h.address, user="nosuchuser"), timeout=10)
    assert not wrong.ok and wrong.summary


def test_a_windows_host_over_winrm(tmp_path: Path) -> None:
    server, _fake = start_fake_windows(tls_dir=tmp_path / "pki", password="Passw0rd!")
    try:
        host = Host(
            name="win1",
            address="127.0.0.1",
            port=server.port,
            transport=TransportKind.WINRM,
            user="Administrator",
            winrm=WinRMOptions(auth="basic", ca_trust_path=str(server.ca_path)),
        )
        check = check_connection(host, login_password="Passw0rd!")
        assert check.ok, check.summary
        assert "Windows" in "\n".join(check.details)
        bad = check_connection(host, login_password="wrong")
        assert not bad.ok and bad.summary
    finally:
        server.stop()
