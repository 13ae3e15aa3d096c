"""TCP connections opened ahead: a one-shot CLI job starts connecting to its first hosts before it
imports the machinery that talks SSH over them.

A ``patchdesk scan`` spends its first quarter second importing paramiko and the job machinery, while
the hosts wait. A non-blocking ``connect`` hands the TCP handshake to the kernel, so by the time a
worker dials, the host's sshd has accepted, started its session and sent its banner. Only what cannot
be wrong is opened ahead: a numeric address (no name lookup, which would block) with no SSH config to
redirect it (the dialer reads the config later, with paramiko), at most the job's concurrency. A
socket nobody claims is closed at the end of the job; a claim that fails raises what
``socket.create_connection`` would, so the dialer words the error as for any other connection.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import threading
import time
from collections.abc import Iterable

#: A socket opened longer ago than this is not used (sshd's LoginGraceTime is 120 s by default, and
#: may be set much lower): the first workers dial within a second of the job's start.
MAX_AGE = 10.0


class _Pending:
    __slots__ = ("sock", "started")

    def __init__(self, sock: socket.socket, started: float) -> None:
        self.sock = sock
        self.started = started


class ConnectAhead:
    """Sockets connecting in the background, claimed once each by (address, port)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, int], list[_Pending]] = {}
        self.claimed = 0  # sockets handed to the dialer (the bench's breakdown, the tests)

    def open(self, endpoints: Iterable[tuple[str, int]]) -> int:
        """Start connecting to each numeric ``(address, port)``; names are skipped. How many started.
        Not on Windows, whose non-blocking connect reports failures differently: there the dialer
        connects as it always does."""
        started = 0
        if not hasattr(select, "poll"):
            return 0
        for address, port in endpoints:
            try:
                infos = socket.getaddrinfo(
                    address, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST
                )
            except (socket.gaierror, UnicodeError, ValueError):
                continue  # a name: resolving it here could block, the dialer does it
            family, kind, proto, _, sockaddr = infos[0]
            sock = socket.socket(family, kind, proto)
            try:
                sock.setblocking(False)
                code = sock.connect_ex(sockaddr)
            except OSError:
                sock.close()
                continue
            if code not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
                sock.close()  # refused at once: the dialer connects again and says so
                continue
            with self._lock:
                self._pending.setdefault((address, port), []).append(_Pending(sock, time.monotonic()))
            started += 1
        return started

    def claim(self, address: str, port: int, timeout: float) -> socket.socket | None:
        """The socket opened ahead to ``(address, port)``, connected and blocking with ``timeout``;
        None when there is none. Waits for the connection at most ``timeout`` from when it began and
        raises TimeoutError or the connection's OSError (as ``socket.create_connection``)."""
        with self._lock:
            queue = self._pending.get((address, port))
            if not queue:
                return None
            pending = queue.pop(0)
        sock = pending.sock
        if time.monotonic() - pending.started > MAX_AGE:
            sock.close()  # the server may have given up waiting for our banner: connect afresh
            return None
        try:
            left = max(0.0, pending.started + timeout - time.monotonic())
            poller = select.poll()
            poller.register(sock, select.POLLOUT)
            if not poller.poll(left * 1000):
                raise TimeoutError(errno.ETIMEDOUT, "timed out")
            code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if code:
                raise OSError(code, os.strerror(code))  # ECONNREFUSED: ConnectionRefusedError
            sock.settimeout(timeout)
        except BaseException:
            sock.close()
            raise
        with self._lock:
            self.claimed += 1
        return sock

    def close(self) -> None:
        """Close every socket nobody claimed."""
        with self._lock:
            pending = [p for queue in self._pending.values() for p in queue]
            self._pending.clear()
        for p in pending:
            p.sock.close()


#: The process's connections opened ahead (the CLI opens them; the SSH dialer claims them).
AHEAD = ConnectAhead()
