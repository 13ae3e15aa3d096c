"""Shared fixtures: isolated data/log dirs, the real test hosts, and a database per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import unavailable

# pytest-qt's session-scoped ``qapp`` is created before any function-scoped autouse fixture runs, so
# the platform must be chosen here, at import time: without a display the default plugin aborts.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch the user's real data, logs, keyring or ~/.ssh/config from a test."""
    base = tmp_path_factory.mktemp("env")
    monkeypatch.setenv("PATCHDESK_LOG_DIR", str(base / "logs"))
    monkeypatch.setenv("PATCHDESK_DB", str(base / "default.sqlite3"))
    monkeypatch.setenv("XDG_DATA_HOME", str(base / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(base / "config"))
    # Tests that need a keyring start a real Secret Service and set their own backend.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "patchdesk.sqlite3"


@pytest.fixture
def db(db_path: Path):  # type: ignore[no-untyped-def]
    from db.database import open_database

    database = open_database(db_path)
    yield database
    database.conn.close()


# -- real test hosts ---------------------------------------------------------------------------------

POOL_SIZE = 4


class HostPool:
    def __init__(self, cluster: object, hosts: list[object]) -> None:
        self.cluster = cluster
        self.hosts = hosts
        self.client_key: Path = cluster.client_key  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def host_pool() -> Iterator[HostPool]:
    """A few real Debian hosts (sshd + apt) started once per test session."""
    from tests.hosts import HostCluster, hosts_available

    ok, reason = hosts_available()
    if not ok:
        unavailable(f"real test hosts unavailable: {reason}")
    # Another run in the same machine (a second checkout, a benchmark) can pick its own subnet.
    cluster = HostCluster(subnet=os.environ.get("PATCHDESK_TEST_SUBNET", "127.0.10"))
    try:
        pool = cluster.start(POOL_SIZE)
        yield HostPool(cluster, pool)
    finally:
        cluster.stop_all()


@pytest.fixture
def hosts(host_pool: HostPool) -> Iterator[list[object]]:
    """The pool's hosts, each reset to its initial state (packages, keys, sshd) before the test."""
    pool = list(host_pool.hosts)
    for h in pool:
        h.reset()
    yield pool
    for h in pool:
        try:
            h.restore_packets()
        except Exception:
            pass
