"""A console holding a thousand kept connections: descriptors numbered past select()'s 1024 limit.

Found by the 1,000-host fan-out benchmark (#25): with the connection pool holding 1,000 sockets, every
command whose channel got a descriptor >= 1024 failed with "filedescriptor out of range in select()",
reported as a lost connection.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

import pytest

from app.domain.models import Host, StepState
from app.jobs.runner import JobRunner
from db import hosts as db_hosts
from db.database import open_database

pytestmark = pytest.mark.hosts

HELD = 1100  # past FD_SETSIZE (1024), so the socket and the channel's pipe are numbered above it


def test_scan_with_descriptors_past_1024_is_not_a_lost_connection(hosts, host_pool, db_path: Path) -> None:  # type: ignore[no-untyped-def]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < HELD + 200:
        pytest.skip(f"the hard limit on open files is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, HELD + 200), hard))
    held: list[int] = []
    db = open_database(db_path)
    runner = JobRunner(db_path, keep_connections=0)
    try:
        held = [os.open(os.devnull, os.O_RDONLY) for _ in range(HELD)]
        host = hosts[0]
        model = db_hosts.add_host(
            db, Host(name=host.name, address=host.address, user="admin", key_file=str(host_pool.client_key))
        )
        handle = runner.start_scan(db, [model], accept_new_keys=True)
        assert handle.wait(120)
        outcome = handle.outcomes[model.id]  # type: ignore[index]
        assert outcome.state == StepState.SUCCEEDED, outcome.error
    finally:
        runner.close()
        db.conn.close()
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
