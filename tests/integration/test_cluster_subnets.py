"""The test-host cluster across several /24s (the fan-out benchmark's 1,000 hosts), default unchanged."""

from __future__ import annotations

import os

import pytest

from tests.support import unavailable

pytestmark = pytest.mark.hosts


@pytest.fixture
def subnet() -> str:
    from tests.hosts import hosts_available

    ok, reason = hosts_available()
    if not ok:
        unavailable(f"real test hosts unavailable: {reason}")
    return os.environ.get("PATCHDESK_TEST_SUBNET", "127.0.10")


def test_one_subnet_by_default_holds_254_hosts(subnet: str) -> None:
    from tests.hosts import HostCluster, HostsError

    with HostCluster(subnet=subnet) as cluster:
        assert cluster.address_of(1) == f"{subnet}.1"
        assert cluster.address_of(254) == f"{subnet}.254"
        with pytest.raises(HostsError, match="at most 254"):
            cluster.start(255)
        assert cluster.hosts == []


def test_hosts_past_254_continue_in_the_next_subnet(subnet: str) -> None:
    from tests.hosts import HostCluster, HostsError

    head, _, third = subnet.rpartition(".")
    with HostCluster(subnet=subnet, subnets=2) as cluster:
        assert cluster.address_of(254) == f"{subnet}.254"
        assert cluster.address_of(255) == f"{head}.{int(third) + 1}.1"
        assert cluster.address_of(508) == f"{head}.{int(third) + 1}.254"
        with pytest.raises(HostsError, match="at most 508"):
            cluster.start(509)
        # one host in the second subnet, really reachable there
        cluster._next_index = 255
        (host,) = cluster.start(1)
        assert host.address == f"{head}.{int(third) + 1}.1"
        assert "pd-secfix" in host.check("dpkg-query -W pd-secfix")


def test_subnets_past_255_are_refused(subnet: str) -> None:
    from tests.hosts import HostCluster, HostsError

    with pytest.raises(HostsError, match="do not fit"):
        HostCluster(subnet="127.0.255", subnets=2)
