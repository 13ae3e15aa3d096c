"""app/transports/ahead.py: TCP connections opened while a one-shot CLI job imports its machinery,
on real loopback sockets."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from app.domain.errors import PatchdeskError, UnreachableError
from app.transports import ahead
from app.transports.ahead import ConnectAhead


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    try:
        yield srv
    finally:
        srv.close()


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def test_a_socket_opened_ahead_is_claimed_once_connected_and_blocking(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    box = ConnectAhead()
    assert box.open([("127.0.0.1", port)]) == 1
    peer, _ = listener.accept()  # the server side exists before anyone claims it
    sock = box.claim("127.0.0.1", port, timeout=5)
    assert sock is not None and box.claimed == 1
    try:
        assert sock.gettimeout() == 5
        peer.sendall(b"SSH-2.0-test\r\n")
        assert sock.recv(100) == b"SSH-2.0-test\r\n"
    finally:
        sock.close()
        peer.close()
    assert box.claim("127.0.0.1", port, timeout=5) is None  # once


def test_names_are_never_resolved_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    """A name lookup could block the job's start: only numeric addresses are opened ahead."""
    box = ConnectAhead()
    assert box.open([("host.invalid", 22), ("bad name", 22)]) == 0
    assert box.claim("host.invalid", 22, timeout=1) is None


def test_a_refused_connection_reads_as_refused_from_the_dialer() -> None:
    """Whether the refusal comes at once (nothing opened) or on the claim, the dialer's sentence is
    the one for any refused connection."""
    from app.domain.models import Host
    from app.transports.base import Deadline
    from app.transports.ssh_connect import Dialer

    port = _closed_port()
    ahead.AHEAD.open([("127.0.0.1", port)])
    try:
        dialer = Dialer.for_host(
            Host("t1", "127.0.0.1", port=port, user="root"),
            trusted_keys=(),
            on_new_key=None,
            accept_new=False,
            known_hosts=None,
            password=None,
            key_passphrase=None,
            allow_agent=False,
            ssh_config=None,
            connect_timeout=2,
            banner_timeout=2,
            auth_timeout=2,
            look_for_keys=False,
        )

        def lost(exc: BaseException, doing: str) -> PatchdeskError:
            return PatchdeskError(f"{doing}: {exc}")

        with pytest.raises(UnreachableError, match="connection refused"):
            dialer.dial(dialer.target, via=None, jump=False, deadline=Deadline(10), lost=lost)
    finally:
        ahead.AHEAD.close()


def test_a_connection_that_never_completes_times_out_from_when_it_began() -> None:
    """A full accept queue drops the SYN (as a firewall would): the claim waits out the connect
    timeout counted from the opening, then raises TimeoutError, as socket.create_connection does."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    port = srv.getsockname()[1]
    fillers = []
    try:
        for _ in range(4):  # fill the accept queue (Linux keeps backlog + 1)
            f = socket.socket()
            f.setblocking(False)
            f.connect_ex(("127.0.0.1", port))
            fillers.append(f)
        time.sleep(0.1)
        box = ConnectAhead()
        assert box.open([("127.0.0.1", port)]) == 1
        t = time.monotonic()
        with pytest.raises(TimeoutError):
            box.claim("127.0.0.1", port, timeout=0.5)
        assert 0.3 < time.monotonic() - t < 2
    finally:
        for f in fillers:
            f.close()
        srv.close()


def test_an_old_socket_is_not_used(listener: socket.socket, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server may have given up waiting for our banner (LoginGraceTime): the dialer connects
    afresh."""
    monkeypatch.setattr(ahead, "MAX_AGE", 0.05)
    port = listener.getsockname()[1]
    box = ConnectAhead()
    box.open([("127.0.0.1", port)])
    time.sleep(0.1)
    assert box.claim("127.0.0.1", port, timeout=5) is None and box.claimed == 0


def test_what_nobody_claimed_is_closed(listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    box = ConnectAhead()
    box.open([("127.0.0.1", port), ("127.0.0.1", port)])
    peers = [listener.accept()[0] for _ in range(2)]
    box.close()
    try:
        for p in peers:
            p.settimeout(2)
            assert p.recv(10) == b""  # the client side is gone
    finally:
        for p in peers:
            p.close()
    assert box.claim("127.0.0.1", port, timeout=1) is None


def test_the_cli_opens_only_its_first_ssh_hosts_and_none_under_an_ssh_config(
    listener: socket.socket, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.cli.jobs import _connect_ahead
    from app.domain.models import Host, TransportKind

    port = listener.getsockname()[1]
    hosts = [
        Host("w1", "127.0.0.1", port=port, transport=TransportKind.WINRM),
        Host("s1", "127.0.0.1", port=port),
        Host("s2", "127.0.0.2", port=port),
        Host("s3", "127.0.0.1", port=port),  # beyond the concurrency: its worker starts later
    ]
    monkeypatch.setenv("HOME", str(tmp_path))
    try:
        _connect_ahead(hosts, 3)
        first = ahead.AHEAD.claim("127.0.0.1", port, timeout=5)
        assert first is not None
        first.close()
        assert ahead.AHEAD.claim("127.0.0.1", port, timeout=5) is None  # s1 only: w1 is WinRM, s3 waits
    finally:
        ahead.AHEAD.close()
    # ~/.ssh/config may send a host elsewhere (HostName, Port, ProxyJump): nothing is opened ahead
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "config").write_text("Host *\n  Port 2222\n")
    try:
        _connect_ahead(hosts, 3)
        assert ahead.AHEAD.claim("127.0.0.1", port, timeout=5) is None
    finally:
        ahead.AHEAD.close()
