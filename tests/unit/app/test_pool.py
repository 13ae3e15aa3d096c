"""The connection pool's bookkeeping: expiry, one connection per key, closing (no network here; the
real connections are in tests/integration/test_connection_pool.py)."""

from __future__ import annotations

import time

from app.transports.pool import ConnectionPool, Pooled


class Conn:
    """Stands in for a paramiko.Transport: only liveness and close matter to the pool."""

    def __init__(self) -> None:
        self.active = True
        self.closed = 0

    def is_active(self) -> bool:
        return self.active

    def close(self) -> None:
        self.closed += 1
        self.active = False


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_taken_once_and_only_before_it_expires() -> None:
    clock = Clock()
    pool = ConnectionPool(60, clock=clock)
    a = Conn()
    pool.give("k", Pooled(a))
    item = pool.take("k")
    assert item is not None and item.client is a
    assert pool.take("k") is None  # taken: gone from the pool
    pool.give("k", Pooled(a))
    clock.now += 61
    assert pool.take("k") is None and a.closed == 1  # expired: closed, not handed out
    pool.close()


def test_one_per_key_dead_ones_dropped_and_close_closes_everything() -> None:
    clock = Clock()
    pool = ConnectionPool(60, clock=clock)
    a, b, c, jump = Conn(), Conn(), Conn(), Conn()
    pool.give("k", Pooled(a))
    pool.give("k", Pooled(b))  # a second idle login for the same key replaces (closes) the first
    assert a.closed == 1 and len(pool) == 1
    pool.give("other", Pooled(c, (jump,)))
    jump.active = False  # its jump host went away
    assert pool.take("other") is None and c.closed == 1
    pool.close()
    assert b.closed == 1 and len(pool) == 0
    d = Conn()
    pool.give("k", Pooled(d))  # after close: closed at once
    assert d.closed == 1 and len(pool) == 0


def test_disabled_pool_keeps_nothing_and_reaper_closes_idle_connections() -> None:
    off = ConnectionPool(0)
    a = Conn()
    off.give("k", Pooled(a))
    assert a.closed == 1 and len(off) == 0

    pool = ConnectionPool(0.2)  # real clock: the reaper thread closes it without any further call
    b = Conn()
    pool.give("k", Pooled(b))
    deadline = time.monotonic() + 5
    while not b.closed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert b.closed == 1 and len(pool) == 0 and pool.stats.expired == 1
    pool.close()
