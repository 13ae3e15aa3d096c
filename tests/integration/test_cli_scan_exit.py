"""Issue #25: a one-shot CLI scan keeps no SSH connection for a next job that cannot come, so each
host's connection closes as the host finishes and nothing is left to close (or wait for) at exit.
Real Debian test hosts, the CLI's own job runner."""

from __future__ import annotations

import threading
from pathlib import Path

import paramiko
import pytest

from tests.integration.test_scan_cli import add_hosts

pytestmark = pytest.mark.hosts


def test_cli_scan_keeps_no_connection_for_a_next_job(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    from app.cli import jobs
    from app.cli import main as cli
    from app.transports.ssh import join_closed_connections
    from db import hosts as db_hosts
    from db.database import open_database

    add_hosts(db_path, hosts[:2], host_pool.client_key)
    args = cli.parse(["--db", str(db_path), "scan", "--all"])
    runner = jobs._runner(args)
    db = open_database(db_path)
    try:
        handle = runner.start_scan(db, db_hosts.list_hosts(db), accept_new_keys=True)
        assert handle.wait(120)
        assert {str(o.state) for o in handle.outcomes.values()} == {"succeeded"}, handle.outcomes
        # before the runner is closed: nothing kept, every connection already closed
        assert runner.pool.stats.given == 0 and len(runner.pool) == 0
        assert join_closed_connections(timeout=5.0) == 0
        ours = {h.address for h in hosts[:2]}
        live = [t for t in threading.enumerate() if isinstance(t, paramiko.Transport) and _peer(t) in ours]
        assert live == [], live
    finally:
        runner.close()
        db.conn.close()


def _peer(t: paramiko.Transport) -> str | None:
    """The address a live transport is connected to (None once its socket is closed)."""
    try:
        return str(t.sock.getpeername()[0]) if t.is_alive() else None
    except OSError:
        return None
