"""SSH connections kept between jobs (app/transports/pool.py), against real sshd on real test hosts.

Reuse is checked from outside: the kernel's table of established TCP connections shows whether the
second job ran on the first job's connection (same local port) or logged in again.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from pathlib import Path
from typing import Any

import paramiko
import pytest

from app.domain.errors import CommandTimeoutError
from app.domain.models import Host, HostKey, StepState
from app.jobs.runner import JobRunner
from app.transports.pool import ACTIVE_WAKE, IDLE_WAKE, ConnectionPool
from app.transports.ssh import SshTransport, join_closed_connections
from db import hosts as db_hosts
from db.database import open_database

pytestmark = pytest.mark.hosts


def _mine(address: str) -> list[int]:
    # only connections this process holds (other tests' sshd children are not ours)
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    want = f"{struct.unpack('<I', socket.inet_aton(address))[0]:08X}:{22:04X}"
    ports = []
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[2] == want and fields[3] == "01" and fields[9] in inodes:
                ports.append(int(fields[1].split(":")[1], 16))
    return sorted(ports)


def _live_connections() -> list[paramiko.Transport]:
    # a connection closed by an earlier step or test may still be ending its reader thread
    return [t for t in threading.enumerate() if isinstance(t, paramiko.Transport) and t.active]


@pytest.fixture
def setup(hosts, host_pool, db_path: Path):  # type: ignore[no-untyped-def]
    host = hosts[0]
    db = open_database(db_path)
    model = db_hosts.add_host(
        db, Host(name=host.name, address=host.address, user="admin", key_file=str(host_pool.client_key))
    )
    yield host, db, model, db_path
    db.conn.close()


def _scan(runner: JobRunner, db: Any, model: Host, **kw: Any) -> Any:
    handle = runner.start_scan(db, [model], **kw)
    assert handle.wait(120)
    runner.flush()
    return handle.outcomes[model.id]  # type: ignore[index]


def test_second_job_runs_on_the_first_jobs_connection_until_it_expires(setup) -> None:  # type: ignore[no-untyped-def]
    host, db, model, db_path = setup
    runner = JobRunner(db_path, keep_connections=3.0)
    try:
        first = _scan(runner, db, model, accept_new_keys=True)
        assert first.state == StepState.SUCCEEDED, first.error
        kept = _mine(host.address)
        assert len(kept) == 1  # the finished job's connection stays open, idle
        second = _scan(runner, db, model)
        assert second.state == StepState.SUCCEEDED, second.error
        assert _mine(host.address) == kept  # the same connection: no new login
        assert runner.pool.stats.reused == 1
        assert second.result.pending == first.result.pending
        # idle past its time: closed by the pool's reaper
        deadline = time.monotonic() + 10
        while _mine(host.address) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _mine(host.address) == []
        third = _scan(runner, db, model)
        assert third.state == StepState.SUCCEEDED, third.error
        assert _mine(host.address) not in ([], kept)  # a fresh login
    finally:
        runner.close()
    assert _mine(host.address) == []  # closing the runner closes what it kept
    # ... and waits for those connections' reader threads: a process exiting under them crashed
    assert [t for t in threading.enumerate() if isinstance(t, paramiko.Transport)] == []


def test_forgotten_host_key_is_never_bypassed_by_a_kept_connection(setup) -> None:  # type: ignore[no-untyped-def]
    host, db, model, db_path = setup
    runner = JobRunner(db_path)
    try:
        assert _scan(runner, db, model, accept_new_keys=True).state == StepState.SUCCEEDED
        assert len(_mine(host.address)) == 1
        db_hosts.forget_host_keys(db, model.id)  # type: ignore[arg-type]
        refused = _scan(runner, db, model)  # not accepting new keys: must ask, not reuse
        assert refused.state != StepState.SUCCEEDED
        assert "not known yet" in (refused.error or "")
        assert runner.pool.stats.reused == 0
        assert _mine(host.address) == []  # the kept connection was closed, not handed on
    finally:
        runner.close()


def test_changed_host_key_is_refused_at_the_next_login_after_the_kept_one(setup) -> None:  # type: ignore[no-untyped-def]
    host, db, model, db_path = setup
    runner = JobRunner(db_path)
    try:
        assert _scan(runner, db, model, accept_new_keys=True).state == StepState.SUCCEEDED
        kept = _mine(host.address)
        host.change_host_key()
        # still the verified server process: the kept connection goes on working
        assert _scan(runner, db, model).state == StepState.SUCCEEDED
        assert _mine(host.address) == kept
        runner.pool.clear()  # what expiry does after 60 s
        changed = _scan(runner, db, model)
        assert changed.state != StepState.SUCCEEDED
        assert "changed" in (changed.error or "") and "interception" in (changed.error or "")
    finally:
        runner.close()


def test_host_restarted_between_jobs_gets_a_fresh_login(setup) -> None:  # type: ignore[no-untyped-def]
    host, db, model, db_path = setup
    runner = JobRunner(db_path)
    try:
        assert _scan(runner, db, model, accept_new_keys=True).state == StepState.SUCCEEDED
        host.stop()
        host.start()
        again = _scan(runner, db, model)
        assert again.state == StepState.SUCCEEDED, again.error
    finally:
        runner.close()


def test_kept_connection_that_went_silent_costs_one_connect_timeout_not_the_command_budget(setup) -> None:  # type: ignore[no-untyped-def]
    host, db, model, db_path = setup
    runner = JobRunner(db_path, connect_timeout=2)
    try:
        assert _scan(runner, db, model, accept_new_keys=True).state == StepState.SUCCEEDED
        host.drop_packets()  # the kept connection still looks open, but nothing gets through
        t0 = time.monotonic()
        down = _scan(runner, db, model)
        assert time.monotonic() - t0 < 15  # kept connection (2 s) + a fresh connect (2 s), not 300 s
        assert down.state == StepState.FAILED or str(down.state) in ("unreachable", "failed")
        assert host.address in (down.error or "")
        host.restore_packets()
        back = _scan(runner, db, model)
        assert back.state == StepState.SUCCEEDED, back.error
    finally:
        host.restore_packets()
        runner.close()


def test_a_connection_whose_command_timed_out_is_not_kept(hosts, host_pool) -> None:  # type: ignore[no-untyped-def]
    host = hosts[0]
    pool = ConnectionPool(60)
    model = Host(id=1, name=host.name, address=host.address, user="admin", key_file=str(host_pool.client_key))

    t = SshTransport(model, accept_new=True, pool=pool, look_for_keys=False, allow_agent=False)
    with pytest.raises(CommandTimeoutError):
        t.run("sleep 30", timeout=1)
    t.close()
    assert len(pool) == 0 and _mine(host.address) == []
    # closed for good: its reader thread ends too (shortly after the socket, on a busy machine)
    assert join_closed_connections(10) == 0

    learned: list[HostKey] = []
    first = SshTransport(
        model,
        accept_new=True,
        pool=pool,
        look_for_keys=False,
        allow_agent=False,
        on_new_key=lambda kt, b64, fp: learned.append(HostKey(1, kt, b64, fp)),
    )
    assert first.run("echo one").out.strip() == "one"
    (conn,) = _live_connections()
    assert conn.sock.gettimeout() == ACTIVE_WAKE  # in use: its reader wakes once a second
    first.close()
    assert len(pool) == 1
    assert conn.sock.gettimeout() == IDLE_WAKE
    kept = _mine(host.address)
    # The next transport trusts the key the first one learned (what a job reads from the inventory).
    second = SshTransport(model, trusted_keys=learned, pool=pool, look_for_keys=False, allow_agent=False)
    assert second.run("echo two").out.strip() == "two"
    assert pool.stats.reused == 1 and _mine(host.address) == kept
    assert conn.sock.gettimeout() == ACTIVE_WAKE
    second.close()
    pool.close()
    assert _mine(host.address) == []


def test_kept_connection_sleeps_long_and_still_closes_at_once(setup) -> None:  # type: ignore[no-untyped-def]
    _host, db, model, db_path = setup
    runner = JobRunner(db_path)
    try:
        first = _scan(runner, db, model, accept_new_keys=True)
        assert first.state == StepState.SUCCEEDED, first.error
        (kept,) = _live_connections()
        # idle in the pool, its reader thread wakes every IDLE_WAKE s, not paramiko's 0.1 s
        assert kept.sock.gettimeout() == IDLE_WAKE
        second = _scan(runner, db, model)  # taken back for the job, and given back after it
        assert second.state == StepState.SUCCEEDED, second.error
        assert runner.pool.stats.reused == 1
        assert kept.sock.gettimeout() == IDLE_WAKE
    finally:
        t0 = time.monotonic()
        runner.close()
        took = time.monotonic() - t0
    # the reader thread, asleep in a recv of IDLE_WAKE seconds, was woken by the shutdown
    assert not kept.is_alive()
    assert took < IDLE_WAKE / 2
