"""Idle SSH connections kept between jobs, like OpenSSH's ControlPersist.

A scan and the patch that follows it, or the console's periodic scans, would otherwise log in to every
host again: a TCP connection, a key exchange, a public-key signature, and on the host a new sshd
process. A finished job hands its healthy connections back here; the next job on the same host, as
the same user with the same keys, takes one instead of logging in again, for ``idle`` seconds (60 by
default, Ansible's ControlPersist default).

What is never reused:
* a connection whose job failed a command, was cancelled or ran out of time (the transport closes it);
* a connection whose host key is no longer trusted in the inventory (after "forget key");
* a connection the server has closed (checked when taken; a connection that dies silently is
  detected by its first command, which is then retried once on a fresh login before anything ran).

As with ControlPersist, a kept connection stays with the server process it logged in to: if the host's
key is replaced meanwhile, the change is seen (and refused) at the next fresh login, at the latest when
the connection expires. The kept connection itself cannot be intercepted -- it was verified against
the trusted key and is encrypted end to end.

Connections are closed when they expire (a reaper thread runs while any are idle) and when the
runner closes the pool.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

#: How long an idle connection is kept (seconds).
DEFAULT_IDLE = 60.0

#: How often a connection's reader thread wakes without traffic (its socket timeout), in use and idle.
#: paramiko's own 0.1 s would wake every kept connection's thread ten times a second only to see
#: whether it had been closed, each time taking the GIL from the GUI's main thread. Closing does not
#: depend on it (``Pooled.close`` shuts the socket down, which ends
#: the thread's wait at once); the timeout now only paces keepalives and rekeying.
ACTIVE_WAKE = 1.0
IDLE_WAKE = 5.0


def set_wake(transport: Any, seconds: float) -> None:
    """How long ``transport``'s reader thread may wait on an idle socket (after the handshake only:
    paramiko paces its banner timeout by the socket timeout)."""
    try:
        transport.sock.settimeout(seconds)
    except (AttributeError, OSError):  # a closed socket, or a test double
        pass


@dataclass
class Pooled:
    """One idle login: the target's transport and the jump-host transports it runs through."""

    client: Any  # paramiko.Transport
    jumps: Sequence[Any] = ()
    expires: float = 0.0
    label: str = ""

    def alive(self) -> bool:
        return bool(self.client.is_active()) and all(j.is_active() for j in self.jumps)

    def set_wake(self, seconds: float) -> None:
        for t in [self.client, *self.jumps]:
            set_wake(t, seconds)

    def close(self) -> None:
        for t in [self.client, *reversed(list(self.jumps))]:
            try:
                # Wake the reader thread now (it may sit in a recv of IDLE_WAKE seconds): it sees
                # end-of-file and ends; paramiko's close alone would leave it waiting.
                t.sock.shutdown(socket.SHUT_RDWR)
            except Exception as exc:  # already closed, or not a socket we can shut down
                logger.debug("shutting down a connection's socket: %s", exc)
            try:
                t.close()
            except Exception:  # closing is best effort
                logger.debug("closing a pooled connection failed", exc_info=True)


@dataclass
class PoolStats:
    given: int = 0
    reused: int = 0
    expired: int = 0


class ConnectionPool:
    """Thread-safe store of idle connections, at most one per key."""

    def __init__(self, idle: float = DEFAULT_IDLE, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.idle = idle
        self._clock = clock
        self._lock = threading.Lock()
        self._items: dict[Hashable, Pooled] = {}
        self._closed = False
        self._wake = threading.Event()
        self._reaper: threading.Thread | None = None
        self.stats = PoolStats()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def take(self, key: Hashable) -> Pooled | None:
        """The idle connection for ``key``, removed from the pool; None when there is none alive."""
        with self._lock:
            item = self._items.pop(key, None)
        if item is None:
            return None
        if self._clock() >= item.expires or not item.alive():
            item.close()
            return None
        item.set_wake(ACTIVE_WAKE)
        return item

    def count_reuse(self) -> None:
        """The taker used what it took (it may refuse it: a host key no longer trusted)."""
        with self._lock:
            self.stats.reused += 1

    def give(self, key: Hashable, item: Pooled) -> None:
        """Keep ``item`` for ``idle`` seconds (closes it at once if the pool is closed or disabled)."""
        if self.idle <= 0 or not item.alive():
            item.close()
            return
        item.expires = self._clock() + self.idle
        item.set_wake(IDLE_WAKE)
        with self._lock:
            if self._closed:
                old: Pooled | None = item
            else:
                old = self._items.pop(key, None)
                self._items[key] = item
                self.stats.given += 1
                self._start_reaper()
        if old is not None:
            old.close()

    def expire(self) -> float | None:
        """Close what has expired or died; seconds until the next expiry (None: the pool is empty)."""
        now = self._clock()
        with self._lock:
            gone = [k for k, v in self._items.items() if now >= v.expires or not v.client.is_active()]
            dropped = [self._items.pop(k) for k in gone]
            nxt = min((v.expires for v in self._items.values()), default=None)
        for item in dropped:
            self.stats.expired += 1
            item.close()
        return None if nxt is None else max(0.0, nxt - now)

    def clear(self) -> None:
        """Close every idle connection now; the pool stays usable."""
        with self._lock:
            items = list(self._items.values())
            self._items.clear()
        for item in items:
            item.close()

    def close(self) -> None:
        """Close every idle connection; later ``give`` calls close theirs at once."""
        with self._lock:
            self._closed = True
            items = list(self._items.values())
            self._items.clear()
        self._wake.set()
        for item in items:
            item.close()

    def _start_reaper(self) -> None:
        # called with the lock held
        if self._reaper is not None and self._reaper.is_alive():
            return
        self._reaper = threading.Thread(target=self._reap, name="ssh-pool-reaper", daemon=True)
        self._reaper.start()

    def _reap(self) -> None:
        while True:
            wait = self.expire()
            with self._lock:
                if self._closed or (wait is None and not self._items):
                    self._reaper = None
                    return
            self._wake.wait(min(wait if wait is not None else 1.0, 5.0) + 0.05)
