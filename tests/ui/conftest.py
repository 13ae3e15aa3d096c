"""UI test setup.

pytest-qt's ``qapp`` is session-scoped, so it is created before the function-scoped autouse fixture
in tests/conftest.py sets QT_QPA_PLATFORM; without a display the default platform plugin aborts the
process. Set offscreen here, before any QApplication exists.
"""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"


import pytest

#: UI tests run their own small cluster on a separate loopback subnet, so they never collide with a
#: cluster of the integration tests (same session, or another run in the same tree) on 127.0.10.x.
UI_SUBNET = os.environ.get("PATCHDESK_UI_SUBNET", "127.0.11")


@pytest.fixture(scope="session")
def host_pool():
    from tests.conftest import POOL_SIZE, HostPool
    from tests.hosts import HostCluster, hosts_available
    from tests.support import unavailable

    ok, reason = hosts_available()
    if not ok:
        unavailable(f"real test hosts unavailable: {reason}")
    cluster = HostCluster(subnet=UI_SUBNET)
    try:
        pool = cluster.start(POOL_SIZE)
        yield HostPool(cluster, pool)
    finally:
        cluster.stop_all()
