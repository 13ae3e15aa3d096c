"""Real Debian test hosts for Patchdesk's integration tests and benchmarks (no pytest dependency).

    from tests.hosts import HostCluster
    with HostCluster() as cluster:
        hosts = cluster.start(3)          # pdhost01..03 on 127.0.10.1..3:22, real sshd + apt/dpkg
        hosts[0].run("apt-get -s dist-upgrade")

The rpm flavour (dnf/rpm hosts on 127.0.20.x): ``RpmHostCluster`` and ``SYNTHETIC_RPMS``.
Hosts with systemd as PID 1: ``cluster.start(n, systemd=True)`` and ``SYSTEMD_PACKAGES``.

See tests/hosts/README.md.
"""

from ._util import HostsError
from .cluster import HostCluster, TestHost, hosts_available, reap_stale_hosts
from .recipe import (
    ADMIN_USER,
    BASE_PACKAGES,
    PWUSER_PASSWORD,
    PWUSER_USER,
    SUDO_PASSWORD,
    SUDOPW_USER,
    SYNTHETIC_CVES,
    SYNTHETIC_PACKAGES,
    SYSTEMD_PACKAGES,
)
from .rpmcluster import RpmHostCluster, RpmTestHost
from .rpmrecipe import SYNTHETIC_ADVISORIES, SYNTHETIC_RPMS
from .sdhost import SystemdTestHost, systemd_hosts_available

__all__ = [
    "ADMIN_USER",
    "BASE_PACKAGES",
    "PWUSER_PASSWORD",
    "PWUSER_USER",
    "SUDOPW_USER",
    "SUDO_PASSWORD",
    "SYNTHETIC_ADVISORIES",
    "SYNTHETIC_CVES",
    "SYNTHETIC_PACKAGES",
    "SYNTHETIC_RPMS",
    "SYSTEMD_PACKAGES",
    "HostCluster",
    "HostsError",
    "RpmHostCluster",
    "RpmTestHost",
    "SystemdTestHost",
    "TestHost",
    "hosts_available",
    "reap_stale_hosts",
    "systemd_hosts_available",
]
